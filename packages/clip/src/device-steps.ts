/**
 * The device side of a ChainedOptimizer (device mode, the default on GPU backends): no readback
 * in a step. The inner optimizer steps, and a step the chain rejects is undone on the device —
 * every weight and optimizer variable selected against its value before the step, as optax's
 * `apply_if_finite`. The step's numbers are folded into running sums that stay on the device until
 * `read()` brings them back in one transfer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectWhole } from './global-norm.js';
import type { NamedGradient } from './gradients.js';
import { type DeviceStepPlan, fromNamedList } from './step.js';
import type { Params } from './transform.js';

/** Backends whose readbacks stall a GPU queue (or, for webgpu in Node, cannot be synchronous). */
export function isGpuBackend(backend = tf.getBackend()): boolean {
  return backend === 'webgl' || backend === 'webgpu';
}

/**
 * Every tf.Variable an optimizer holds (its slots and counters such as Adam's β powers): its own
 * fields, and arrays of variables or of `{ variable }` slot records, as tfjs's optimizers keep them.
 */
function optimizerVariables(opt: tf.Optimizer): tf.Variable[] {
  const out: tf.Variable[] = [];
  const add = (x: unknown) => {
    if (x instanceof tf.Variable) out.push(x);
    else if (
      x != null &&
      typeof x === 'object' &&
      (x as { variable?: unknown }).variable instanceof tf.Variable
    )
      out.push((x as { variable: tf.Variable }).variable);
  };
  for (const value of Object.values(opt)) {
    if (Array.isArray(value)) value.forEach(add);
    else add(value);
  }
  return out;
}

/** The running sums of device steps not yet read: finite count, norm sum, norm max, clips, skips, replaces. */
const SUMS = ['count', 'sum', 'max', 'clipCount', 'skipCount', 'replaceCount'] as const;
export type DeviceSums = Record<(typeof SUMS)[number], number>;

/** What `read()` brings back: the sums since the last read, and the last step's numbers. */
export interface DeviceReading {
  sums: DeviceSums;
  last: { norm: number; clipped: boolean; skipped: boolean; replaced: boolean };
}

/** A tfjs optimizer's iteration count, which its `applyGradients` advances (a protected field). */
function counter(inner: tf.Optimizer): { iterations_: number } {
  return inner as unknown as { iterations_: number };
}

export class DeviceSteps {
  /** The pending sums [SUMS.length] (kept), or null when nothing is pending. */
  private sums: tf.Tensor | null = null;
  /** The last device step's [norm, clipped, skipped, replaced] (kept until the next step). */
  private last: tf.Tensor | null = null;
  /** The variable names whose optimizer slots exist (see warm). */
  private warmed: string | null = null;

  constructor(private readonly inner: tf.Optimizer) {}

  /** The last device step's [norm, clipped, skipped, replaced] (float32 [4]), or null. */
  get lastStep(): tf.Tensor | null {
    return this.last;
  }

  /** The variables a step may change: the listed weights and the inner optimizer's own. */
  private variablesOf(list: NamedGradient[], params: Params): tf.Variable[] {
    const weights = list.flatMap((g) => (g.tensor != null && params[g.name] ? [params[g.name]] : []));
    return [...weights, ...optimizerVariables(this.inner)];
  }

  /**
   * Makes every optimizer slot exist before a step that may be undone (tfjs makes slots on a
   * variable's first step, and an undone first step would have nothing to go back to). A zero
   * step makes them at their initial values (zeros; Adagrad's initial accumulator); every variable
   * that existed before it, and the iteration count, are then put back.
   */
  warm(list: NamedGradient[], params: Params, asArray: boolean): void {
    const names = list.map((g) => g.name).join('\n');
    if (this.warmed === names) return;
    const iterations = counter(this.inner).iterations_;
    tf.tidy(() => {
      const existing = this.variablesOf(list, params);
      const before = existing.map((v) => tf.clone(v));
      const zeros = list.map((g) =>
        g.tensor == null ? g : { name: g.name, tensor: tf.zerosLike(g.tensor) },
      );
      this.inner.applyGradients(fromNamedList(zeros, asArray) as tf.NamedTensorMap);
      existing.forEach((v, i) => {
        v.assign(before[i]);
      });
    });
    counter(this.inner).iterations_ = iterations;
    this.warmed = names;
  }

