export {
  type ClipByGlobalNormOptions,
  clipByGlobalNorm,
  clipScale,
  globalNorm,
  type NormType,
} from './global-norm.js';
export type { GradientMap, Gradients, NamedGradient } from './gradients.js';
