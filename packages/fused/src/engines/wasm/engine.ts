/**
 * The WebAssembly SIMD sequence engine: lays out one plan (shapes and buffer addresses, see
 * assembly/plan.ts) in the module's memory, copies the arrays in, runs the fused pass with one
 * call, and copies the results out. The layout is kept while the shape stays the same.
 */

import {
  type EngineCallOptions,
  isLastStepHead,
  type SequenceEngine,
  type SequenceGradients,
  type SequenceOutputs,
  type SequenceProblem,
  type SequenceShape,
  type TrainingProblem,
  validateProblem,
} from '../../problem.js';
import type { FusedExports, FusedWasm } from './module.js';
import { F, layOutPlan, type PlanLayout, shapeKey } from './plan.js';
import { forwardOnTwo, trainOnTwo } from './split.js';
import type { WasmThreadPair } from './threads.js';

/** Recurrent multiply-adds per pass (B·T·H²) above which the second thread is used. */
export const THREAD_THRESHOLD = 5e7;

const combines = (p: TrainingProblem) => p.omega !== undefined && p.omegaWeight !== undefined;

export class WasmSequenceEngine implements SequenceEngine {
  readonly name: string;
  private readonly x: FusedExports;
  /** plan slot 0 (every call) and slot 1 (the second run of a pair, laid out after slot 0) */
  private layouts: [PlanLayout | null, PlanLayout | null] = [null, null];

  private readonly threads: WasmThreadPair | null;
  private readonly threadThreshold: number;
  private outCursor = 0;
  private outEnd = 0;
  private views = false;

  /**
   * `threads`: a worker on the same shared memory (wasm must be the shared-memory build), used
   * for passes of at least `threadThreshold` recurrent multiply-adds (default THREAD_THRESHOLD).
   */
  constructor(
    readonly wasm: FusedWasm,
    options: { threads?: WasmThreadPair | null; threadThreshold?: number } = {},
  ) {
    this.x = wasm.exports;
    this.threads = options.threads ?? null;
    this.threadThreshold = options.threadThreshold ?? THREAD_THRESHOLD;
    this.name = `wasm-${wasm.variant}${this.threads ? '-2threads' : ''}`;
  }

  /** Threads this problem runs on: 2 with a worker, a batch of 2 or more and enough work. */
  threadsFor(s: SequenceShape): number {
    const work = s.batch * s.time * s.hiddenSize ** 2;
    return this.threads && s.batch >= 2 && work >= this.threadThreshold ? 2 : 1;
  }

  /** Bytes of module memory the current plan uses (for diagnostics). */
  get bytesInUse(): number {
    const [a, b] = this.layouts;
    return a ? (b ?? a).end - a.plan : 0;
  }

  private f32(): Float32Array {
    return new Float32Array(this.x.memory.buffer);
  }

  private i32(): Int32Array {
    return new Int32Array(this.x.memory.buffer);
  }

  /** The plan for this shape: reused when the shape repeats, else laid out afresh and zeroed. */
  private get layout(): PlanLayout | null {
    return this.layouts[0];
  }

  /** The plan for this shape in `slot`: reused when the shape repeats, else laid out afresh and zeroed. */
  private planFor(s: SequenceShape, slot: 0 | 1 = 0): PlanLayout {
    const key = shapeKey(s);
    const current = this.layouts[slot];
    if (current?.key === key && (slot === 0 || this.layouts[0]?.key === key)) return current;
    if (slot === 1) this.planFor(s, 0);
    const layout = layOutPlan(this.x, s, slot === 0 ? this.x.heapBase() : this.layouts[0]!.end);
    this.layouts[slot] = layout;
    if (slot === 0) this.layouts[1] = null;
    return layout;
  }

  /** Copies a dense [rows][cols] array into a buffer with row stride ld (padding stays 0). */
  private putPadded(
    L: PlanLayout,
    src: Float32Array,
    rows: number,
    cols: number,
    dst: number,
    ld: number,
  ): void {
    this.f32().set(src, L.staging / 4);
    this.x.padRows(L.staging, rows, cols, dst, ld);
  }

  /** Next free output slot of n floats (16-byte aligned). */
  private slot(n: number): number {
    const at = this.outCursor;
    this.outCursor += Math.ceil(n / 4) * 16;
    if (this.outCursor > this.outEnd) throw new Error('WasmSequenceEngine: results overflow the output area');
    return at;
  }

  /** A result: a view of the module's memory (valid until the next call) or a copy. */
  private result(at: number, n: number): Float32Array {
    return this.views ? new Float32Array(this.x.memory.buffer, at, n) : this.f32().slice(at / 4, at / 4 + n);
  }

