/**
 * The fused sequence as tfjs kernels, so one training pass is one kernel call on a backend:
 *   CliffguardRnnForward: inference, outputs [head outputs, states]
 *   CliffguardRnnLoss:    training, outputs [loss, Ω, h_T, ∂W_in, ∂W_rec, ∂b, ∂W_out, ∂b_out,
 *                         ∂Ω/∂W_rec, ∂h_0, states, δ] (states and δ empty unless kept)
 * CliffguardRnnLoss's registered gradient scales the saved ∂θ by the incoming dy of the loss (and
 * ∂Ω/∂W_rec by the dy of Ω), so tf.grad / optimizer.minimize through the fused op compose with
 * other tfjs ops. States, δ and h_T are outputs without a gradient (treated as constants).
 */
import { RECORD_ROWS, SAFEGUARD_NORM, SAFEGUARD_SHRINK } from '@cliffguard/rnn';
import {
  add,
  type DataType,
  engine,
  type GradConfig,
  getGradient,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  matMul,
  mul,
  type NamedAttrMap,
  registerGradient,
  registerKernel,
  reshape,
  square,
  sub,
  type Tensor,
  type Tensor2D,
  type TensorInfo,
  tidy,
} from '@tensorflow/tfjs-core';
import {
  type Activation,
  type Head,
  isClassHead,
  type OmegaVariant,
  type SequenceEngine,
  type SequenceProblem,
  type TrainingProblem,
} from './problem.js';

export const RNN_FORWARD = 'CliffguardRnnForward';
export const RNN_LOSS = 'CliffguardRnnLoss';
export const RNN_ENSEMBLE_STEP = 'CliffguardRnnEnsembleStep';
/**
 * webgpu only: the loss pass of R stacked runs in one set of dispatches (the update then runs as
 * tfjs ops on the device). Inputs as CliffguardRnnEnsembleStep's, with `runs` [R, 2] = (Ω flags of
 * webgpuPrograms.ts, α); outputs loss [R], Ω [R] (NaN without Ω) and the five stacked gradients.
 */
export const RNN_ENSEMBLE_LOSS = 'CliffguardRnnEnsembleLoss';

/** Names of CliffguardRnnLoss's outputs, in order. */
export const LOSS_OUTPUTS = [
  'loss',
  'omega',
  'lastState',
  'W_in',
  'W_rec',
  'b',
  'W_out',
  'b_out',
  'omegaGrad',
  'h0',
  'states',
  'deltas',
] as const;

export interface ForwardAttrs {
  activation: Activation;
  head: Head;
}

export interface LossAttrs extends ForwardAttrs {
  /** 'none' or the Ω variant */
  omega: 'none' | OmegaVariant;
  /** α: with `combine`, ∂W_rec output = ∂loss/∂W_rec + α ∂Ω/∂W_rec (one product) and ∂Ω/∂W_rec is empty */
  omegaWeight: number;
  combine: boolean;
  keepSequences: boolean;
}

/** The backend calls a kernel needs: read an input synchronously, write an output. */
interface ArrayBackend {
  readSync(dataId: object): ArrayLike<number>;
  write(values: Float32Array, shape: number[], dtype: DataType): object;
  /** wasm backend: a view of the tensor in its heap (no copy) */
  typedArrayFromHeap?(t: TensorInfo): ArrayLike<number>;
}

function floats(backend: ArrayBackend, t: TensorInfo): Float32Array {
  const values = backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : backend.readSync(t.dataId);
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** Class targets as Int32Array; float32 targets must hold integers. */
function classes(backend: ArrayBackend, t: TensorInfo): Int32Array {
  const values = backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : backend.readSync(t.dataId);
  if (values instanceof Int32Array) return values;
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isInteger(values[i]))
      throw new RangeError(`class targets must be integers, got ${values[i]} at ${i}`);
    out[i] = values[i];
  }
  return out;
}

/**
 * The kernels' inputs by name (targets for CliffguardRnnLoss only). mask and h0 are always
 * present (so the gradient can save them); an empty tensor (size 0) means "none".
 */
