import { agc, agcFromConfig, autoClip, averageNormClip } from './adaptive.js';
import { globalNormClip, perTensorNormClip, valueClip } from './clipping.js';
import { nonFiniteGuard } from './guard.js';
import { normMonitor } from './monitor.js';
import { safeguard } from './safeguard.js';
import { chain, type GradientTransform, type TransformConfig } from './transform.js';

/** Rebuilds a transform from the `config` its `getConfig` returned. */
export type TransformFactory = (config: Record<string, unknown>) => GradientTransform;

// biome-ignore lint/suspicious/noExplicitAny: configs are plain data checked by each factory
type AnyConfig = Record<string, any>;
const orUndefined = <T>(x: T | null): T | undefined => (x === null ? undefined : x);

const factories = new Map<string, TransformFactory>([
  ['chain', (c: AnyConfig) => chain(...(c.transforms as TransformConfig[]).map(transformFromConfig))],
  ['globalNormClip', (c: AnyConfig) => globalNormClip({ maxNorm: c.maxNorm, normType: c.normType })],
  ['perTensorNormClip', (c: AnyConfig) => perTensorNormClip({ maxNorm: c.maxNorm })],
  ['valueClip', (c: AnyConfig) => valueClip({ maxValue: c.maxValue })],
  ['nonFiniteGuard', (c: AnyConfig) => nonFiniteGuard({ policy: c.policy, normType: c.normType ?? 2 })],
  [
    'safeguard',
    (c: AnyConfig) => safeguard({ maxNorm: c.maxNorm, shrink: c.shrink, recurrent: c.recurrent }),
  ],
  [
    'averageNormClip',
    (c: AnyConfig) =>
      averageNormClip({
        factor: c.factor,
        window: c.window,
        warmup: c.warmup,
        initialMaxNorm: orUndefined(c.initialMaxNorm),
      }),
  ],
  [
    'autoClip',
    (c: AnyConfig) => autoClip({ percentile: c.percentile, window: c.window ?? Number.POSITIVE_INFINITY }),
  ],
  ['agc', (c: AnyConfig) => agc(agcFromConfig(c))],
  ['normMonitor', (c: AnyConfig) => normMonitor({ window: c.window, normType: c.normType })],
]);

/**
 * Makes a custom transform loadable from a saved optimizer config. The name must be the
 * transform's `name`, camelCase without underscores (tfjs rewrites snake_case strings on load).
 */
export function registerTransform(name: string, factory: TransformFactory): void {
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9.]*$/.test(name)) {
    throw new RangeError(`registerTransform: name must be camelCase letters and digits, got ${String(name)}`);
  }
  if (typeof factory !== 'function') {
    throw new TypeError(
      `registerTransform: factory for '${name}' must be a function, got ${String(factory)}`,
    );
  }
  if (factories.has(name))
    throw new Error(`registerTransform: a transform named '${name}' is already registered`);
  factories.set(name, factory);
}

/** Rebuilds a transform (or a whole chain) from `{ name, config }`. */
export function transformFromConfig(config: TransformConfig): GradientTransform {
  const factory = config == null ? undefined : factories.get(config.name);
  if (!factory) {
    const name = config == null ? String(config) : `'${config.name}'`;
    throw new Error(
      `transformFromConfig: unknown transform ${name}; register a custom one with registerTransform(name, fromConfig)`,
    );
  }
  return factory(config.config as Record<string, unknown>);
}
