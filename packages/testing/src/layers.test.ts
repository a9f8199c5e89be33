// The layer checks themselves, on made-up graphs and on this folder.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findCircle, localGraph, moduleImports, upwardImports } from './layers.js';

describe('findCircle, upwardImports, moduleImports', () => {
  it('finds a circle where there is one, and none where there is none', () => {
    const circle = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(findCircle(circle)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
    const line = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', []],
    ]);
    expect(findCircle(line)).toBeNull();
  });

  it('lists the imports that go up a layer', () => {
    const rank = (file: string) => ['core', 'training', 'runner'].indexOf(file.split('/')[0]);
    const graph = new Map([
      ['core/a.ts', ['training/b.ts']],
      ['runner/c.ts', ['core/a.ts', 'runner/e.ts']],
      ['training/b.ts', ['core/a.ts']],
    ]);
    expect(upwardImports(graph, rank)).toEqual(['core/a.ts → training/b.ts']);
  });

  it('reads a real folder: local imports (types included) and packages, tests left out', () => {
    const graph = moduleImports(dirname(fileURLToPath(import.meta.url)));
    expect([...graph.keys()]).not.toContain('layers.test.ts');
    expect(graph.get('layers.ts')?.packages).toEqual(['node:fs', 'node:path', 'typescript']);
    expect(localGraph(graph).get('index.ts')).toEqual(
      expect.arrayContaining(['backends.ts', 'leaks.ts', 'data.ts']),
    );
  });
});