export const LOSS_INPUTS = [
  'W_in',
  'W_rec',
  'b',
  'W_out',
  'b_out',
  'inputs',
  'targets',
  'mask',
  'h0',
] as const;
type SequenceInputs = Record<(typeof LOSS_INPUTS)[number], TensorInfo>;

const given = (t: TensorInfo | undefined): t is TensorInfo =>
  t !== undefined && t.shape.length > 0 && t.shape.every((d) => d > 0);

function readProblem(backend: ArrayBackend, inputs: SequenceInputs, attrs: ForwardAttrs): SequenceProblem {
  const u = inputs.inputs;
  const [batch, time, inputSize] = u.shape;
  const [hiddenSize, outputSize] = inputs.W_out.shape;
  return {
    batch,
    time,
    inputSize,
    hiddenSize,
    outputSize,
    activation: attrs.activation,
    head: attrs.head,
    weights: {
      W_in: floats(backend, inputs.W_in),
      W_rec: floats(backend, inputs.W_rec),
      b: floats(backend, inputs.b),
      W_out: floats(backend, inputs.W_out),
      b_out: floats(backend, inputs.b_out),
    },
    inputs: floats(backend, u),
    h0: given(inputs.h0) ? floats(backend, inputs.h0) : undefined,
  };
}

/**
 * Whether `write` copies the values (the wasm backend copies them into its heap; the cpu backend
 * keeps the array itself), so results may be views of an engine's memory.
 */
function copiesOnWrite(backend: ArrayBackend): boolean {
  return typeof backend.typedArrayFromHeap === 'function';
}

function output(backend: ArrayBackend, values: Float32Array, shape: number[]): TensorInfo {
  return { dataId: backend.write(values, shape, 'float32'), shape, dtype: 'float32' };
}

/** CliffguardRnnForward's kernel function over an engine. */
export function forwardKernel(engine: () => SequenceEngine): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as ArrayBackend;
    const p = readProblem(b, inputs as unknown as SequenceInputs, attrs as unknown as ForwardAttrs);
    const r = engine().forward(p, { views: copiesOnWrite(b) });
    const { batch: B, time: T, hiddenSize: H, outputSize: O } = p;
    const outShape = p.head === 'last-softmax' || p.head === 'last-linear' ? [B, O] : [B, T, O];
    return [output(b, r.outputs, outShape), output(b, r.states, [B, T, H])];
  };
}

/** CliffguardRnnLoss's kernel function over an engine. */
export function lossKernel(engine: () => SequenceEngine): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as ArrayBackend;
    const a = attrs as unknown as LossAttrs;
    const named = inputs as unknown as SequenceInputs;
    const p: TrainingProblem = {
      ...readProblem(b, named, a),
      targets: isClassHead(a.head) ? classes(b, named.targets) : floats(b, named.targets),
      mask: given(named.mask) ? floats(b, named.mask) : undefined,
      omega: a.omega === 'none' ? undefined : a.omega,
      omegaWeight: a.combine ? a.omegaWeight : undefined,
      keepSequences: a.keepSequences,
    };
    const r = engine().train(p, { views: copiesOnWrite(b) });
    const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O } = p;
    const seq = (x: Float32Array | undefined) =>
      x ? output(b, x, [B, T, H]) : output(b, new Float32Array(0), [0]);
    return [
      output(b, Float32Array.of(r.loss), []),
      output(b, Float32Array.of(r.omega), []),
      output(b, r.lastState, [B, H]),
      output(b, r.grads.W_in, [I, H]),
      output(b, r.grads.W_rec, [H, H]),
      output(b, r.grads.b, [H]),
      output(b, r.grads.W_out, [H, O]),
      output(b, r.grads.b_out, [O]),
      r.omegaGrad.length ? output(b, r.omegaGrad, [H, H]) : output(b, new Float32Array(0), [0]),
      output(b, r.h0Grad, [B, H]),
      seq(r.states),
      seq(r.deltas),
    ];
  };
}

