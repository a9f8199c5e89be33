/**
 * An LSTM baseline with the RNN's interface, so clipping can be compared on both. Op-by-op tfjs
 * with tfjs autograd (first-order only). Gates in Keras order (input, forget, cell, output):
 *   z = u_t W_x + h_{t−1} W_h + b,  c_t = σ(z_f) c_{t−1} + σ(z_i) tanh(z_c),  h_t = σ(z_o) tanh(c_t).
 * Ω is defined for the plain RNN only (eq. 9-10 are written with W_rec diag(σ')).
 */
import * as tf from '@tensorflow/tfjs-core';
import { HEADS, headInput, headLoss, headOutputs } from './heads.js';
import type { Batch, Head } from './implementation.js';
import { assertSize, glorotUniform, orthogonal, type WeightData } from './init.js';
import {
  BaseRecurrentModel,
  type ForwardOptions,
  type ModelGradientRequest,
  type ModelGradientResult,
  makeVariables,
  type RecurrentModel,
  uniqueModelName,
} from './model.js';
import { Prng } from './prng.js';
import { validateBatch, validateInputs, validateState } from './validate.js';

export type LstmParamName = 'W_x' | 'W_h' | 'b' | 'W_out' | 'b_out';
export type LstmInitName = 'glorot' | 'orthogonal';

export interface CreateLstmOptions {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  /** default 'last-softmax' */
  head?: Head;
  /** 'orthogonal' (tf.layers.lstm's defaults: glorot W_x, orthogonal W_h; the default) or 'glorot' */
  init?: LstmInitName;
  /** forget-gate bias at initialisation; default 1 (tf.layers' unitForgetBias) */
  forgetBias?: number;
  seed?: number;
  carryState?: boolean;
  name?: string;
}

export interface LstmModelConfig {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  head: Head;
  init: LstmInitName;
  forgetBias: number;
  seed: number;
}

export interface LstmModel extends RecurrentModel<LstmParamName> {
  readonly kind: 'lstm';
  readonly config: Readonly<LstmModelConfig>;
}

type LstmParams = Record<LstmParamName, tf.Tensor>;

function lstmWeights(config: LstmModelConfig): Record<LstmParamName, WeightData> {
  const { inputSize: I, hiddenSize: H, outputSize: O } = config;
  const rng = new Prng(config.seed);
  const wx = glorotUniform(I, 4 * H, rng);
  const wh = config.init === 'orthogonal' ? orthogonal(H, 4 * H, rng) : glorotUniform(H, 4 * H, rng);
  const wOut = glorotUniform(H, O, rng);
  const b = new Float32Array(4 * H);
  b.fill(config.forgetBias, H, 2 * H);
  return {
    W_x: { shape: [I, 4 * H], values: Float32Array.from(wx) },
    W_h: { shape: [H, 4 * H], values: Float32Array.from(wh) },
    b: { shape: [4 * H], values: b },
    W_out: { shape: [H, O], values: Float32Array.from(wOut) },
    b_out: { shape: [O], values: new Float32Array(O) },
  };
}

/** h_1..h_T and c_T; `probe` ([T] tensors [B, H], zeros) is added to each h_t so its gradient is δ_t. */
function lstmRecurrence(
  p: LstmParams,
  inputs: tf.Tensor3D,
  h0: tf.Tensor2D,
  c0: tf.Tensor2D,
  probe?: tf.Tensor2D[],
): { hs: tf.Tensor2D[]; c: tf.Tensor2D } {
  const [B, T, I] = inputs.shape;
  const H = h0.shape[1];
  const timeMajor = tf.reshape(tf.transpose(inputs, [1, 0, 2]), [T * B, I]);
  const projected = tf.unstack(
    tf.reshape(tf.add(tf.matMul(timeMajor, p.W_x as tf.Tensor2D), p.b), [T, B, 4 * H]),
    0,
  );
  const hs: tf.Tensor2D[] = new Array(T);
  let h = h0;
  let c = c0;
  for (let t = 0; t < T; t++) {
    const z = tf.add(projected[t], tf.matMul(h, p.W_h as tf.Tensor2D));
    const [zi, zf, zc, zo] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zc)));
    h = tf.mul(tf.sigmoid(zo), tf.tanh(c));
    if (probe) h = tf.add(h, probe[t]);
    hs[t] = h;
  }
  return { hs, c };
}

