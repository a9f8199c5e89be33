// The module graph of @cliffguard/rnn has no circle: implementation.ts (forward and gradients)
// sits below the training layer (model-update, paper-method, ensemble-step), which sits below
// the ensembles, the trainer and the index. Imports are read by TypeScript's own pre-processor, types included.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCircle, localGraph, moduleImports } from '@cliffguard/testing/layers';
import { describe, expect, it } from 'vitest';

const graph = localGraph(moduleImports(dirname(fileURLToPath(import.meta.url)), ['plain.test-helper.ts']));

describe('the import graph of @cliffguard/rnn', () => {
  it('has no circle, type imports included', () => {
    expect(graph.size).toBeGreaterThan(15);
    expect(findCircle(graph)).toBeNull();
  });

  it('implementation.ts imports nothing about training', () => {
    expect(graph.get('implementation.ts')).toEqual([]);
  });
});