const noGradient = (name: string) => () => {
  throw new Error(
    `${RNN_LOSS} has no gradient with respect to '${name}' (only the parameters, h0 and the inputs); ` +
      `compute '${name}' outside the function being differentiated`,
  );
};

/**
 * ∂loss/∂u_t = a_t W_inᵀ with a_t = δ_t ⊙ σ'(h_t): recomputed (one more fused pass keeping δ_t
 * and h_t) only when a gradient with respect to the inputs is asked for, e.g. an embedding.
 */
function inputGradient(saved: Tensor[], attrs: LossAttrs): Tensor {
  return tidy(() => {
    const named = Object.fromEntries(LOSS_INPUTS.map((n, i) => [n, saved[i]]));
    const again: LossAttrs = { ...attrs, omega: 'none', combine: false, keepSequences: true };
    const outs = engine().runKernel(RNN_LOSS, named, again as unknown as NamedAttrMap) as Tensor[];
    const states = outs[LOSS_OUTPUTS.indexOf('states')];
    const deltas = outs[LOSS_OUTPUTS.indexOf('deltas')];
    const slope = attrs.activation === 'tanh' ? sub(1, square(states)) : mul(states, sub(1, states));
    const [B, T, I] = named.inputs.shape as [number, number, number];
    const H = states.shape[2] as number;
    const a = reshape(mul(deltas, slope), [B * T, H]);
    return reshape(matMul(a, named.W_in as Tensor2D, false, true), [B, T, I]);
  });
}

/**
 * ∂θ = dy_loss · (saved ∂loss/∂θ), plus dy_Ω · ∂Ω/∂W_rec for W_rec (first order: δ_t and h_t
 * are constants of Ω, eq. 9-10, so Ω has no gradient with respect to the inputs either).
 */
export const lossGradient: GradConfig = {
  kernelName: RNN_LOSS,
  inputsToSave: [...LOSS_INPUTS],
  outputsToSave: LOSS_OUTPUTS.map((n) =>
    ['W_in', 'W_rec', 'b', 'W_out', 'b_out', 'omegaGrad', 'h0'].includes(n),
  ),
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs?: NamedAttrMap) => {
    const [dyLoss, dyOmega] = dy as Tensor[];
    const [gWin, gWrec, gb, gWout, gbout, gOmega, gh0] = saved.slice(LOSS_INPUTS.length);
    const a = attrs as unknown as LossAttrs;
    return {
      W_in: () => mul(dyLoss, gWin),
      W_rec: () => {
        const g = mul(dyLoss, gWrec);
        return a.omega !== 'none' && !a.combine ? add(g, mul(dyOmega, gOmega)) : g;
      },
      b: () => mul(dyLoss, gb),
      W_out: () => mul(dyLoss, gWout),
      b_out: () => mul(dyLoss, gbout),
      h0: () => mul(dyLoss, gh0),
      inputs: () => mul(dyLoss, inputGradient(saved, a)),
      targets: noGradient('targets'),
      mask: noGradient('mask'),
    };
  },
};

/**
 * Columns of CliffguardRnnEnsembleStep's `runs` input [R, 5], one row per run: α (Ω's weight),
 * the clip threshold (+Inf: no clip, plain SGD), the SGD learning rate, the safeguard (1 on) and
 * Ω (0 none, 1 'paper', 2 'code').
 */
export const ENSEMBLE_RUN_COLUMNS = ['alpha', 'maxNorm', 'learningRate', 'safeguard', 'omega'] as const;

/**
 * Rows of CliffguardRnnEnsembleStep's statistics [6, R]: @cliffguard/rnn's RECORD_ROWS, so the
 * kernel's record is the ensemble's record as it is.
 */
export const ENSEMBLE_STATS = RECORD_ROWS;

const OMEGA_CODES: readonly (OmegaVariant | undefined)[] = [undefined, 'paper', 'code'];

