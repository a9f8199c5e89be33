/**
 * Starts a tfjs backend in the current thread (each worker thread has its own tfjs and backend).
 * Importing the wasm backend makes it the default, so the chosen one is always set explicitly.
 */
import { existsSync } from 'node:fs';

export const BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export function parseBackend(name: string): BackendName {
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got '${name}'`);
  }
  return name as BackendName;
}

/**
 * Points Dawn at Chromium's SwiftShader Vulkan driver when nothing else is configured. Call it in
 * the main thread before starting workers: a worker's process.env is a copy, so setting it there
 * never reaches the native library.
 */
export function prepareWebgpuEnvironment(): void {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD))
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
}

async function startWebgpu(): Promise<void> {
  prepareWebgpuEnvironment();
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  g.navigator ??= {};
  const gpu = create([]) as { requestAdapter(): Promise<unknown | null> };
  if (!(await gpu.requestAdapter())) {
    throw new Error(
      '--backend webgpu: no WebGPU adapter (needs a Vulkan driver: a GPU driver, or chromium for SwiftShader)',
    );
  }
  g.navigator.gpu = gpu;
  await import('@tensorflow/tfjs-backend-webgpu');
}

let started: string | undefined;

export async function useBackend(name: BackendName): Promise<void> {
  if (started === name) return;
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (name === 'webgpu') await startWebgpu();
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
  started = name;
}