/** Kernels whose tfjs gradients the LSTM's autodiff needs. */
const NEEDED_GRADIENTS = [
  'BatchMatMul',
  'Sigmoid',
  'Tanh',
  'Multiply',
  'Add',
  'Sum',
  'SplitV',
  'Softplus',
  'Pack',
  'Unpack',
];

/**
 * tfjs-core alone registers no gradients (the `@tensorflow/tfjs` and `@tensorflow/tfjs-layers`
 * bundles do); without them tf.grads fails deep inside with "gradient function not found".
 */
function assertGradientsRegistered(): void {
  const missing = NEEDED_GRADIENTS.filter((k) => tf.getGradient(k) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `the LSTM baseline trains with tfjs autodiff, but no gradient is registered for ${missing.join(', ')}: ` +
        "import '@tensorflow/tfjs' or '@tensorflow/tfjs-layers' once (they register tfjs-core's gradients)",
    );
  }
}

class Lstm extends BaseRecurrentModel<LstmParamName> implements LstmModel {
  readonly kind = 'lstm' as const;

  constructor(
    readonly config: Readonly<LstmModelConfig>,
    variables: Record<LstmParamName, tf.Variable>,
    carryState: boolean,
  ) {
    super(variables, carryState);
  }

  private initial(B: number, h0?: tf.Tensor2D, c0?: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
    const H = this.config.hiddenSize;
    if ((h0 === undefined) !== (c0 === undefined)) {
      throw new RangeError('an LSTM needs both h0 and c0, or neither');
    }
    const [h, c] = this.startStates(B, [h0, c0]);
    if (h !== undefined) validateState(h, B, H, 'h0');
    if (c !== undefined) validateState(c, B, H, 'c0');
    return [h ?? tf.zeros([B, H]), c ?? tf.zeros([B, H])];
  }

  forward(inputs: tf.Tensor3D, options: ForwardOptions = {}): { outputs: tf.Tensor; states: tf.Tensor3D } {
    this.assertUsable();
    validateInputs(inputs, this.config.inputSize);
    return tf.tidy(() => {
      const [h0, c0] = this.initial(inputs.shape[0], options.h0, options.c0);
      const { hs, c } = lstmRecurrence(this.variables, inputs, h0, c0);
      this.carry([hs[hs.length - 1], c]);
      const states = tf.stack(hs, 1) as tf.Tensor3D;
      const v = this.variables;
      return {
        outputs: headOutputs(this.config.head, headInput(this.config.head, states), v.W_out, v.b_out),
        states,
      };
    });
  }

