import * as tf from '@tensorflow/tfjs-core';
import { type NamedGradient, presentTensors } from './gradients.js';
import { transformFromConfig } from './registry.js';
import { fromNamedList, paramInfos, runStep, type StepPlan, toNamedList } from './step.js';
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

export interface ChainedOptimizerOptions {
  /** Called after every step (applied or skipped) with what it did. Not saved with the model. */
  onStep?: (info: StepInfo) => void;
}

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

  private transformState: PluginState | undefined;
  private statsState: StatsState = emptyStats();
  /** Tensors handed out by `getWeights` that nobody else disposes (see getWeights). */
  private handedOut: tf.Tensor[] = [];

  constructor(
    inner: tf.Optimizer,
    transform: GradientTransform | GradientTransform[],
    options: ChainedOptimizerOptions = {},
  ) {
    super();
    if (!(inner instanceof tf.Optimizer)) {
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
    // A lone chain is kept as is, so a save/load round trip does not nest chains.
    this.transform =
      Array.isArray(transform) || transform?.name !== 'chain' ? chain(...[transform].flat()) : transform;
    this.onStep = options.onStep;
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
    const { grads, plan } = runStep(this.transform, list, state, params, this.inner.iterations);

    if (plan.skipReason == null) {
      try {
        this.inner.applyGradients(
          fromNamedList(grads, Array.isArray(variableGradients)) as tf.NamedTensorMap,
        );
      } finally {
        tf.dispose(grads.map((g) => g.tensor).filter((t): t is tf.Tensor => t != null && !inputs.has(t)));
      }
    }
    this.commit(plan);
  }

  /** Commits a finished step: plugin state, statistics, `last*`, then `onStep`. */
  private commit(plan: StepPlan): void {
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
    this.lastStep = {
      iteration: this.inner.iterations,
      globalNorm: plan.norm,
      clipped,
      skipped,
      skipReason: plan.skipReason,
      replaced: plan.replaced,
    };
    this.onStep?.(this.lastStep);
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
  }
}

tf.serialization.registerClass(ChainedOptimizer);
