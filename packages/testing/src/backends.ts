import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe } from 'vitest';

export interface BackendInfo {
  /** tfjs backend name: 'cpu' | 'wasm' | 'webgpu'. */
  name: string;
  /** True on a software adapter (SwiftShader, lavapipe): correct but seconds per kernel. */
  software: boolean;
}

interface Availability {
  info: BackendInfo;
  /** Why the backend cannot run here, or null when it can. */
  unavailable: string | null;
}

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Tries to start WebGPU in Node through the `webgpu` package (Dawn). It needs a Vulkan
 * driver; Chromium's SwiftShader ICD is used when nothing else is configured.
 * `CLIFFGUARD_WEBGPU=off` turns the attempt off.
 */
async function probeWebgpu(): Promise<Availability> {
  const info = { name: 'webgpu', software: false };
  if (process.env.CLIFFGUARD_WEBGPU === 'off') {
    return { info, unavailable: 'CLIFFGUARD_WEBGPU=off' };
  }
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  try {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
    g.navigator ??= {};
    const gpu = create([]) as {
      requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean } } | null>;
    };
    const adapter = await gpu.requestAdapter();
    if (!adapter) {
      return {
        info,
        unavailable:
          'no WebGPU adapter (no Vulkan driver: install chromium for SwiftShader, or a GPU driver)',
      };
    }
    g.navigator.gpu = gpu;
    info.software =
      Boolean(adapter.info?.isFallbackAdapter) || process.env.VK_ICD_FILENAMES === SWIFTSHADER_ICD;
    await import('@tensorflow/tfjs-backend-webgpu');
    return { info, unavailable: null };
  } catch (err) {
    return { info, unavailable: `webgpu failed to start: ${(err as Error).message}` };
  }
}

const webgpu = await probeWebgpu();
const all: Availability[] = [
  { info: { name: 'cpu', software: false }, unavailable: null },
  { info: { name: 'wasm', software: false }, unavailable: null },
  webgpu,
];

/** The backends a suite can run on in this process. */
export function availableBackends(): BackendInfo[] {
  return all.filter((a) => a.unavailable === null).map((a) => a.info);
}

/**
 * Runs `suite` once per tfjs backend: cpu and wasm always, webgpu when an adapter
 * starts. An unavailable backend shows up as a skipped suite whose title says why.
 * `only` restricts the backends (for example a slow end-to-end test to cpu and wasm).
 */
export function describeBackends(
  name: string,
  suite: (backend: BackendInfo) => void,
  options: { only?: string[] } = {},
): void {
  for (const a of all) {
    if (options.only && !options.only.includes(a.info.name)) continue;
    if (a.unavailable !== null) {
      describe.skip(`${name} [${a.info.name}] (skipped: ${a.unavailable})`, () => {
        suite(a.info);
      });
      continue;
    }
    describe(`${name} [${a.info.name}]`, () => {
      beforeAll(async () => {
        const ok = await tf.setBackend(a.info.name);
        if (!ok) throw new Error(`tf.setBackend('${a.info.name}') failed`);
        await tf.ready();
      });
      suite(a.info);
    });
  }
}
