// A publishable package as npm users meet it: ESM-only, require() fails with the line to write
// instead, and every entry package.json names exists once the package is built (the tests run
// after `pnpm build`). Shared by the four packages' module-format.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

/** Every file path in an "exports" value, through nested conditions. */
function targets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(targets);
}

/** The fields of a package.json these tests read. */
export interface PackageJson {
  main?: string;
  types?: string;
  files: string[];
  // biome-ignore lint/suspicious/noExplicitAny: "exports" is a nested map of conditions, read as data
  exports: Record<string, any>;
}

/** The package.json of the package whose test file is at `testFileUrl` (in its src/). */
export function packageJsonOf(testFileUrl: string): { root: URL; pkg: PackageJson } {
  const root = new URL('../', testFileUrl);
  return { root, pkg: JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) };
}

/**
 * The module-format tests of the package `name`, called from a test file in its src/ with
 * `import.meta.url` (the package resolves itself by name from there).
 */
export function describeModuleFormat(name: string, testFileUrl: string): void {
  const { root, pkg } = packageJsonOf(testFileUrl);

  it(`require('${name}') throws: ESM-only, with the dynamic import to use`, () => {
    const require = createRequire(testFileUrl);
    expect(require.resolve(name)).toMatch(/[\\/]esm-only\.cjs$/);
    let error: unknown;
    try {
      require(name);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const { message, code } = error as NodeJS.ErrnoException;
    expect(message).toContain(`${name} is ESM-only`);
    const escaped = name.replace(/[/@]/g, (c) => `\\${c}`);
    expect(message).toMatch(new RegExp(`const \\{ \\w+(, \\w+)* \\} = await import\\('${escaped}'\\);`));
    expect(code).toBe('ERR_REQUIRE_ESM');
  });

  it('main and types (node10 resolution) point at the built entry', () => {
    expect(pkg.main).toBe('./dist/index.js');
    expect(pkg.types).toBe('./dist/index.d.ts');
    for (const file of [pkg.main, pkg.types])
      expect(existsSync(new URL(String(file), root)), file).toBe(true);
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
}
