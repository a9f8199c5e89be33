import * as tf from '@tensorflow/tfjs-core';
import { DeviceSteps, isGpuBackend } from './device-steps.js';
import type { NormType } from './global-norm.js';
import { type NamedGradient, presentTensors } from './gradients.js';
import { transformFromConfig } from './registry.js';
import { fromNamedList, paramInfos, runDeviceStep, runStep, type StepPlan, toNamedList } from './step.js';
import {
  chain,
  type GradientTransform,
  type Params,
  type PluginState,
  type TransformConfig,
  transformToConfig,
} from './transform.js';

/** What one step did; handed to `onStep` and kept as `lastStep`. */
export interface StepInfo {
  /** The inner optimizer's iteration count after the step (unchanged when skipped). */
  iteration: number;
  /** L2 norm of the gradients as they arrived, before any transform (NaN/Infinity if broken). */
  globalNorm: number;
  /** Whether some transform rescaled or clamped the gradients. */
  clipped: boolean;
  /** Whether the step was skipped: no weight and no optimizer slot changed. */
  skipped: boolean;
  /** Why it was skipped, or null. */
  skipReason: string | null;
  /** Whether a transform (the safeguard) replaced the step by its own (never clipped or skipped). */
  replaced: boolean;
}

/** Running statistics over all steps, restored with the optimizer's weights. */
export interface ClipStats {
  /** Steps seen (applied and skipped). */
  steps: number;
  /** Steps with a finite norm; `meanNorm` and `largestNorm` run over those. */
  count: number;
  meanNorm: number;
  /** the largest pre-clip norm seen (not the clip threshold, which is `maxNorm` everywhere) */
  largestNorm: number;
  clipCount: number;
  skipCount: number;
  /** steps replaced by the safeguard */
  replaceCount: number;
}

interface StatsState {
  [key: string]: number;
  steps: number;
  count: number;
  sum: number;
  max: number;
  clipCount: number;
  skipCount: number;
  replaceCount: number;
}

/** Everything a restart needs besides the inner optimizer's own weights: plain data. */
export interface ChainedOptimizerState {
  [key: string]: PluginState;
  version: number;
  /** The transform's state; null before the first step. */
  transform: PluginState;
  stats: StatsState;
}

/**
 * Where a step's decisions are made:
 * - 'host': the step's scalars are read back once (`dataSync`) and decided in JavaScript;
 * - 'device': nothing is read back; the clip factor is a tensor and a skipped step is undone on
 *   the device (weights and optimizer slots selected against the old, as optax's
 *   `apply_if_finite`); numbers arrive with `await readStats()`;
 * - 'auto' (default): 'device' on GPU backends (webgl, webgpu) when every plugin of the chain
 *   runs on the device and there is no `onStep` (which needs numbers each step), else 'host'.
 */
export type StepMode = 'auto' | 'host' | 'device';

export interface ChainedOptimizerOptions {
  /** Called after every step (applied or skipped) with what it did. Not saved with the model. */
  onStep?: (info: StepInfo) => void;
  /** Where decisions are made; default 'auto' (see StepMode). */
  mode?: StepMode;
}

/** What `readStats()` returns: the running statistics and the last step's numbers. */
export interface ReadStats extends ClipStats {
  lastGlobalNorm: number;
  lastClipped: boolean;
  lastSkipped: boolean;
  lastReplaced: boolean;
}

const MODES: readonly StepMode[] = ['auto', 'host', 'device'];

/** The name under which the plugin state travels with the inner optimizer's weights. */
export const STATE_WEIGHT_NAME = 'cliffguard/state';
const STATE_VERSION = 1;

const emptyStats = (): StatsState => ({
  steps: 0,
  count: 0,
  sum: 0,
  max: 0,
  clipCount: 0,
  skipCount: 0,
  replaceCount: 0,
});

/**
 * A `tf.Optimizer` that runs a chain of gradient transforms (plugins), then hands the result to
 * an inner optimizer (sgd, adam, ... or your own). Works with `optimizer.minimize`, with
 * `model.compile({ optimizer }) + model.fit`, and with `applyGradients` given a map or the
 * `NamedTensor[]` array `model.fit` passes; names, order and length are kept, and entries
 * without a gradient pass through (built-in optimizers keep slots by position).
 */
export class ChainedOptimizer extends tf.Optimizer {
  /** Registered with `tf.serialization.registerClass` (below), so saved models reload it. */
  static className = 'cliffguard.ChainedOptimizer';

