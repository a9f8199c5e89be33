/**
 * Implementations by name, so a model can say `implementation: 'fused'` and a package that
 * provides one (e.g. @cliffguard/fused) registers it with {@link registerImplementation}.
 */
import type { TrainableImplementation } from './ensemble-step.js';
import { referenceImplementation } from './reference.js';

const registry = new Map<string, TrainableImplementation>([
  [referenceImplementation.name, referenceImplementation],
]);

function assertImplementation(impl: unknown): asserts impl is TrainableImplementation {
  const i = impl as Partial<TrainableImplementation> | null;
  const ok =
    i != null &&
    typeof i.name === 'string' &&
    i.name.length > 0 &&
    typeof i.supports === 'function' &&
    typeof i.forward === 'function' &&
    typeof i.lossAndGradients === 'function';
  if (!ok) {
    throw new TypeError(
      'an RnnImplementation needs a non-empty name and the functions supports, forward and lossAndGradients',
    );
  }
}

/** Adds (or replaces) an implementation under its `name`. 'reference' cannot be replaced. */
export function registerImplementation(impl: TrainableImplementation): void {
  assertImplementation(impl);
  if (impl.name === referenceImplementation.name && impl !== referenceImplementation) {
    throw new Error(`the name 'reference' is taken by the op-by-op ground truth; choose another name`);
  }
  registry.set(impl.name, impl);
}

/** The implementation registered as `name`; throws naming the registered ones otherwise. */
export function getImplementation(name: string): TrainableImplementation {
  const impl = registry.get(name);
  if (!impl) {
    throw new RangeError(
      `no RNN implementation named ${JSON.stringify(name)}; registered: ${[...registry.keys()].join(', ')}` +
        ' (a package that provides one registers it with registerImplementation)',
    );
  }
  return impl;
}

/** Names of the registered implementations. */
export function listImplementations(): string[] {
  return [...registry.keys()];
}

/** An implementation given by name or as an object (checked). */
export function resolveImplementation(
  impl: string | TrainableImplementation | undefined,
): TrainableImplementation {
  if (impl === undefined) return referenceImplementation;
  if (typeof impl === 'string') return getImplementation(impl);
  assertImplementation(impl);
  return impl;
}
