/**
 * Initialisations (paper section 4.1.1; N(0, s) has standard deviation s; biases 0), plus the
 * tfjs/Keras-style `glorot` and `orthogonal` for comparison. Everything is drawn in float64 from
 * a seeded {@link Prng} and rounded to float32 once, so a seed gives the same bits everywhere.
 */
import { Matrix, QrDecomposition } from 'ml-matrix';
import type { ParamName } from './implementation.js';
import { Prng } from './prng.js';
import { spectralRadius } from './spectral.js';

export type InitName = 'sigmoid' | 'basic-tanh' | 'smart-tanh' | 'glorot' | 'orthogonal';
export const INIT_NAMES: readonly InitName[] = [
  'sigmoid',
  'basic-tanh',
  'smart-tanh',
  'glorot',
  'orthogonal',
];

/** One parameter as plain data: row-major float32 values and the tensor shape. */
export interface WeightData {
  shape: number[];
  values: Float32Array;
}

export interface RnnSizes {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
}

export interface SmartTanhOptions {
  /** non-zero incoming weights kept per unit (15 in the paper); capped at the hidden size */
  nonZeros?: number;
  /** spectral radius after rescaling (0.95 in the paper) */
  radius?: number;
}

/** rows × cols i.i.d. N(0, std), row-major. */
export function gaussian(rows: number, cols: number, std: number, rng: Prng): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal(std);
  return out;
}

/** Glorot/Xavier uniform: U(−l, l), l = √(6 / (fanIn + fanOut)) (tfjs `glorotUniform`). */
export function glorotUniform(rows: number, cols: number, rng: Prng): Float64Array {
  const limit = Math.sqrt(6 / (rows + cols));
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.uniform() - 1) * limit;
  return out;
}

/**
 * A random (semi-)orthogonal rows × cols matrix: QR of a Gaussian matrix with the signs of R's
 * diagonal folded into Q, so the result is Haar-distributed (as tfjs/Keras `orthogonal`, gain 1).
 */
export function orthogonal(rows: number, cols: number, rng: Prng): Float64Array {
  const tall = rows >= cols;
  const [r, c] = tall ? [rows, cols] : [cols, rows];
  const a = new Matrix(r, c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) a.set(i, j, rng.normal(1));
  const qr = new QrDecomposition(a);
  const q = qr.orthogonalMatrix;
  const rr = qr.upperTriangularMatrix;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      const v = q.get(i, j) * (rr.get(j, j) < 0 ? -1 : 1);
      if (tall) out[i * cols + j] = v;
      else out[j * cols + i] = v;
    }
  }
  return out;
}

/**
 * The paper's "smart" tanh W_rec (echo-state style): N(0, 0.01), then for each unit keep
 * `nonZeros` random incoming weights (column j of the row-convention W_rec feeds unit j) and zero
 * the rest, then rescale to spectral radius `radius`. The authors' code sparsifies rows of its
 * W_hh, i.e. outgoing weights in the same convention; we follow the paper's text ("incoming").
 */
export function smartTanhRecurrent(hidden: number, rng: Prng, options: SmartTanhOptions = {}): Float64Array {
  const nonZeros = Math.min(options.nonZeros ?? 15, hidden);
  const radius = options.radius ?? 0.95;
  const w = gaussian(hidden, hidden, 0.01, rng);
  for (let j = 0; j < hidden; j++) {
    const perm = rng.permutation(hidden);
    for (let k = nonZeros; k < hidden; k++) w[perm[k] * hidden + j] = 0;
  }
  // ρ of the float32-rounded matrix, so the stored weights hit the radius as exactly as float32 allows.
  const rho = spectralRadius({ values: Float32Array.from(w), shape: [hidden, hidden] });
  if (!(rho > 0) || !Number.isFinite(rho)) {
    throw new Error(`smart-tanh: the sparse W_rec has spectral radius ${rho}; cannot rescale to ${radius}`);
  }
  for (let i = 0; i < w.length; i++) w[i] = (Math.fround(w[i]) * radius) / rho;
  return w;
}

function data(values: Float64Array, shape: number[]): WeightData {
  return { shape, values: Float32Array.from(values) };
}

/** Checks that a size is a positive integer; `what` names it in the error. */
export function assertSize(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${String(value)}`);
  }
}

/**
 * The five RNN parameters for `init`, drawn from `seed` in the authors' order
 * (W_in, W_rec, W_out; biases 0).
 */
export function initialRnnWeights(
  init: InitName,
  sizes: RnnSizes,
  seed: number,
  smartTanh: SmartTanhOptions = {},
): Record<ParamName, WeightData> {
  const { inputSize: I, hiddenSize: H, outputSize: O } = sizes;
  assertSize(I, 'inputSize');
  assertSize(H, 'hiddenSize');
  assertSize(O, 'outputSize');
  const rng = new Prng(seed);
  let wIn: Float64Array;
  let wRec: Float64Array;
  let wOut: Float64Array;
  switch (init) {
    case 'sigmoid':
      wIn = gaussian(I, H, 0.01, rng);
      wRec = gaussian(H, H, 0.01, rng);
      wOut = gaussian(H, O, 0.01, rng);
      break;
    case 'basic-tanh':
      wIn = gaussian(I, H, 0.1, rng);
      wRec = gaussian(H, H, 0.1, rng);
      wOut = gaussian(H, O, 0.1, rng);
      break;
    case 'smart-tanh':
      wIn = gaussian(I, H, 0.01, rng);
      wRec = smartTanhRecurrent(H, rng, smartTanh);
      wOut = gaussian(H, O, 0.01, rng);
      break;
    case 'glorot':
      wIn = glorotUniform(I, H, rng);
      wRec = glorotUniform(H, H, rng);
      wOut = glorotUniform(H, O, rng);
      break;
    case 'orthogonal':
      // tf.layers.simpleRNN's defaults: glorot kernels, orthogonal recurrent kernel.
      wIn = glorotUniform(I, H, rng);
      wRec = orthogonal(H, H, rng);
      wOut = glorotUniform(H, O, rng);
      break;
    default:
      throw new RangeError(`unknown init ${JSON.stringify(init)}; expected one of ${INIT_NAMES.join(', ')}`);
  }
  return {
    W_in: data(wIn, [I, H]),
    W_rec: data(wRec, [H, H]),
    b: data(new Float64Array(H), [H]),
    W_out: data(wOut, [H, O]),
    b_out: data(new Float64Array(O), [O]),
  };
}