  readonly inner: tf.Optimizer;
  readonly transform: GradientTransform;
  onStep: ((info: StepInfo) => void) | undefined;
  /** The last step's pre-clip global norm (NaN before the first step). */
  lastGlobalNorm = Number.NaN;
  lastClipped = false;
  lastSkipped = false;
  /** Whether the last step was replaced by the safeguard's shrink step. */
  lastReplaced = false;
  lastStep: StepInfo | null = null;

  /** Where decisions are made (see StepMode). */
  readonly mode: StepMode;
  /**
   * The norm `lastGlobalNorm`, `stats` and `onStep` report: the chain's global clip's own
   * (`normType: 'inf'` reports the max-abs norm it clips by), else the L2 norm.
   */
  readonly reportNorm: NormType;

  private transformState: PluginState | undefined;
  private statsState: StatsState = emptyStats();
  /** Device mode's side of the steps (see device-steps.ts). */
  private readonly device: DeviceSteps;
  /** Tensors handed out by `getWeights` that nobody else disposes (see getWeights). */
  private handedOut: tf.Tensor[] = [];

  constructor(
    inner: tf.Optimizer,
    transform: GradientTransform | GradientTransform[],
    options: ChainedOptimizerOptions = {},
  ) {
    super();
    if (inner == null || !(inner instanceof tf.Optimizer)) {
      throw new TypeError(
        `ChainedOptimizer: inner must be a tf.Optimizer (tf.train.sgd(...) etc.), got ${String(inner)}`,
      );
    }
    // Not `instanceof`: tf.Optimizer's duck-typed Symbol.hasInstance is inherited by subclasses,
    // so every optimizer is `instanceof ChainedOptimizer`.
    if (Object.prototype.isPrototypeOf.call(ChainedOptimizer.prototype, inner)) {
      throw new TypeError(
        'ChainedOptimizer: inner is itself a ChainedOptimizer; put all transforms in one chain',
      );
    }
    this.inner = inner;
    this.device = new DeviceSteps(inner);
    // A lone chain is kept as is, so a save/load round trip does not nest chains.
    this.transform =
      Array.isArray(transform) || transform?.name !== 'chain' ? chain(...[transform].flat()) : transform;
    if (options.onStep !== undefined && typeof options.onStep !== 'function') {
      throw new TypeError(
        `ChainedOptimizer: onStep must be a function (info) => void, got ${typeof options.onStep} ${String(options.onStep)}`,
      );
    }
    this.onStep = options.onStep;
    const mode = options.mode ?? 'auto';
    if (!MODES.includes(mode)) {
      throw new RangeError(
        `ChainedOptimizer: mode must be 'auto', 'host' or 'device', got ${JSON.stringify(mode)}`,
      );
    }
    if (mode === 'device') {
      const host = hostOnly(this.transform);
      if (host.length > 0) {
        throw new Error(
          `ChainedOptimizer: mode 'device' needs every plugin to run on the device; ${host.join(', ')} ` +
            "decide on the host (use mode 'host' or 'auto')",
        );
      }
      if (this.onStep) {
        throw new Error(
          "ChainedOptimizer: mode 'device' has no numbers during a step for onStep; use await optimizer.readStats()",
        );
      }
    }
    this.mode = mode;
    this.reportNorm = clipNormType(this.transform);
  }

  /** Whether this step runs in device mode (see StepMode). */
  get deviceMode(): boolean {
    if (this.mode === 'device') return true;
    return (
      this.mode === 'auto' &&
      this.onStep === undefined &&
      this.transform.runsOnDevice === true &&
      isGpuBackend()
    );
  }

  /**
   * Device mode: the last step's pre-clip norm as a new scalar tensor (yours to dispose), or null
   * after a host-mode step, which keeps it as the number `lastGlobalNorm`.
   */
  get lastGlobalNormTensor(): tf.Scalar | null {
    const last = this.device.lastStep;
    return last ? (tf.tidy(() => tf.reshape(tf.slice(last, 0, 1), [])) as tf.Scalar) : null;
  }

  /**
   * Device mode: the last step's [norm, clipped, skipped, replaced] as a float32 tensor [4]
   * (owned by the optimizer, valid until the next step), for a caller that reads it back with
   * its own numbers in one transfer (rnn's trainStep does); null after a host-mode step.
   */
  get lastStepTensor(): tf.Tensor | null {
    return this.device.lastStep;
  }

  /** Mirrors the inner optimizer: a skipped step does not count. */
  override get iterations(): number {
    return this.inner.iterations;
  }

