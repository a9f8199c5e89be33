/** The machine a result file was measured on. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

export interface MachineInfo {
  cpu_model: string;
  cores: number;
  memory_gib: number;
  platform: string;
  node: string;
  /** versions of the tfjs packages in use */
  tfjs: Record<string, string>;
  /** 1-minute load average at the start and end of the run: high means a busy, shared machine */
  loadavg_start: number;
  loadavg_end?: number;
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    const entry = require.resolve(name);
    // walk up from the entry to the package's own package.json
    let dir = entry;
    for (;;) {
      const parent = dir.slice(0, dir.lastIndexOf('/'));
      if (parent === dir || parent === '') return 'unknown';
      dir = parent;
      try {
        const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (pkg.name === name) return pkg.version ?? 'unknown';
      } catch {
        // not a package folder yet
      }
    }
  } catch {
    return 'not installed';
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const tfjs: Record<string, string> = {};
  for (const p of ['core', 'backend-cpu', 'backend-wasm', 'backend-webgpu', 'layers']) {
    tfjs[`@tensorflow/tfjs-${p}`] = packageVersion(`@tensorflow/tfjs-${p}`);
  }
  tfjs.webgpu = packageVersion('webgpu');
  return {
    cpu_model: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    tfjs,
    loadavg_start: os.loadavg()[0],
  };
}
