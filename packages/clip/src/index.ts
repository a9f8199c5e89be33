export {
  type AgcOptions,
  type AutoClipOptions,
  type AverageNormClipOptions,
  agc,
  autoClip,
  averageNormClip,
  type HistoryState,
} from './adaptive.js';
export {
  ChainedOptimizer,
  type ChainedOptimizerOptions,
  type ChainedOptimizerState,
  type ClipStats,
  type ReadStats,
  STATE_WEIGHT_NAME,
  type StepInfo,
  type StepMode,
} from './chained-optimizer.js';
export {
  type GlobalNormClipOptions,
  globalNormClip,
  type PerTensorNormClipOptions,
  perTensorNormClip,
  scaleGradients,
  type ValueClipOptions,
  valueClip,
} from './clipping.js';
export {
  type ClipByGlobalNormOptions,
  clipByGlobalNorm,
  clipScale,
  clipScaleValue,
  globalNorm,
  type NormType,
  selectWhole,
} from './global-norm.js';
export type { GradientMap, Gradients, NamedGradient } from './gradients.js';
export {
  type NonFiniteGuardOptions,
  type NonFiniteGuardState,
  type NonFinitePolicy,
  nonFiniteGuard,
} from './guard.js';
export { monitorSummary, type NormMonitorOptions, type NormMonitorState, normMonitor } from './monitor.js';
export { registerTransform, type TransformFactory, transformFromConfig } from './registry.js';
export {
  SAFEGUARD_NORM,
  SAFEGUARD_RECURRENT,
  SAFEGUARD_SHRINK,
  type SafeguardOptions,
  safeguard,
  safeguardFires,
  safeguardTriggered,
  shrinkGradient,
} from './safeguard.js';
export { canReadSync, type TransformedGradients, transformGradients } from './step.js';
export {
  chain,
  type GradientTransform,
  type ParamInfo,
  type Params,
  type PluginState,
  type ReadValues,
  type StepContext,
  type StepOutcome,
  type StepReplacement,
  type TransformConfig,
  type TransformResult,
  type TransformRole,
  transformToConfig,
} from './transform.js';
export { type GradientClippingOptions, withGradientClipping } from './with-gradient-clipping.js';