  get stats(): ClipStats {
    const s = this.statsState;
    return {
      steps: s.steps,
      count: s.count,
      meanNorm: s.count > 0 ? s.sum / s.count : 0,
      largestNorm: s.max,
      clipCount: s.clipCount,
      skipCount: s.skipCount,
      replaceCount: s.replaceCount,
    };
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedGradient[]): void {
    const list = toNamedList(variableGradients, 'applyGradients');
    presentTensors(list, 'applyGradients');
    const params = tf.engine().registeredVariables as Params;
    const state = this.transformState ?? this.transform.init(paramInfos(list, params));
    const inputs = new Set(list.map((g) => g.tensor));
    const asArray = Array.isArray(variableGradients);
    const owned = (grads: NamedGradient[]) =>
      grads.map((g) => g.tensor).filter((t): t is tf.Tensor => t != null && !inputs.has(t));
    if (this.deviceMode) {
      this.device.warm(list, params, asArray);
      const { grads, plan } = runDeviceStep(
        this.transform,
        list,
        state,
        params,
        this.inner.iterations,
        this.reportNorm,
      );
      try {
        this.device.apply(grads, plan, list, params, asArray);
      } finally {
        tf.dispose(owned(grads));
      }
      this.transformState = plan.state;
      this.statsState = { ...this.statsState, steps: this.statsState.steps + 1 };
      this.device.commit(plan);
      return;
    }
    const { grads, plan } = runStep(
      this.transform,
      list,
      state,
      params,
      this.inner.iterations,
      this.reportNorm,
    );
    try {
      // onStep runs before anything changes: an error in it leaves weights, slots and state as they were
      this.onStep?.(this.stepInfo(plan, this.inner.iterations + (plan.skipReason == null ? 1 : 0)));
      if (plan.skipReason == null) {
        this.inner.applyGradients(fromNamedList(grads, asArray) as tf.NamedTensorMap);
      }
    } finally {
      tf.dispose(owned(grads));
    }
    this.commit(plan);
  }

  /**
   * The running statistics and the last step's numbers, read from the device in one transfer
   * (device mode; in host mode they are already numbers). Also settles `iterations`: in device
   * mode a skipped step is undone on the device but counted until this read.
   */
  async readStats(): Promise<ReadStats> {
    const reading = await this.device.read();
    if (reading) {
      const { sums, last } = reading;
      const s = this.statsState;
      this.statsState = {
        ...s,
        count: s.count + sums.count,
        sum: s.sum + sums.sum,
        max: Math.max(s.max, sums.max),
        clipCount: s.clipCount + sums.clipCount,
        skipCount: s.skipCount + sums.skipCount,
        replaceCount: s.replaceCount + sums.replaceCount,
      };
      this.lastGlobalNorm = last.norm;
      this.lastClipped = last.clipped;
      this.lastSkipped = last.skipped;
      this.lastReplaced = last.replaced;
    }
    return {
      ...this.stats,
      lastGlobalNorm: this.lastGlobalNorm,
      lastClipped: this.lastClipped,
      lastSkipped: this.lastSkipped,
      lastReplaced: this.lastReplaced,
    };
  }

  /** What a host-mode step did, as `onStep` and `lastStep` give it. */
  private stepInfo(plan: StepPlan, iteration: number): StepInfo {
    const skipped = plan.skipReason != null;
    return {
      iteration,
      globalNorm: plan.norm,
      clipped: plan.clipped && !skipped,
      skipped,
      skipReason: plan.skipReason,
      replaced: plan.replaced,
    };
  }

  /** Commits a finished host-mode step: plugin state, statistics and `last*`. */
  private commit(plan: StepPlan): void {
    this.device.forgetLast();
    const skipped = plan.skipReason != null;
    const clipped = plan.clipped && !skipped;
    this.transformState = plan.state;
    const s = this.statsState;
    const finite = Number.isFinite(plan.norm);
    this.statsState = {
      steps: s.steps + 1,
      count: s.count + (finite ? 1 : 0),
      sum: s.sum + (finite ? plan.norm : 0),
      max: finite ? Math.max(s.max, plan.norm) : s.max,
      clipCount: s.clipCount + (clipped ? 1 : 0),
      skipCount: s.skipCount + (skipped ? 1 : 0),
      replaceCount: s.replaceCount + (plan.replaced ? 1 : 0),
    };
    this.lastGlobalNorm = plan.norm;
    this.lastClipped = clipped;
    this.lastSkipped = skipped;
    this.lastReplaced = plan.replaced;
    this.lastStep = this.stepInfo(plan, this.inner.iterations);
  }

