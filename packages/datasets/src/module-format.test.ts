import { execFileSync } from 'node:child_process';
import { describeModuleFormat, packageJsonOf } from '@cliffguard/testing/module-format';
import { expect, it } from 'vitest';

describeModuleFormat('@cliffguard/datasets', import.meta.url);

const { root, pkg } = packageJsonOf(import.meta.url);

/** What Node itself loads for `import('@cliffguard/datasets')` here, under extra conditions. */
function nodeEntry(conditions: string[]): string {
  const script =
    "const m = await import('@cliffguard/datasets'); console.log(typeof m.createTask, typeof m.loadPtbChars);";
  const flags = conditions.map((c) => `--conditions=${c}`);
  return execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
    cwd: new URL('.', root),
    encoding: 'utf8',
  }).trim();
}

it("the main entry's browser condition is the browser build; Node still gets the Node build", () => {
  expect(pkg.exports['.'].browser.default).toBe(pkg.exports['./browser'].import.default);
  expect(pkg.exports['.'].browser.types).toBe(pkg.exports['./browser'].import.types);
  expect(nodeEntry([])).toBe('function function'); // the Node build: with the PTB loader
  expect(nodeEntry(['browser'])).toBe('function undefined'); // the browser build: tasks, no loaders
});
