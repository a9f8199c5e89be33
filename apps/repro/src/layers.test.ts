// The module graph of apps/repro has no circle, and its folders form layers: a module imports
// only from its own layer or the ones below it. Bottom to top: core/ (shared types, checkpoint
// files, ids, paths, the paper's table), training/ (the training loops), report/ (rendering),
// experiments/ (definitions only), runner/, then the commands at src/. Imports (types and dynamic
// imports included) are read by TypeScript's own pre-processor.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

/** The layers, bottom first; '.' is src/ itself (cli, commands, tour, timing, the results index). */
const LAYERS = ['core', 'training', 'report', 'experiments', 'runner', '.'] as const;

/** Every source module (tests and test helpers left out), as a path under src/, and the local modules it imports. */
function importGraph(): Map<string, string[]> {
  const modules = readdirSync(src, { recursive: true, encoding: 'utf8' })
    .map((f) => f.split('\\').join('/'))
    .filter((f) => f.endsWith('.ts') && !/\.test\.ts$/.test(f) && f !== 'test-helpers.ts')
    .sort();
  const graph = new Map<string, string[]>();
  for (const file of modules) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(src, file), 'utf8'), true, true);
    const local = importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith('./') || name.startsWith('../'))
      .map((name) => posix.join(posix.dirname(file), name).replace(/\.js$/, '.ts'));
    graph.set(file, [...new Set(local)]);
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

/** The folder of a module under src/ ('.' for src/ itself). */
const folderOf = (module: string) => posix.dirname(module);
const layerOf = (module: string) => LAYERS.indexOf(folderOf(module) as (typeof LAYERS)[number]);

/** Every import that runs up the layers, as 'importer -> imported'. */
function upwardImports(graph: Map<string, string[]>): string[] {
  const up: string[] = [];
  for (const [module, imports] of graph) {
    for (const imported of imports)
      if (layerOf(imported) > layerOf(module)) up.push(`${module} -> ${imported}`);
  }
  return up;
}

describe('the import graph of apps/repro', () => {
  it('finds a circle and an upward import where there is one (the checks themselves)', () => {
    const circle = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(findCircle(circle)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
    expect(
      findCircle(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
    ).toBeNull();
    expect(
      upwardImports(
        new Map([
          ['core/a.ts', ['training/b.ts']],
          ['runner/c.ts', ['core/a.ts', 'experiments/d.ts', 'runner/e.ts']],
          ['cli.ts', ['runner/c.ts']],
        ]),
      ),
    ).toEqual(['core/a.ts -> training/b.ts']);
  });

  it('has no circle, type imports included', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(35);
    expect(findCircle(graph)).toBeNull();
  });

  it('places every folder in a layer', () => {
    const folders = [...new Set([...importGraph().keys()].map(folderOf))];
    expect(folders.filter((f) => layerOf(`${f}/x.ts`) < 0)).toEqual([]);
  });

  it('never imports from a higher layer (core < training < report < experiments < runner < src/)', () => {
    expect(upwardImports(importGraph())).toEqual([]);
  });
});
