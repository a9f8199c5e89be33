import * as tf from '@tensorflow/tfjs-core';

/** One entry of the array that `model.fit` hands to `applyGradients` (tfjs-core does not export it). */
export interface NamedGradient {
  name: string;
  /** `undefined`/`null` for a variable that got no gradient (built-in optimizers skip it). */
  tensor?: tf.Tensor | null;
}

/** A gradient map as `tf.variableGrads` returns it; `null` marks a non-trainable variable. */
export type GradientMap = Record<string, tf.Tensor | null | undefined>;

/** Every form a gradient set takes in tfjs: a map, a `NamedTensor[]`, or a plain `Tensor[]`. */
export type Gradients = GradientMap | NamedGradient[] | Array<tf.Tensor | null | undefined>;

/** The tensors of a gradient set in order, with their names (`#i` for a plain array), nulls kept. */
export interface GradientEntry {
  name: string;
  tensor: tf.Tensor | null | undefined;
}

function isNamedGradient(x: unknown): x is NamedGradient {
  return x != null && !(x instanceof tf.Tensor) && typeof (x as NamedGradient).name === 'string';
}

/** Lists a gradient set's entries in its own order (map insertion order, array order). */
export function gradientEntries(grads: Gradients): GradientEntry[] {
  if (grads == null || typeof grads !== 'object') {
    throw new TypeError(
      `expected gradients as a NamedTensorMap, a NamedTensor[] or a Tensor[], got ${String(grads)}`,
    );
  }
  if (Array.isArray(grads)) {
    return grads.map((g, i) =>
      isNamedGradient(g)
        ? { name: g.name, tensor: g.tensor }
        : { name: `#${i}`, tensor: g as tf.Tensor | null },
    );
  }
  return Object.keys(grads).map((name) => ({ name, tensor: grads[name] }));
}

/** The non-null tensors of a gradient set; throws when there is none (an empty gradient set). */
export function presentTensors(grads: Gradients, who: string): tf.Tensor[] {
  const entries = gradientEntries(grads);
  const tensors: tf.Tensor[] = [];
  for (const e of entries) if (e.tensor != null) tensors.push(e.tensor);
  if (tensors.length === 0) {
    throw new Error(
      `${who}: the gradient set is empty (${entries.length} entries, none holds a tensor); ` +
        'expected at least one gradient tensor',
    );
  }
  return tensors;
}

/**
 * Rebuilds a gradient set in the input's own form (map, NamedTensor[] or Tensor[]), names,
 * order and length kept, with `f` applied to every present tensor; null entries pass through.
 */
export function mapGradients<G extends Gradients>(
  grads: G,
  f: (tensor: tf.Tensor, name: string, index: number) => tf.Tensor,
): G {
  if (Array.isArray(grads)) {
    return grads.map((g, i) => {
      if (isNamedGradient(g)) {
        return g.tensor == null
          ? { name: g.name, tensor: g.tensor }
          : { name: g.name, tensor: f(g.tensor, g.name, i) };
      }
      return g == null ? g : f(g as tf.Tensor, `#${i}`, i);
    }) as G;
  }
  const out: GradientMap = {};
  Object.keys(grads).forEach((name, i) => {
    const t = (grads as GradientMap)[name];
    out[name] = t == null ? t : f(t, name, i);
  });
  return out as G;
}
