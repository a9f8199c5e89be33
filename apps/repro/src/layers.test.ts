// The module graph of apps/repro has no circle, and its folders form layers: a module imports
// only from its own layer or the ones below it. Bottom to top: core/ (shared types, checkpoint
// files, ids, paths, the paper's table), training/ (the training loops), report/ (rendering),
// experiments/ (definitions only), runner/, then the commands at src/. Imports (types and dynamic
// imports included) are read by TypeScript's own pre-processor.
import { dirname, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCircle, localGraph, moduleImports, upwardImports as upward } from '@cliffguard/testing/layers';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

/** The layers, bottom first; '.' is src/ itself (cli, commands, tour, timing, the results index). */
const LAYERS = ['core', 'training', 'report', 'experiments', 'runner', '.'] as const;

/** Every source module (tests and test helpers left out), as a path under src/, and the local modules it imports. */
const importGraph = () => localGraph(moduleImports(src, ['test-helpers.ts']));

/** The folder of a module under src/ ('.' for src/ itself). */
const folderOf = (module: string) => posix.dirname(module);
const layerOf = (module: string) => LAYERS.indexOf(folderOf(module) as (typeof LAYERS)[number]);

/** Every import that runs up the layers, as 'importer → imported'. */
const upwardImports = (graph: Map<string, string[]>) => upward(graph, layerOf);

describe('the import graph of apps/repro', () => {
  it('finds an upward import where there is one (the check itself)', () => {
    expect(
      upwardImports(
        new Map([
          ['core/a.ts', ['training/b.ts']],
          ['runner/c.ts', ['core/a.ts', 'experiments/d.ts', 'runner/e.ts']],
          ['cli.ts', ['runner/c.ts']],
        ]),
      ),
    ).toEqual(['core/a.ts → training/b.ts']);
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
