/**
 * The real data sets in tests. A test file asks for the sets it needs once, at its top:
 *
 *   const data = await testData(['ptb'], { defaultCacheDir, loadPtbChars, loadPolyphonic });
 *   data.describe('loadPtbChars on the real files', () => { ... data.dir ... });
 *
 * The data is looked for in `$CLIFFGUARD_DATA`, else `../shared/data`, else the user cache of
 * @cliffguard/datasets, where it is downloaded (sha256-checked) when missing; see data-resolve.ts.
 * Without it the suite's tests are skipped, with one line saying how many and how to provide the
 * data; with CLIFFGUARD_REQUIRE_DATA=1 (CI) the suite fails with that line instead.
 */
import { existsSync } from 'node:fs';
import { describe, it, TestRunner } from 'vitest';
import {
  type DataSetName,
  type DatasetLoaders,
  localDataDir,
  type ResolveOptions,
  resolveTestData,
  type SuitePlan,
  suitePlan,
} from './data-resolve.js';

export {
  DATA_SET_FILES,
  type DataResolution,
  type DataSetName,
  type DatasetLoaders,
  dataRequired,
  downloadOnce,
  downloadsOff,
  fetchWithTimeout,
  localDataDir,
  type ResolveOptions,
  resolveTestData,
  type SuitePlan,
  suitePlan,
} from './data-resolve.js';

/**
 * The local data folder: `$CLIFFGUARD_DATA`, else `../shared/data` relative to the repository
 * root; throws when it does not exist. (No cache, no download: see {@link testData}.)
 */
export function dataDir(): string {
  const { dir, via } = localDataDir();
  if (!existsSync(dir)) {
    throw new Error(
      `test data not found at ${dir}${via === 'CLIFFGUARD_DATA' ? ' (CLIFFGUARD_DATA)' : ''}; set CLIFFGUARD_DATA to the folder holding ptb/ and music/`,
    );
  }
  return dir;
}

export interface TestData {
  /** whether the sets were found (or downloaded) */
  readonly found: boolean;
  /** the folder holding them (ptb/, music/); throws when they are missing (their suites do not run then) */
  readonly dir: string;
  /**
   * `describe(name, factory)` when the data is there. Without it: the factory's tests are
   * collected as skipped and one line says how many and how to provide the data; with
   * CLIFFGUARD_REQUIRE_DATA=1 a test named after the missing data fails with that line. The
   * factory declares tests (and hooks) directly: no nested describe, so its tests can be counted.
   */
  describe(name: string, factory: () => void): void;
}

export interface TestDataOptions extends ResolveOptions {
  /** where the skip line goes (default: one line on stderr) */
  log?: (line: string) => void;
}

/** Finds (or downloads) `sets` for a test file's suites; call once, at the top of the file. */
export async function testData(
  sets: readonly DataSetName[],
  loaders: DatasetLoaders,
  options: TestDataOptions = {},
): Promise<TestData> {
  const plan = suitePlan(await resolveTestData(sets, loaders, options), options.env ?? process.env);
  return dataSuites(plan, options.log ?? ((line) => process.stderr.write(`${line}\n`)));
}

/** The suites of a {@link SuitePlan} (testData's second half; exported for its tests). */
export function dataSuites(plan: SuitePlan, log: (line: string) => void): TestData {
  return {
    found: plan.mode === 'run',
    get dir(): string {
      if (plan.mode === 'run') return plan.dir;
      throw new Error(plan.message);
    },
    describe(name: string, factory: () => void): void {
      if (plan.mode === 'run') {
        describe(name, factory);
        return;
      }
      if (plan.mode === 'skip') {
        describe.skip(name, () =>
          collectCounting(name, factory, (tests, where) => log(plan.line(tests, where))),
        );
        return;
      }
      let line = '';
      describe(name, () => {
        it('has the data it needs (CLIFFGUARD_REQUIRE_DATA)', () => {
          throw new Error(line);
        });
        describe.skip('needing the data', () =>
          collectCounting(name, factory, (tests, where) => {
            line = plan.line(tests, where);
          }));
      });
    },
  };
}

/** Runs a suite factory while collecting, then reports its number of tests and `file > suite`. */
function collectCounting(name: string, factory: () => void, report: (tests: number, where: string) => void) {
  factory();
  const collector = TestRunner.getCurrentSuite();
  let tests = 0;
  for (const task of collector.tasks) {
    if (task.type !== 'test') {
      throw new Error(
        `data suite '${name}': declare its tests directly, without a nested describe (the skip line counts them)`,
      );
    }
    tests++;
  }
  report(tests, `${collector.file?.name ?? '?'} > ${name}`);
}
