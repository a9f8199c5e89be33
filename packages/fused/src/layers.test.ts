// The module graph of @cliffguard/fused, in layers from the bottom: problem.ts (the array-level
// contract), engines/ (JavaScript and WebAssembly), kernels/ (the tfjs kernels over the engines,
// their names and gradient), webgpu/ (the WGSL programs and their kernels), then the
// implementation on top (ops, fusedImplementation, stacked, info, register, index). A module imports
// only from its own layer or below, and there is no circle. Imports are read by TypeScript's own
// pre-processor, types included.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  findCircle,
  localGraph,
  type ModuleImports,
  moduleImports,
  upwardImports as upward,
} from '@cliffguard/testing/layers';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

const LAYERS = ['problem', 'engines', 'kernels', 'webgpu', 'implementation'] as const;
type Layer = (typeof LAYERS)[number];

/** The layer of a module, by its path relative to src ('engines/wasm/plan.ts'). */
function layerOf(file: string): Layer {
  if (file === 'problem.ts') return 'problem';
  const top = file.split('/')[0];
  if (top === 'engines' || top === 'kernels' || top === 'webgpu') return top;
  return 'implementation';
}

/** Imports that go up a layer, as 'from → to'. */
function upwardImports(graph: Map<string, ModuleImports>): string[] {
  return upward(localGraph(graph), (file) => LAYERS.indexOf(layerOf(file)));
}

describe('the import graph of @cliffguard/fused', () => {
  const graph = moduleImports(src);

  it('puts each module in its layer and finds an upward import (the check itself)', () => {
    const up = new Map<string, ModuleImports>([
      ['engines/js.ts', { local: ['problem.ts', 'kernels/names.ts'], packages: [] }],
      ['webgpu/kernels.ts', { local: ['kernels/names.ts', 'ops.ts'], packages: [] }],
      ['ops.ts', { local: ['webgpu/kernels.ts'], packages: [] }],
    ]);
    expect(upwardImports(up)).toEqual(['engines/js.ts → kernels/names.ts', 'webgpu/kernels.ts → ops.ts']);
    expect(layerOf('engines/wasm/plan.ts')).toBe('engines');
    expect(layerOf('webgpu/programs/common.ts')).toBe('webgpu');
    expect(layerOf('register.ts')).toBe('implementation');
  });

  it('reads every module, in every layer, and resolves every local import to one of them', () => {
    expect(graph.size).toBeGreaterThan(30);
    for (const layer of LAYERS) expect([...graph.keys()].some((f) => layerOf(f) === layer)).toBe(true);
    const unresolved = [...graph].flatMap(([from, { local }]) =>
      local.filter((to) => !graph.has(to)).map((to) => `${from} → ${to}`),
    );
    expect(unresolved).toEqual([]);
  });

  it('has no circle, type imports included', () => {
    expect(findCircle(localGraph(graph))).toBeNull();
  });

  it('imports only from the same layer or below (problem → engines → kernels → webgpu → implementation)', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('keeps problem.ts and the engines free of tfjs (plain typed arrays)', () => {
    expect(graph.get('problem.ts')?.local).toEqual([]);
    const tfjs = [...graph]
      .filter(([file]) => layerOf(file) === 'problem' || layerOf(file) === 'engines')
      .flatMap(([file, { packages }]) =>
        packages.filter((p) => p.startsWith('@tensorflow/')).map((p) => `${file} → ${p}`),
      );
    expect(tfjs).toEqual([]);
  });
});