  /** The plugin state and statistics as plain data (JSON-safe), for your own checkpoints. */
  getState(): ChainedOptimizerState {
    return { version: STATE_VERSION, transform: this.transformState ?? null, stats: { ...this.statsState } };
  }

  /** Restores what `getState` returned. */
  setState(state: ChainedOptimizerState): void {
    if (state == null || state.version !== STATE_VERSION || typeof state.stats !== 'object') {
      throw new Error(
        `ChainedOptimizer.setState: expected a state of version ${STATE_VERSION} from getState(), got ${JSON.stringify(state)?.slice(0, 200)}`,
      );
    }
    this.transformState = state.transform ?? undefined;
    this.statsState = { ...emptyStats(), ...(state.stats as StatsState) };
  }

  /**
   * The inner optimizer's weights (iteration count and slots, in its own order), then the plugin
   * state as one JSON string tensor named `cliffguard/state`.
   */
  override async getWeights(): Promise<Array<{ name: string; tensor: tf.Tensor }>> {
    await this.readStats(); // device mode: fold the pending sums into the state saved below
    const weights = await this.inner.getWeights();
    tf.dispose(this.handedOut);
    this.handedOut = [];
    // Built-in optimizers hand out a fresh `iter` scalar that model.save never disposes; it is
    // owned here and freed on the next getWeights() or dispose().
    const first = weights[0];
    if (first?.name === 'iter' && !(first.tensor instanceof tf.Variable)) this.handedOut.push(first.tensor);
    const state = tf.scalar(JSON.stringify(this.getState()), 'string');
    this.handedOut.push(state);
    return [...weights, { name: STATE_WEIGHT_NAME, tensor: state }];
  }

  override async setWeights(weightValues: Array<{ name: string; tensor: tf.Tensor }>): Promise<void> {
    const own = weightValues.filter((w) => w.name === STATE_WEIGHT_NAME);
    const rest = weightValues.filter((w) => w.name !== STATE_WEIGHT_NAME);
    if (own.length > 1)
      throw new Error(`ChainedOptimizer.setWeights: ${own.length} entries named '${STATE_WEIGHT_NAME}'`);
    if (own.length === 1) {
      const text = (await own[0].tensor.data())[0] as unknown;
      const json = typeof text === 'string' ? text : new TextDecoder().decode(text as Uint8Array);
      this.setState(JSON.parse(json) as ChainedOptimizerState);
    }
    await this.inner.setWeights(rest);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      inner: { className: this.inner.getClassName(), config: this.inner.getConfig() },
      transform: transformToConfig(this.transform) as unknown as tf.serialization.ConfigDict,
    };
  }

  /** Rebuilds the inner optimizer through tfjs's class registry, and the transforms through ours. */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const innerConfig = config.inner as
      | { className?: string; config?: tf.serialization.ConfigDict }
      | undefined;
    const className = innerConfig?.className;
    const entry =
      className == null ? undefined : tf.serialization.SerializationMap.getMap().classNameMap[className];
    if (!entry) {
      throw new Error(
        `ChainedOptimizer.fromConfig: inner optimizer class '${String(className)}' is not registered; ` +
          'register a custom optimizer with tf.serialization.registerClass',
      );
    }
    const [innerCls, innerFromConfig] = entry;
    const inner = innerFromConfig(innerCls, innerConfig?.config ?? {}) as tf.Optimizer;
    const transform = transformFromConfig(config.transform as unknown as TransformConfig);
    return new cls(inner, transform);
  }

  /** Disposes the inner optimizer (its slots) and what getWeights handed out. */
  override dispose(): void {
    this.inner.dispose();
    tf.dispose(this.handedOut);
    this.handedOut = [];
    this.device.dispose();
  }
}

/** The norm type of a chain's global clip (its leaf with role 'globalClip'), else 2. */
function clipNormType(t: GradientTransform): NormType {
  const leaves = (x: GradientTransform): GradientTransform[] =>
    x.transforms ? x.transforms.flatMap(leaves) : [x];
  const clip = leaves(t).find((x) => x.role === 'globalClip');
  return (clip?.getConfig().normType as NormType | undefined) === 'inf' ? 'inf' : 2;
}

/** The plugins of a chain that need a readback (they do not declare `runsOnDevice`). */
function hostOnly(t: GradientTransform): string[] {
  if (t.transforms) return t.transforms.flatMap(hostOnly);
  return t.runsOnDevice === true ? [] : [`'${t.name}'`];
}

tf.serialization.registerClass(ChainedOptimizer);