/** The authors' safeguard's constants, from their one home in @cliffguard/rnn. */
export { SAFEGUARD_NORM, SAFEGUARD_SHRINK };

/**
 * One SGD update of each run r's parameters θ_r with gradient g_r (Ω included), as trainStep with
 * withGradientClipping(sgd): norm = ‖g‖ over all parameters (before clipping); a run with a clip
 * skips a non-finite step and scales by maxNorm / norm above it; θ ← θ − lr·g. The safeguard (a
 * non-finite or huge norm) replaces that step by the unclipped shrink step g_W_rec = 0.02·W_rec. Writes the new parameters into `next`, returns [norm, clipped, skipped, safeguarded].
 */
function sgdUpdate(
  theta: Record<string, Float32Array>,
  g: Record<string, Float32Array>,
  next: Record<string, Float32Array>,
  lr: number,
  maxNorm: number,
  safeguard: boolean,
): [number, number, number, number] {
  const keys = Object.keys(theta);
  const norm = Math.sqrt(sumOfSquares(keys.map((k) => g[k])));
  let grads = g;
  let safeguarded = 0;
  if (safeguard && (!Number.isFinite(norm) || norm > SAFEGUARD_NORM)) {
    safeguarded = 1;
    grads = Object.fromEntries(
      keys.map((k) => [
        k,
        k === 'W_rec'
          ? theta[k].map((w) => Math.fround(w * SAFEGUARD_SHRINK))
          : new Float32Array(theta[k].length),
      ]),
    );
  }
  // The authors' order: the shrink step replaces the clipped step, so it is never clipped or skipped.
  const withClip = Number.isFinite(maxNorm) && !safeguarded;
  const skipped = withClip && !Number.isFinite(norm) ? 1 : 0;
  const clipped = withClip && !skipped && norm > maxNorm ? 1 : 0;
  const scale = clipped ? Math.fround(maxNorm / norm) : 1;
  for (const k of keys) {
    if (skipped) next[k].set(theta[k]);
    else sgdStep(theta[k], grads[k], next[k], Math.fround(-lr), scale);
  }
  return [norm, clipped, skipped, safeguarded];
}

/** Σ x² over several arrays, in float64 (plain typed-array loops: V8 keeps them monomorphic). */
function sumOfSquares(arrays: readonly Float32Array[]): number {
  let s = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      s += v * v;
    }
  }
  return s;
}

/** out = t + step·(d·scale) in tf.train.sgd's float32 arithmetic (each product rounded). */
function sgdStep(t: Float32Array, d: Float32Array, out: Float32Array, step: number, scale: number): void {
  if (scale === 1) {
    for (let i = 0; i < t.length; i++) out[i] = Math.fround(step * d[i]) + t[i];
  } else {
    for (let i = 0; i < t.length; i++) out[i] = Math.fround(step * Math.fround(d[i] * scale)) + t[i];
  }
}

/**
 * CliffguardRnnEnsembleStep: one training update of R independent runs of one shape in one call.
 * Inputs are stacked on a leading R axis (W_in [R, I, H], …, inputs [R, B, T, I], targets [R, …],
 * mask [R, B, T] or empty) plus `runs` [R, 5] (ENSEMBLE_RUN_COLUMNS: each run's α, clip
 * threshold, learning rate, safeguard and Ω variant). Outputs: the five updated parameter tensors,
 * stacked, and the statistics [6, R] (ENSEMBLE_STATS; Ω's value NaN for a run without Ω). No
 * registered gradient: an update is not differentiated.
 */