  private takeUnpadded(src: number, rows: number, ld: number, cols: number): Float32Array {
    const at = this.slot(rows * cols);
    this.x.unpadRows(src, rows, ld, cols, at);
    return this.result(at, rows * cols);
  }

  private takeSequence(src: number, s: SequenceShape, ld: number, cols: number): Float32Array {
    const n = s.batch * s.time * cols;
    const at = this.slot(n);
    this.x.timeToBatch(src, s.time, s.batch, ld, cols, at);
    return this.result(at, n);
  }

  /** Writes weights, inputs and h0, detects one-hot inputs and packs the weights. */
  private load(p: SequenceProblem, options: EngineCallOptions = {}, slot: 0 | 1 = 0): PlanLayout {
    const L = this.planFor(p, slot);
    this.outCursor = L.out;
    this.outEnd = L.end;
    this.views = options.views ?? false;
    const { batch: B, inputSize: I, hiddenSize: H, outputSize: O } = p;
    const i32 = this.i32();
    i32[L.plan / 4 + F.ACT] = p.activation === 'tanh' ? 0 : 1;
    const w = p.weights;
    this.putPadded(L, w.W_in, I, H, L.at.WIN, L.hp);
    this.putPadded(L, w.W_rec, H, H, L.at.WREC, L.hp);
    this.putPadded(L, w.W_out, H, O, L.at.WOUT, L.op);
    const f32 = this.f32();
    f32.set(w.b, L.at.BIAS / 4);
    f32.set(w.b_out, L.at.BOUT / 4);
    f32.set(p.inputs, L.at.RAWIN / 4);
    if (p.h0) this.putPadded(L, p.h0, B, H, L.at.S, L.hp);
    else f32.fill(0, L.at.S / 4, L.at.S / 4 + B * L.hp);
    this.x.prepareInputs(L.plan);
    this.x.prepareWeights(L.plan);
    return L;
  }

  forward(p: SequenceProblem, options?: EngineCallOptions): SequenceOutputs {
    validateProblem(p, false);
    const L = this.load(p, options);
    if (this.threadsFor(p) === 2) forwardOnTwo(this.x, this.threads!, L, p);
    else this.x.forward(L.plan);
    const { batch: B, time: T, outputSize: O, hiddenSize: H } = p;
    const outputs = isLastStepHead(p.head)
      ? this.takeUnpadded(L.at.Z, B, L.op, O)
      : this.takeSequence(L.at.Z, p, L.op, O);
    const states = this.takeSequence(L.at.S + B * L.hp * 4, p, L.hp, H);
    void T;
    return { outputs, states };
  }

  /** Loads a training problem into `slot` (weights, inputs, targets, flags); returns its plan. */
  private loadTraining(p: TrainingProblem, options: EngineCallOptions | undefined, slot: 0 | 1): PlanLayout {
    const L = this.load(p, options, slot);
    const i32 = this.i32();
    i32[L.plan / 4 + F.OMEGA] = p.omega === 'paper' ? 1 : p.omega === 'code' ? 2 : 0;
    i32[L.plan / 4 + F.MASK] = p.mask ? 1 : 0;
    i32[L.plan / 4 + F.COMBINE] = combines(p) ? 1 : 0;
    new Float32Array(this.x.memory.buffer, L.plan + F.ALPHA * 4, 1)[0] = p.omegaWeight ?? 0;
    if (p.targets instanceof Int32Array) i32.set(p.targets, L.at.TARGETS / 4);
    else this.f32().set(p.targets, L.at.TARGETS / 4);
    if (p.mask) this.f32().set(p.mask, L.at.MASKP / 4);
    return L;
  }

