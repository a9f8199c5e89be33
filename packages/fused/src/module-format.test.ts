import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

// The package as npm users meet it: ESM-only, require() fails with the line to write instead, and
// every entry package.json names exists once the package is built (run after `pnpm build`).
const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));

/** Every file path in an "exports" value, through nested conditions. */
function targets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(targets);
}

it("require('@cliffguard/fused') throws: ESM-only, with the dynamic import to use", () => {
  const require = createRequire(import.meta.url);
  expect(require.resolve('@cliffguard/fused')).toMatch(/[\\/]esm-only\.cjs$/);
  let error: unknown;
  try {
    require('@cliffguard/fused');
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(Error);
  const { message, code } = error as NodeJS.ErrnoException;
  expect(message).toContain('@cliffguard/fused is ESM-only');
  expect(message).toMatch(/const \{ \w+(, \w+)* \} = await import\('@cliffguard\/fused'\);/);
  expect(code).toBe('ERR_REQUIRE_ESM');
});

it('main and types (node10 resolution) point at the built entry', () => {
  expect(pkg.main).toBe('./dist/index.js');
  expect(pkg.types).toBe('./dist/index.d.ts');
  for (const file of [pkg.main, pkg.types]) expect(existsSync(new URL(file, root)), file).toBe(true);
});

it('every file "exports" names exists and ships', () => {
  const files = targets(pkg.exports);
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    expect(existsSync(new URL(file, root)), file).toBe(true);
    const shipped = pkg.files.some((entry: string) => file.replace(/^\.\//, '').startsWith(entry));
    expect(shipped, `${file} is in "files"`).toBe(true);
  }
});