  /** The inner step, undone on the device where `plan.keep` is false. */
  apply(
    grads: NamedGradient[],
    plan: DeviceStepPlan,
    list: NamedGradient[],
    params: Params,
    asArray: boolean,
  ) {
    tf.tidy(() => {
      const touched = plan.keep ? this.variablesOf(list, params) : [];
      const before = touched.map((v) => tf.clone(v));
      this.inner.applyGradients(fromNamedList(grads, asArray) as tf.NamedTensorMap);
      touched.forEach((v, i) => {
        v.assign(selectWhole(plan.keep!, v, before[i]));
      });
    });
  }

  /** Folds a step into the pending sums and keeps its numbers; disposes the plan's tensors. */
  commit(plan: DeviceStepPlan): void {
    const previous = [this.sums, this.last];
    const [sums, last] = tf.tidy(() => {
      const f = (t: tf.Tensor) => tf.cast(t, 'float32');
      const skipped = plan.keep ? tf.logicalNot(plan.keep) : tf.scalar(false, 'bool');
      const finite = tf.isFinite(plan.norm);
      const finiteNorm = tf.where(finite, plan.norm, tf.zerosLike(plan.norm));
      const step = tf.stack([
        f(finite),
        finiteNorm,
        finiteNorm,
        f(plan.clipped),
        f(skipped),
        f(plan.replaced),
      ]);
      const old = this.sums ?? tf.zeros([SUMS.length]);
      // the sums add, the max takes the larger
      const isMax = tf.tensor1d(
        SUMS.map((k) => k === 'max'),
        'bool',
      );
      const next = tf.where(isMax, tf.maximum(old, step), tf.add(old, step));
      return [tf.keep(next), tf.keep(tf.stack([plan.norm, f(plan.clipped), f(skipped), f(plan.replaced)]))];
    });
    tf.dispose([plan.norm, plan.clipped, plan.replaced, ...(plan.keep ? [plan.keep] : [])]);
    tf.dispose(previous.filter((t): t is tf.Tensor => t != null));
    this.sums = sums;
    this.last = last;
  }

  /** A host-mode step came after: the last device step's numbers no longer describe the last step. */
  forgetLast(): void {
    this.last?.dispose();
    this.last = null;
  }

  /**
   * The pending sums (cleared) and the last step's numbers in one transfer, or null when no device
   * step is pending. A skipped step is undone on the device but counted by the inner optimizer
   * until now: its iteration count is corrected here.
   */
  async read(): Promise<DeviceReading | null> {
    const [sums, last] = [this.sums, this.last];
    if (!sums || !last) return null;
    const both = tf.concat([sums, last]);
    let values: Float32Array;
    try {
      values = (await both.data()) as Float32Array;
    } finally {
      both.dispose();
    }
    // a step may have run meanwhile: these sums are then part of the newer ones; read them next time
    if (this.sums !== sums) return null;
    sums.dispose();
    this.sums = null;
    const reading = Object.fromEntries(SUMS.map((k, i) => [k, values[i]])) as DeviceSums;
    counter(this.inner).iterations_ -= reading.skipCount;
    const [norm, clipped, skipped, replaced] = values.subarray(SUMS.length);
    return {
      sums: reading,
      last: { norm, clipped: clipped === 1, skipped: skipped === 1, replaced: replaced === 1 },
    };
  }

  dispose(): void {
    tf.dispose([this.sums, this.last].filter((t): t is tf.Tensor => t != null));
    this.sums = null;
    this.last = null;
  }
}
