/**
 * Starting a tfjs backend in this Node process, and what it reports about itself.
 * cpu and wasm always start; webgpu needs the `webgpu` package (Dawn) and a Vulkan driver.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';

export const BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Flags that change what a backend's numbers mean (SIMD, threads, software adapter). */
export type BackendFlags = Record<string, string | number | boolean>;

export interface BackendStart {
  backend: string;
  /** null when it started, else why not */
  unavailable: string | null;
  flags: BackendFlags;
}

/** Checks a list of backend names; an unknown name is an error listing the valid ones. */
export function checkBackends(names: string[]): BackendName[] {
  if (names.length === 0) throw new Error(`no backend given; valid backends: ${BACKENDS.join(', ')}`);
  return names.map((n) => {
    if (!(BACKENDS as readonly string[]).includes(n)) {
      throw new Error(`unknown backend "${n}"; valid backends: ${BACKENDS.join(', ')}`);
    }
    return n as BackendName;
  });
}

const CHROMIUM_DIR = '/usr/lib/chromium';
const SWIFTSHADER_ICD = `${CHROMIUM_DIR}/vk_swiftshader_icd.json`;
const SYSTEM_LIBVULKAN = [
  '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  '/usr/lib/aarch64-linux-gnu/libvulkan.so.1',
  '/usr/lib/libvulkan.so.1',
  '/usr/lib64/libvulkan.so.1',
];
const SYSTEM_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];

/**
 * The environment for a webgpu child process. Dawn dlopens libvulkan.so.1, and the dynamic
 * loader reads LD_LIBRARY_PATH only at process start, so this is decided before the child starts:
 * - a Vulkan driver of the system's (an ICD file) is tried first (the child falls back to
 *   SwiftShader when it gives no adapter, see startWebgpu);
 * - otherwise Debian Chromium's SwiftShader driver, with Chromium's own copy of libvulkan.so.1
 *   when the system has none (Debian's chromium package does not pull in libvulkan1).
 */
export function webgpuChildEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  const systemLoader = SYSTEM_LIBVULKAN.some((p) => existsSync(p));
  const systemIcd = SYSTEM_ICD_DIRS.some(
    (d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')),
  );
  if (!out.VK_ICD_FILENAMES && !(systemLoader && systemIcd) && existsSync(SWIFTSHADER_ICD)) {
    out.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  if (!systemLoader && existsSync(`${CHROMIUM_DIR}/libvulkan.so.1`)) {
    out.LD_LIBRARY_PATH = [CHROMIUM_DIR, out.LD_LIBRARY_PATH].filter(Boolean).join(':');
  }
  return out;
}

interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/**
 * WebGPU in Node (toolchain.md): install Dawn's globals and navigator.gpu, then import the
 * tfjs webgpu backend, which registers itself only when navigator.gpu exists at import.
 */
type Gpu = { requestAdapter(): Promise<{ info?: AdapterInfo } | null> };

async function startWebgpu(): Promise<BackendStart> {
  const flags: BackendFlags = {};
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  g.navigator ??= {};
  let gpu = create([]) as Gpu;
  let adapter = await gpu.requestAdapter();
  if (!adapter && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    // the system's Vulkan drivers gave Dawn nothing (Debian 12's Mesa 22 lavapipe is rejected):
    // a new Dawn instance re-reads VK_ICD_FILENAMES, so try Chromium's SwiftShader
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    flags.fallback = 'the system Vulkan drivers gave no adapter; SwiftShader';
    gpu = create([]) as Gpu;
    adapter = await gpu.requestAdapter();
  }
  if (process.env.VK_ICD_FILENAMES) flags.vk_icd = process.env.VK_ICD_FILENAMES;
  if (process.env.LD_LIBRARY_PATH) flags.ld_library_path = process.env.LD_LIBRARY_PATH;
  if (!adapter) {
    const reason = process.env.VK_ICD_FILENAMES
      ? `no WebGPU adapter from Dawn with the Vulkan driver ${process.env.VK_ICD_FILENAMES}`
      : 'no WebGPU adapter: no Vulkan driver (install chromium for its SwiftShader driver, or a GPU driver)';
    return { backend: 'webgpu', unavailable: reason, flags };
  }
  g.navigator.gpu = gpu;
  const info = adapter.info ?? {};
  for (const k of ['vendor', 'architecture', 'device', 'description'] as const) {
    if (info[k]) flags[`adapter_${k}`] = info[k] as string;
  }
  flags.software =
    Boolean(info.isFallbackAdapter) ||
    process.env.VK_ICD_FILENAMES === SWIFTSHADER_ICD ||
    /swiftshader|llvmpipe|lavapipe/i.test(`${info.architecture} ${info.description} ${info.device}`);
  await import('@tensorflow/tfjs-backend-webgpu');
  return { backend: 'webgpu', unavailable: null, flags };
}

/** Imports and sets backend `name`; returns why it is unavailable instead of throwing. */
export async function startBackend(name: BackendName): Promise<BackendStart> {
  let start: BackendStart = { backend: name, unavailable: null, flags: {} };
  try {
    if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (name === 'webgpu') start = await startWebgpu();
    if (start.unavailable !== null) return start;
    if (!(await tf.setBackend(name))) {
      return { ...start, unavailable: `tf.setBackend('${name}') returned false` };
    }
    await tf.ready();
  } catch (err) {
    return { ...start, unavailable: `${name} failed to start: ${(err as Error).message}` };
  }
  if (name === 'wasm') {
    start.flags.simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    start.flags.threads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  }
  start.flags.node_flags = process.execArgv.join(' ');
  return start;
}
