/**
 * How the engine splits one pass over the thread pair (threads.ts): forward and BPTT by batch rows
 * (independent recurrences), the head by time steps, the weight gradients by output columns.
 */
import { isLastStepHead, type SequenceProblem, type TrainingProblem } from '../../problem.js';
import type { FusedExports } from './module.js';
import type { PlanLayout } from './plan.js';
import type { WasmThreadPair } from './threads.js';

/** Half of n, rounded to a multiple of 4 (the micro-kernel's rows, the SIMD lanes). */
const half4 = (n: number) => Math.min(n, Math.max(0, Math.round(n / 8) * 4));

/** forward() on two threads: batch rows split for the recurrence, time steps for the head. */
export function forwardOnTwo(x: FusedExports, t: WasmThreadPair, L: PlanLayout, p: SequenceProblem): void {
  const { batch: B, time: T } = p;
  const bm = half4(B);
  t.both('forwardRows', [L.plan, 0, bm, 0], [L.plan, bm, B, 1]);
  if (isLastStepHead(p.head)) x.headSteps(L.plan, 0, T, 0, 0);
  else t.both('headSteps', [L.plan, 0, T >> 1, 0, 0], [L.plan, T >> 1, T, 0, 1]);
}

/** train() on two threads: the same phases, each split in two (see assembly/sequence.ts). */
export function trainOnTwo(
  x: FusedExports,
  t: WasmThreadPair,
  L: PlanLayout,
  p: TrainingProblem,
  combine: boolean,
): void {
  const { batch: B, time: T } = p;
  const bm = half4(B);
  t.both('forwardRows', [L.plan, 0, bm, 0], [L.plan, bm, B, 1]);
  let loss: number;
  if (isLastStepHead(p.head)) loss = x.headSteps(L.plan, 0, T, 1, 0);
  else {
    const [a, b] = t.both('headSteps', [L.plan, 0, T >> 1, 1, 0], [L.plan, T >> 1, T, 1, 1]);
    loss = a + b;
  }
  t.both('backwardRows', [L.plan, 0, bm, 0], [L.plan, bm, B, 1]);
  let omega = 0;
  let valid = 0;
  if (p.omega) {
    const [v0, v1] = t.both('omegaValidRows', [L.plan, 0, bm], [L.plan, bm, B]);
    valid = v0 + v1;
    const c = x.omegaNormaliser(L.plan, valid);
    const scale = combine ? Math.fround(p.omegaWeight ?? 0) : 1;
    const [s0, s1] = t.both('omegaScaleRows', [L.plan, 0, bm, c, scale], [L.plan, bm, B, c, scale]);
    omega = c * (s0 + s1);
  }
  const hm = half4(L.hp);
  const om = half4(L.op);
  t.both('gradientColumns', [L.plan, 0, hm, 0, om, 0], [L.plan, hm, L.hp, om, L.op, 1]);
  if (p.omega && !combine) t.both('omegaProduct', [L.plan, 0, hm, 0], [L.plan, hm, L.hp, 1]);
  new Float64Array(x.memory.buffer, L.at.RESULT, 3).set([loss, omega, valid]);
}
