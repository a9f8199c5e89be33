import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as browser from './browser.js';

/** Runtime (non-type) imports reachable from a source file, following relative imports. */
function externalImports(file: URL, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(file.href)) return out;
  seen.add(file.href);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)) {
    const spec = m[1];
    if (spec.startsWith('./')) {
      for (const x of externalImports(new URL(spec.replace(/\.js$/, '.ts'), file), seen)) out.add(x);
    } else out.add(spec);
  }
  return out;
}

it('the browser entry reaches no Node builtin or tar (the Node-only loaders)', () => {
  const imports = externalImports(new URL('./browser.ts', import.meta.url));
  expect([...imports].sort()).toEqual(['@tensorflow/tfjs-core']);
  // and the node entry does reach them (the check can see them)
  const all = externalImports(new URL('./index.ts', import.meta.url));
  expect(all.has('tar') && all.has('node:fs')).toBe(true);
});

it('the browser entry offers the synthetic tasks and their evaluation', () => {
  expect(typeof browser.createTask).toBe('function');
  expect(typeof browser.buildEvalSet).toBe('function');
  expect(typeof browser.createCharBatches).toBe('function');
});
