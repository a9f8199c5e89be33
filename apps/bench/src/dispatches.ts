/**
 * Counts the GPU compute dispatches a piece of work issues (issue 19: `dispatches_per_step`).
 * Browser-safe: no node imports.
 *
 * Where the count is taken: `GPUComputePassEncoder.prototype.dispatchWorkgroups` (and
 * `dispatchWorkgroupsIndirect`), wrapped for the duration of one step. Every compute dispatch on
 * the device goes through one of these two methods, whoever records it: tfjs-backend-webgpu's
 * `recordAndSubmit` (all stock kernels, and @cliffguard/fused's programs through
 * `runWebGPUProgram`) as well as any code that encodes its own pass. The alternatives are
 * weaker: the backend's `dispatchCountInPass` is reset at every submit (every
 * WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches and at every readback), `runWebGPUProgram` counts
 * programs that may dispatch nothing (an empty output returns early) and misses dispatches
 * recorded elsewhere, and `commandQueueOwnedIds` tracks tensors, not dispatches. The count is
 * taken at recording (synchronously, when a kernel runs), so it is deterministic: it does not
 * depend on when the queue is submitted or how long the GPU takes.
 *
 * The prototype is the global one (`webgpu`'s `globals` in Node, the browser's own): the
 * encoders Dawn or the browser hand out inherit from it, which `countDispatches` relies on and
 * the bench test checks (a webgpu step that counts 0 fails the test).
 */

type DispatchMethod = (...args: unknown[]) => void;
interface PassPrototype {
  dispatchWorkgroups?: DispatchMethod;
  dispatchWorkgroupsIndirect?: DispatchMethod;
}

/** The compute pass encoder's prototype, or null where there is no WebGPU in this realm. */
function passPrototype(): PassPrototype | null {
  const ctor = (globalThis as { GPUComputePassEncoder?: { prototype?: PassPrototype } })
    .GPUComputePassEncoder;
  const proto = ctor?.prototype;
  return proto && typeof proto.dispatchWorkgroups === 'function' ? proto : null;
}

/** Whether dispatches can be counted here (a WebGPU compute pass encoder exists). */
export function canCountDispatches(): boolean {
  return passPrototype() !== null;
}

/**
 * Runs `work` with the compute dispatches counted; returns its result and the count, or a
 * count of null where there is no WebGPU. The wrappers are removed afterwards, also when `work`
 * throws. Not reentrant: one count at a time (the bench steps one stack at a time).
 */
export async function countDispatches<T>(
  work: () => Promise<T>,
): Promise<{ result: T; dispatches: number | null }> {
  const proto = passPrototype();
  if (proto === null) return { result: await work(), dispatches: null };
  let dispatches = 0;
  const names = ['dispatchWorkgroups', 'dispatchWorkgroupsIndirect'] as const;
  // own property descriptors, so that restoring puts back exactly what was there
  const saved = names.map((name) => [name, Object.getOwnPropertyDescriptor(proto, name)] as const);
  for (const [name, desc] of saved) {
    const original = desc?.value as DispatchMethod | undefined;
    if (typeof original !== 'function') continue;
    Object.defineProperty(proto, name, {
      ...desc,
      value: function (this: unknown, ...args: unknown[]) {
        dispatches++;
        return original.apply(this, args);
      },
    });
  }
  try {
    const result = await work();
    return { result, dispatches };
  } finally {
    for (const [name, desc] of saved) if (desc) Object.defineProperty(proto, name, desc);
  }
}
