/**
 * Deterministic synthetic batches and initial weights, as plain typed arrays, so that every
 * stack (cliffguard, tfjs-layers, PyTorch) and every backend starts from the same numbers.
 * Browser-safe.
 */
import type { BenchConfig } from './configs.js';

/** mulberry32: a small, fast, seedable PRNG; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws by Box-Muller. */
function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

export interface BatchData {
  /** float32 [B, T, I], row-major */
  inputs: Float32Array;
  inputShape: [number, number, number];
  /**
   * last-softmax: int32 [B]; softmax: int32 [B, T]; last-linear: float32 [B, O];
   * sigmoid: float32 {0, 1} [B, T, O]
   */
  targets: Int32Array | Float32Array;
  targetShape: number[];
}

/** One synthetic batch for `config`: random symbols / piano-roll frames and random targets. */
export function makeBatch(config: BenchConfig, seed: number): BatchData {
  const { batchSize: B, seqLen: T, inputSize: I, outputSize: O } = config;
  const rand = mulberry32(seed ^ 0x9e3779b9);
  const inputs = new Float32Array(B * T * I);
  for (let bt = 0; bt < B * T; bt++) {
    if (config.inputKind === 'one-hot') {
      inputs[bt * I + Math.floor(rand() * I)] = 1;
    } else {
      // piano roll: about 5 of 88 keys down per frame
      for (let i = 0; i < I; i++)
        inputs[bt * I + i] = config.inputKind === 'binary' ? +(rand() < 0.06) : rand();
    }
  }
  switch (config.head) {
    case 'last-softmax':
      return { inputs, inputShape: [B, T, I], targets: randomInts(B, O, rand), targetShape: [B] };
    case 'softmax':
      return { inputs, inputShape: [B, T, I], targets: randomInts(B * T, O, rand), targetShape: [B, T] };
    case 'last-linear':
      return {
        inputs,
        inputShape: [B, T, I],
        targets: Float32Array.from({ length: B * O }, rand),
        targetShape: [B, O],
      };
    case 'sigmoid':
      return {
        inputs,
        inputShape: [B, T, I],
        targets: Float32Array.from({ length: B * T * O }, () => +(rand() < 0.06)),
        targetShape: [B, T, O],
      };
  }
}

function randomInts(n: number, classes: number, rand: () => number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(rand() * classes));
}

/** Integer class targets as one-hot rows (for tfjs-layers' categorical cross-entropy). */
export function oneHot(targets: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(targets.length * classes);
  targets.forEach((c, i) => {
    out[i * classes + c] = 1;
  });
  return out;
}

/** The paper's RNN parameters (row-vector convention of @cliffguard/rnn) as plain arrays. */
export interface InitialWeights {
  W_in: Float32Array; // [I, H]
  W_rec: Float32Array; // [H, H]
  b: Float32Array; // [H]
  W_out: Float32Array; // [H, O]
  b_out: Float32Array; // [O]
}

/**
 * Paper section 4: 'basic tanh' (all N(0, 0.1)) for tanh units, 'sigmoid' (all N(0, 0.01)) for
 * sigmoid units; biases 0.
 */
export function initialWeights(config: BenchConfig, seed: number): InitialWeights {
  const { inputSize: I, hiddenSize: H, outputSize: O } = config;
  const std = config.activation === 'tanh' ? 0.1 : 0.01;
  const normal = gaussian(mulberry32(seed));
  const draw = (n: number) => Float32Array.from({ length: n }, () => std * normal());
  return {
    W_in: draw(I * H),
    W_rec: draw(H * H),
    b: new Float32Array(H),
    W_out: draw(H * O),
    b_out: new Float32Array(O),
  };
}