  /** The results of a finished training pass in plan L. */
  private trainingResults(L: PlanLayout, p: TrainingProblem): SequenceGradients {
    this.outCursor = L.out;
    this.outEnd = L.end;
    const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O } = p;
    const result = new Float64Array(this.x.memory.buffer, L.at.RESULT, 3);
    const [loss, omega, omegaRows] = [result[0], p.omega ? result[1] : 0, p.omega ? result[2] : 0];
    const out: SequenceGradients = {
      loss,
      omega,
      omegaRows,
      grads: {
        W_in: this.takeUnpadded(L.at.DWIN, I, L.hp, H),
        W_rec: this.takeUnpadded(L.at.DWREC, H, L.hp, H),
        b: this.takeUnpadded(L.at.DB, 1, L.hp, H),
        W_out: this.takeUnpadded(L.at.DWOUT, H, L.op, O),
        b_out: this.takeUnpadded(L.at.DBOUT, 1, L.op, O),
      },
      omegaGrad: p.omega && !combines(p) ? this.takeUnpadded(L.at.DOMEGA, H, L.hp, H) : new Float32Array(0),
      h0Grad: this.takeUnpadded(L.at.DH0, B, L.hp, H),
      lastState: this.takeUnpadded(L.at.S + T * B * L.hp * 4, B, L.hp, H),
    };
    if (p.keepSequences) {
      out.states = this.takeSequence(L.at.S + B * L.hp * 4, p, L.hp, H);
      out.deltas = this.takeSequence(L.at.DELTA, p, L.hp, H);
    }
    return out;
  }

  train(p: TrainingProblem, options?: EngineCallOptions): SequenceGradients {
    validateProblem(p, true);
    const L = this.loadTraining(p, options, 0);
    if (this.threadsFor(p) === 2) trainOnTwo(this.x, this.threads!, L, p, combines(p));
    else this.x.train(L.plan);
    return this.trainingResults(L, p);
  }

  /**
   * Several independent passes of the same shape (an ensemble of runs). With the worker, small
   * models go two at a time, one on each thread, each in its own plan; large ones one after the
   * other, each split over both threads. `each` receives every result in turn (with `views`, a
   * result is valid only until `each` returns).
   */
  trainMany(
    problems: TrainingProblem[],
    each: (r: SequenceGradients, i: number) => void,
    options?: EngineCallOptions,
  ): void {
    for (const p of problems) validateProblem(p, true);
    let i = 0;
    while (i < problems.length) {
      const p = problems[i];
      if (
        this.threads &&
        this.threadsFor(p) === 1 &&
        i + 1 < problems.length &&
        shapeKey(problems[i + 1]) === shapeKey(p)
      ) {
        const q = problems[i + 1];
        const L0 = this.loadTraining(p, options, 0);
        const L1 = this.loadTraining(q, options, 1);
        this.threads.both('train', [L0.plan], [L1.plan]);
        each(this.trainingResults(L0, p), i);
        each(this.trainingResults(L1, q), i + 1);
        i += 2;
      } else {
        each(this.train(p, options), i);
        i += 1;
      }
    }
  }

  /**
   * Where one training pass spends its time, on this thread alone: milliseconds per phase
   * (median of `reps`), for benchmarks. Runs the same phases as `train` one by one.
   */
  profile(p: TrainingProblem, reps = 5): Record<string, number> {
    validateProblem(p, true);
    const x = this.x;
    const times: Record<string, number[]> = {};
    const time = (name: string, f: () => void) => {
      const t0 = performance.now();
      f();
      if (!times[name]) times[name] = [];
      times[name].push(performance.now() - t0);
    };
    for (let i = 0; i < reps; i++) {
      let L = this.layout as PlanLayout;
      time('copy in, inputs, packing', () => {
        L = this.load(p);
        const i32 = this.i32();
        i32[L.plan / 4 + F.OMEGA] = p.omega === 'paper' ? 1 : p.omega === 'code' ? 2 : 0;
        i32[L.plan / 4 + F.MASK] = p.mask ? 1 : 0;
        i32[L.plan / 4 + F.COMBINE] = p.omegaWeight !== undefined ? 1 : 0;
        if (p.targets instanceof Int32Array) i32.set(p.targets, L.at.TARGETS / 4);
        else this.f32().set(p.targets, L.at.TARGETS / 4);
        if (p.mask) this.f32().set(p.mask, L.at.MASKP / 4);
      });
      const { batch: B, time: T } = p;
      time('forward (recurrence)', () => x.forwardRows(L.plan, 0, B, 0));
      time('head, loss, direct terms', () => x.headSteps(L.plan, 0, T, 1, 0));
      time('BPTT', () => x.backwardRows(L.plan, 0, B, 0));
      if (p.omega) {
        time('Ω terms', () => {
          const c = x.omegaNormaliser(L.plan, x.omegaValidRows(L.plan, 0, B));
          x.omegaScaleRows(L.plan, 0, B, c, p.omegaWeight ?? 1);
        });
      }
      time('weight gradients', () => x.gradientColumns(L.plan, 0, L.hp, 0, L.op, 0));
      if (p.omega && p.omegaWeight === undefined)
        time('∂Ω/∂W_rec product', () => x.omegaProduct(L.plan, 0, L.hp, 0));
      time('copy out', () => {
        this.takeUnpadded(L.at.DWREC, p.hiddenSize, L.hp, p.hiddenSize);
        this.takeUnpadded(L.at.DWIN, p.inputSize, L.hp, p.hiddenSize);
        this.takeUnpadded(L.at.DWOUT, p.hiddenSize, L.op, p.outputSize);
      });
    }
    const median = (a: number[]) => [...a].sort((u, v) => u - v)[a.length >> 1];
    return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  }
}