export function ensembleStepKernel(engine: () => SequenceEngine): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as ArrayBackend;
    const a = attrs as unknown as ForwardAttrs;
    const x = inputs as unknown as SequenceInputs & { runs: TensorInfo };
    const [R, B, T, I] = x.inputs.shape as [number, number, number, number];
    const [, H, O] = x.W_out.shape as [number, number, number];
    const keys = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const;
    const sizes = { W_in: I * H, W_rec: H * H, b: H, W_out: H * O, b_out: O };
    const all = Object.fromEntries(keys.map((k) => [k, floats(b, x[k])])) as Record<
      (typeof keys)[number],
      Float32Array
    >;
    const u = floats(b, x.inputs);
    const y = isClassHead(a.head) ? classes(b, x.targets) : floats(b, x.targets);
    const mask = given(x.mask) ? floats(b, x.mask) : undefined;
    const runs = floats(b, x.runs);
    const C = ENSEMBLE_RUN_COLUMNS.length;
    const column = (r: number, name: (typeof ENSEMBLE_RUN_COLUMNS)[number]) =>
      runs[r * C + ENSEMBLE_RUN_COLUMNS.indexOf(name)];
    const ny = y.length / R;
    const part = <A extends Float32Array | Int32Array>(arr: A, n: number, r: number) =>
      arr.subarray(r * n, (r + 1) * n) as A;
    const weightsOf = (src: Record<string, Float32Array>, r: number) =>
      Object.fromEntries(keys.map((k) => [k, part(src[k], sizes[k], r)])) as Record<
        (typeof keys)[number],
        Float32Array
      >;
    const problems: TrainingProblem[] = Array.from({ length: R }, (_, r) => {
      const omega = OMEGA_CODES[column(r, 'omega')];
      return {
        batch: B,
        time: T,
        inputSize: I,
        hiddenSize: H,
        outputSize: O,
        activation: a.activation,
        head: a.head,
        weights: weightsOf(all, r),
        inputs: part(u, B * T * I, r),
        targets: part(y, ny, r),
        mask: mask ? part(mask, B * T, r) : undefined,
        omega,
        omegaWeight: omega ? column(r, 'alpha') : undefined,
      };
    });
    const next = Object.fromEntries(keys.map((k) => [k, new Float32Array(R * sizes[k])])) as Record<
      (typeof keys)[number],
      Float32Array
    >;
    const stats = new Float32Array(ENSEMBLE_STATS.length * R);
    const stat = (name: (typeof ENSEMBLE_STATS)[number], r: number, value: number) => {
      stats[ENSEMBLE_STATS.indexOf(name) * R + r] = value;
    };
    engine().trainMany(
      problems,
      (res, r) => {
        const [norm, clipped, skipped, safeguarded] = sgdUpdate(
          problems[r].weights as unknown as Record<string, Float32Array>,
          res.grads as unknown as Record<string, Float32Array>,
          weightsOf(next, r),
          column(r, 'learningRate'),
          column(r, 'maxNorm'),
          column(r, 'safeguard') === 1,
        );
        stat('loss', r, res.loss);
        stat('norm', r, norm);
        stat('omega', r, problems[r].omega ? res.omega : Number.NaN);
        stat('safeguarded', r, safeguarded);
        stat('clipped', r, clipped);
        stat('skipped', r, skipped);
      },
      { views: true },
    );
    return [
      output(b, next.W_in, [R, I, H]),
      output(b, next.W_rec, [R, H, H]),
      output(b, next.b, [R, H]),
      output(b, next.W_out, [R, H, O]),
      output(b, next.b_out, [R, O]),
      output(b, stats, [ENSEMBLE_STATS.length, R]),
    ];
  };
}

/** Kernel configs for a backend whose data can be read synchronously (cpu, wasm). */
export function arrayKernels(backendName: string, engine: () => SequenceEngine): KernelConfig[] {
  return [
    { kernelName: RNN_FORWARD, backendName, kernelFunc: forwardKernel(engine) },
    { kernelName: RNN_LOSS, backendName, kernelFunc: lossKernel(engine) },
    { kernelName: RNN_ENSEMBLE_STEP, backendName, kernelFunc: ensembleStepKernel(engine) },
  ];
}

/** Registers kernels not yet registered for their backend, and the gradient once. */
export function registerFusedKernels(configs: KernelConfig[]): void {
  for (const c of configs) if (!getKernel(c.kernelName, c.backendName)) registerKernel(c);
  if (!getGradient(RNN_LOSS)) registerGradient(lossGradient);
}
