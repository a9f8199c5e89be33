// The module graph of @cliffguard/rnn has no circle: implementation.ts (forward and gradients)
// sits below the training layer (train-step, paper-method, ensemble-step), which sits below
// ensembles and the index. Imports are read by TypeScript's own pre-processor.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

/** Every source module (tests and test helpers left out) and the local modules it imports, types included. */
function importGraph(): Map<string, string[]> {
  const modules = readdirSync(src).filter((f) => f.endsWith('.ts') && !/\.test(-helper)?\.ts$/.test(f));
  const graph = new Map<string, string[]>();
  for (const file of modules) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(src, file), 'utf8'), true, true);
    const local = importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith('./'))
      .map((name) => name.slice(2).replace(/\.js$/, '.ts'));
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

describe('the import graph of @cliffguard/rnn', () => {
  it('finds a circle where there is one (the check itself)', () => {
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
  });

  it('has no circle, type imports included', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(15);
    expect(findCircle(graph)).toBeNull();
  });

  it('implementation.ts imports nothing about training', () => {
    expect(importGraph().get('implementation.ts')).toEqual([]);
  });
});