  lossAndGradients(batch: Batch, request: ModelGradientRequest = {}): ModelGradientResult<LstmParamName> {
    this.assertUsable();
    if (request.omega) {
      throw new Error(
        'Ω (paper eq. 9-10) is defined for the plain RNN (it uses W_rec diag(σ′)); it does not apply to the LSTM',
      );
    }
    validateBatch(batch, this.config);
    assertGradientsRegistered();
    const result = tf.tidy(() => {
      const [B, T] = batch.inputs.shape;
      const H = this.config.hiddenSize;
      const [h0, c0] = this.initial(B, request.h0, request.c0);
      const names: LstmParamName[] = ['W_x', 'W_h', 'b', 'W_out', 'b_out'];
      const probe = request.keepDeltas ? tf.zeros([T, B, H]) : null;
      let last: { h: tf.Tensor2D; c: tf.Tensor2D; states: tf.Tensor3D | null } | null = null;
      const lossFn = (...xs: tf.Tensor[]): tf.Scalar => {
        const p = Object.fromEntries(names.map((n, i) => [n, xs[i]])) as LstmParams;
        const steps = probe ? (tf.unstack(xs[names.length], 0) as tf.Tensor2D[]) : undefined;
        const run = lstmRecurrence(p, batch.inputs, h0, c0, steps);
        const states = tf.stack(run.hs, 1) as tf.Tensor3D;
        // Gradient functions run in their own tidy: keep exactly what is returned below.
        last = {
          h: tf.keep(run.hs[T - 1]),
          c: tf.keep(run.c),
          states: request.keepStates ? tf.keep(states) : null,
        };
        return headLoss(
          this.config.head,
          headInput(this.config.head, states),
          p.W_out,
          p.b_out,
          batch.targets,
          batch.mask,
        );
      };
      const args: tf.Tensor[] = names.map((n) => this.variables[n]);
      if (probe) args.push(probe);
      const { value, grads } = tf.valueAndGrads(lossFn)(args);
      const kept = last as unknown as { h: tf.Tensor2D; c: tf.Tensor2D; states: tf.Tensor3D | null };
      // Kept tensors escape every enclosing tidy (a caller's too): hand out ordinary clones instead.
      const run = { h: kept.h.clone(), c: kept.c.clone(), states: kept.states?.clone() ?? null };
      tf.dispose([kept.h, kept.c, ...(kept.states ? [kept.states] : [])]);
      const out: ModelGradientResult<LstmParamName> = {
        loss: value,
        grads: Object.fromEntries(names.map((n, i) => [n, grads[i]])) as Record<LstmParamName, tf.Tensor>,
        lastState: run.h,
        lastCell: run.c,
      };
      // ∂loss/∂probe_t is the total derivative δ_t = ∂loss/∂h_t.
      if (probe) out.deltas = tf.transpose(grads[names.length], [1, 0, 2]) as tf.Tensor3D;
      if (run.states) out.states = run.states;
      return out as unknown as tf.TensorContainer;
    }) as unknown as ModelGradientResult<LstmParamName>;
    this.carry([result.lastState, result.lastCell!]);
    return result;
  }
}

/** Creates an LSTM with variables `W_x` [I, 4H], `W_h` [H, 4H], `b` [4H], `W_out` [H, O], `b_out` [O]. */
export function createLstm(options: CreateLstmOptions): LstmModel {
  if (options == null || typeof options !== 'object')
    throw new TypeError('createLstm needs an options object');
  assertSize(options.inputSize, 'inputSize');
  assertSize(options.hiddenSize, 'hiddenSize');
  assertSize(options.outputSize, 'outputSize');
  const head = options.head ?? 'last-softmax';
  if (!HEADS.includes(head)) {
    throw new RangeError(`unknown head ${JSON.stringify(head)}; expected one of ${HEADS.join(', ')}`);
  }
  const init = options.init ?? 'orthogonal';
  if (init !== 'orthogonal' && init !== 'glorot') {
    throw new RangeError(`unknown LSTM init ${JSON.stringify(init)}; expected 'orthogonal' or 'glorot'`);
  }
  const forgetBias = options.forgetBias ?? 1;
  if (!Number.isFinite(forgetBias))
    throw new RangeError(`forgetBias must be finite, got ${String(forgetBias)}`);
  const seed = options.seed ?? 52;
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${String(seed)}`);
  const config: LstmModelConfig = {
    inputSize: options.inputSize,
    hiddenSize: options.hiddenSize,
    outputSize: options.outputSize,
    head,
    init,
    forgetBias,
    seed,
  };
  const variables = makeVariables(uniqueModelName('lstm', options.name), lstmWeights(config));
  return new Lstm(Object.freeze(config), variables, options.carryState ?? false);
}
