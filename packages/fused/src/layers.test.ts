// The module graph of @cliffguard/fused, in layers from the bottom: problem.ts (the array-level
// contract), engines/ (JavaScript and WebAssembly), kernels/ (the tfjs kernels over the engines,
// their names and gradient), webgpu/ (the WGSL programs and their kernels), then the
// implementation on top (ops, fusedImplementation, stacked, info, register, index). A module imports
// only from its own layer or below, and there is no circle. Imports are read by TypeScript's own
// pre-processor, types included.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
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

/** Every .ts file under `dir`, as paths relative to src with '/' separators. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [relative(src, path).split(sep).join('/')] : [];
  });
}

interface ModuleImports {
  /** modules of src it imports (relative to src) */
  local: string[];
  /** packages it imports */
  packages: string[];
}

/** Every source module (tests left out) with what it imports, types and re-exports included. */
function importGraph(): Map<string, ModuleImports> {
  const modules = sourceFiles(src).filter((f) => !/\.test\.ts$/.test(f));
  const graph = new Map<string, ModuleImports>();
  for (const file of modules) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(src, file), 'utf8'), true, true);
    const names = importedFiles.map((i) => i.fileName);
    const local = names
      .filter((name) => name.startsWith('./') || name.startsWith('../'))
      .map((name) => posix.normalize(posix.join(posix.dirname(file), name)).replace(/\.js$/, '.ts'))
      // the generated WebAssembly binaries (build/) lie outside src
      .filter((path) => !path.startsWith('../'));
    const packages = names.filter((name) => !name.startsWith('.'));
    graph.set(file, { local: [...new Set(local)], packages: [...new Set(packages)] });
  }
  return graph;
}

/** One circle of `graph` as a path a → … → a, or null. */
function findCircle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const circle = visit(next);
      if (circle) return circle;
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const circle = visit(node);
    if (circle) return circle;
  }
  return null;
}

/** Imports that go up a layer, as 'from → to'. */
function upwardImports(graph: Map<string, ModuleImports>): string[] {
  const rank = (file: string) => LAYERS.indexOf(layerOf(file));
  return [...graph].flatMap(([from, { local }]) =>
    local.filter((to) => rank(to) > rank(from)).map((to) => `${from} → ${to}`),
  );
}

describe('the import graph of @cliffguard/fused', () => {
  const graph = importGraph();
  const localGraph = new Map([...graph].map(([file, { local }]) => [file, local]));

  it('finds a circle and an upward import where there is one (the checks themselves)', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(findCircle(g)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
    expect(
      findCircle(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
    ).toBeNull();
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
    expect(findCircle(localGraph)).toBeNull();
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
