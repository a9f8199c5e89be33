import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  afterAll,
  beforeAll,
  describe,
  expect,
  it,
  type RunnerTask,
  type RunnerTestCase,
  type RunnerTestSuite,
  TestRunner,
} from 'vitest';
import {
  DATA_SET_FILES,
  type DataResolution,
  type DataSetName,
  type DatasetLoaders,
  dataSuites,
  downloadOnce,
  fetchWithTimeout,
  localDataDir,
  resolveTestData,
  type SuitePlan,
  suitePlan,
} from './data.js';
import { REPO_ROOT } from './data-resolve.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Writes the files of `sets` under `dir` (contents do not matter to the resolution). */
async function put(dir: string, sets: DataSetName[]): Promise<void> {
  for (const s of sets) {
    for (const f of DATA_SET_FILES[s]) {
      await mkdir(dirname(join(dir, f)), { recursive: true });
      await writeFile(join(dir, f), s);
    }
  }
}

/** Loaders whose "download" writes the set's files into the cache (or fails), counting calls. */
function fakeLoaders(cache: string, fail?: Error, delayMs = 0) {
  const calls: string[] = [];
  const fetchOf: unknown[] = [];
  const fetchSet = async (set: DataSetName, cacheDir: string, fetchImpl: unknown) => {
    calls.push(set);
    fetchOf.push(fetchImpl);
    await new Promise((r) => setTimeout(r, delayMs));
    if (fail) throw fail;
    await put(cacheDir, [set]);
  };
  const loaders: DatasetLoaders = {
    defaultCacheDir: () => cache,
    loadPtbChars: (o) => fetchSet('ptb', o.cacheDir, o.download.fetch),
    loadPolyphonic: (name, o) => fetchSet(name, o.cacheDir, o.download.fetch),
  };
  return { loaders, calls, fetchOf };
}

describe('resolveTestData: CLIFFGUARD_DATA, else ../shared/data, else the cache (downloading into it)', () => {
  let root: string;
  let n = 0;
  /** A fresh layout: <t>/repo (the repository root), <t>/shared/data, <t>/env, <t>/cache. */
  const layout = async () => {
    const t = join(root, String(n++));
    const paths = {
      repo: join(t, 'repo'),
      shared: join(t, 'shared', 'data'),
      env: join(t, 'env'),
      cache: join(t, 'cache'),
    };
    for (const p of Object.values(paths)) await mkdir(p, { recursive: true });
    return paths;
  };
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'cliffguard-data-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('CLIFFGUARD_DATA holding the sets wins; nothing else is looked at, nothing downloaded', async () => {
    const p = await layout();
    await put(p.env, ['ptb', 'jsb']);
    await put(p.shared, ['ptb', 'jsb']);
    const { loaders, calls } = fakeLoaders(p.cache);
    const r = await resolveTestData(['ptb', 'jsb'], loaders, {
      env: { CLIFFGUARD_DATA: p.env },
      repoRoot: p.repo,
    });
    expect(r).toEqual({ found: true, dir: p.env, via: 'CLIFFGUARD_DATA' });
    expect(calls).toEqual([]);
  });

  it('without CLIFFGUARD_DATA: ../shared/data beside the repository', async () => {
    const p = await layout();
    await put(p.shared, ['nottingham']);
    const { loaders, calls } = fakeLoaders(p.cache);
    const r = await resolveTestData(['nottingham'], loaders, { env: {}, repoRoot: p.repo });
    expect(r).toEqual({ found: true, dir: p.shared, via: 'shared' });
    expect(calls).toEqual([]);
  });

  it('CLIFFGUARD_DATA without the sets replaces ../shared/data: the cache answers, then a download', async () => {
    const p = await layout();
    await put(p.shared, ['ptb']);
    await put(p.cache, ['ptb']);
    const { loaders, calls } = fakeLoaders(p.cache);
    const env = { CLIFFGUARD_DATA: p.env };
    expect(await resolveTestData(['ptb'], loaders, { env, repoRoot: p.repo })).toEqual({
      found: true,
      dir: p.cache,
      via: 'cache',
    });
    expect(calls).toEqual([]);
    // a set the cache lacks is downloaded into it, once; the next resolution finds it there
    expect(await resolveTestData(['ptb', 'musedata'], loaders, { env, repoRoot: p.repo })).toEqual({
      found: true,
      dir: p.cache,
      via: 'download',
    });
    expect(calls).toEqual(['musedata']);
    expect(await resolveTestData(['ptb', 'musedata'], loaders, { env, repoRoot: p.repo })).toEqual({
      found: true,
      dir: p.cache,
      via: 'cache',
    });
    expect(calls).toEqual(['musedata']);
  });

  it('downloads go through a fetch with a timeout, one set after another', async () => {
    const p = await layout();
    const { loaders, calls, fetchOf } = fakeLoaders(p.cache);
    const myFetch = (async () => new Response('x')) as typeof fetch;
    const r = await resolveTestData(['jsb', 'ptb', 'piano-midi'], loaders, {
      env: {},
      repoRoot: p.repo,
      fetch: myFetch,
    });
    expect(r).toEqual({ found: true, dir: p.cache, via: 'download' });
    expect(calls).toEqual(['jsb', 'ptb', 'piano-midi']);
    expect(fetchOf.every((f) => typeof f === 'function' && f !== myFetch)).toBe(true);
    expect(await readdir(p.cache)).toEqual(['music', 'ptb']); // no lock or failure note left
  });

  it('a failed download: not found, saying where it looked and why the download failed', async () => {
    const p = await layout();
    const cause = Object.assign(new Error('getaddrinfo ENOTFOUND example.invalid'), { code: 'ENOTFOUND' });
    const fail = new Error('download of http://example.invalid/x failed: fetch failed', {
      cause: new TypeError('fetch failed', { cause }),
    });
    const { loaders, calls } = fakeLoaders(p.cache, fail);
    const r = await resolveTestData(['ptb', 'jsb'], loaders, {
      env: { CLIFFGUARD_DATA: p.env },
      repoRoot: p.repo,
    });
    expect(r).toEqual({
      found: false,
      missing: ['ptb', 'jsb'],
      reason: `not in CLIFFGUARD_DATA=${p.env} nor in the cache ${p.cache}, and downloading ptb into the cache failed: download of http://example.invalid/x failed: fetch failed (ENOTFOUND)`,
    });
    expect(calls).toEqual(['ptb']); // the first failure ends the attempt
    expect(readFileSync(join(p.cache, '.ptb.download.failed'), 'utf8')).toMatch(/fetch failed/);
    expect(existsSync(join(p.cache, '.ptb.download.lock'))).toBe(false);
  });

  it('CLIFFGUARD_DOWNLOAD=off: no download is tried', async () => {
    const p = await layout();
    const { loaders, calls } = fakeLoaders(p.cache);
    for (const off of ['off', '0', 'false']) {
      const r = await resolveTestData(['jsb'], loaders, {
        env: { CLIFFGUARD_DOWNLOAD: off },
        repoRoot: p.repo,
      });
      expect(r).toEqual({
        found: false,
        missing: ['jsb'],
        reason: `not in ${p.shared} nor in the cache ${p.cache}, and downloads are off (CLIFFGUARD_DOWNLOAD=${off})`,
      });
    }
    expect(calls).toEqual([]);
    const on = await resolveTestData(['jsb'], loaders, {
      env: { CLIFFGUARD_DOWNLOAD: '1' },
      repoRoot: p.repo,
    });
    expect(on.found).toBe(true);
  });

  it('a loader that returns without the files is a failed download; an unknown set name throws', async () => {
    const p = await layout();
    const loaders: DatasetLoaders = {
      defaultCacheDir: () => p.cache,
      loadPtbChars: async () => ({}),
      loadPolyphonic: async () => ({}),
    };
    const r = await resolveTestData(['ptb'], loaders, { env: {}, repoRoot: p.repo });
    expect(r.found).toBe(false);
    expect((r as { reason: string }).reason).toMatch(
      /the loader returned, but ptb\/ptb.char.train.txt, .* are not all in/,
    );
    await expect(resolveTestData(['timit' as DataSetName], loaders, { env: {} })).rejects.toThrow(
      /unknown data set 'timit'; expected one of ptb, jsb/,
    );
  });

  it('the repository root is found from src/ and from dist/ alike (../shared/data is its sibling)', async () => {
    expect(existsSync(join(REPO_ROOT, 'pnpm-workspace.yaml'))).toBe(true);
    const dist = join(here, '..', 'dist', 'data-resolve.js');
    expect(existsSync(dist), 'packages/testing is built (turbo builds it before its tests)').toBe(true);
    const built = (await import(pathToFileURL(dist).href)) as { REPO_ROOT: string };
    expect(built.REPO_ROOT).toBe(REPO_ROOT);
    expect(localDataDir({}, REPO_ROOT)).toEqual({
      dir: join(REPO_ROOT, '..', 'shared', 'data'),
      via: 'shared',
    });
  });
});

describe('downloadOnce: one download per set, whatever the number of test processes', () => {
  let cache: string;
  beforeAll(async () => {
    cache = await mkdtemp(join(tmpdir(), 'cliffguard-once-'));
  });
  afterAll(async () => {
    await rm(cache, { recursive: true, force: true });
  });

  it('concurrent callers wait for the one that holds the lock and use what it fetched', async () => {
    let fetched = 0;
    const fetchSet = async () => {
      fetched++;
      await new Promise((r) => setTimeout(r, 150));
      await put(cache, ['jsb']);
    };
    await Promise.all([1, 2, 3].map(() => downloadOnce(cache, 'jsb', fetchSet, 10)));
    expect(fetched).toBe(1);
    expect(existsSync(join(cache, '.jsb.download.lock'))).toBe(false);
  });

  it("a waiter reports the holder's failure instead of trying again at once", async () => {
    let tries = 0;
    const fetchSet = async () => {
      tries++;
      await new Promise((r) => setTimeout(r, 150));
      throw new Error('HTTP 503 Service Unavailable');
    };
    const results = await Promise.allSettled([1, 2].map(() => downloadOnce(cache, 'ptb', fetchSet, 10)));
    expect(tries).toBe(1);
    // which caller holds the lock is up to the scheduler
    expect(results.map((r) => (r as PromiseRejectedResult).reason?.message).sort()).toEqual([
      'HTTP 503 Service Unavailable',
      'another test process tried just now: HTTP 503 Service Unavailable',
    ]);
    // a later run tries again (and a success removes the note)
    await downloadOnce(cache, 'ptb', () => put(cache, ['ptb']), 10);
    expect(existsSync(join(cache, '.ptb.download.failed'))).toBe(false);
  });

  it('a lock left by a process that has ended is taken over', async () => {
    const ended = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(join(cache, '.musedata.download.lock'), String(ended));
    let fetched = 0;
    await downloadOnce(cache, 'musedata', async () => {
      fetched++;
      await put(cache, ['musedata']);
    });
    expect(fetched).toBe(1);
  });
});

describe('fetchWithTimeout: an unreachable source fails in a short time, a slow one goes on', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/silent') return; // accepts, never answers
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      if (req.url === '/stall') res.write('first bytes'); // then nothing
      if (req.url === '/slow') {
        let k = 0;
        const tick = setInterval(() => {
          res.write(`chunk ${k}\n`);
          if (++k === 6) {
            clearInterval(tick);
            res.end();
          }
        }, 60);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('no answer: rejects after the timeout', async () => {
    const started = Date.now();
    await expect(fetchWithTimeout(fetch, 300)(`${base}/silent`)).rejects.toThrow(
      `no answer from ${base}/silent for 0.3 s`,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a body that stops: reading it rejects after the timeout', async () => {
    const response = await fetchWithTimeout(fetch, 300)(`${base}/stall`);
    await expect(response.arrayBuffer()).rejects.toThrow(`no answer from ${base}/stall for 0.3 s`);
  });

  it('a fetch that ignores the abort signal cannot hang either', async () => {
    const deaf = (() => new Promise<Response>(() => {})) as typeof fetch;
    await expect(fetchWithTimeout(deaf, 100)('http://example.invalid/x')).rejects.toThrow(/no answer/);
  });

  it('a body arriving in pieces, each within the timeout, is read whole (the timeout is per wait)', async () => {
    const response = await fetchWithTimeout(fetch, 200)(`${base}/slow`);
    expect(await response.text()).toBe([0, 1, 2, 3, 4, 5].map((k) => `chunk ${k}\n`).join(''));
  });
});

describe('suitePlan: run, skip (one line), or fail (the same line) under CLIFFGUARD_REQUIRE_DATA', () => {
  const missing: DataResolution = { found: false, missing: ['ptb'], reason: 'not in /d nor in the cache /c' };
  const howTo =
    'set CLIFFGUARD_DATA to a folder holding ptb/ and music/ (as ../shared/data does), or allow the download (network access, CLIFFGUARD_DOWNLOAD not off).';

  it('found: the suite runs in the folder', () => {
    expect(suitePlan({ found: true, dir: '/d', via: 'shared' }, { CLIFFGUARD_REQUIRE_DATA: '1' })).toEqual({
      mode: 'run',
      dir: '/d',
    });
  });

  it('missing: skipped, with a line counting the tests and saying how to provide the data', () => {
    for (const env of [{}, { CLIFFGUARD_REQUIRE_DATA: '0' }, { CLIFFGUARD_REQUIRE_DATA: '' }]) {
      const plan = suitePlan(missing, env) as Extract<SuitePlan, { mode: 'skip' | 'fail' }>;
      expect(plan.mode).toBe('skip');
      expect(plan.line(4, 'src/a.test.ts > real files')).toBe(
        `src/a.test.ts > real files: skipped 4 tests needing data set ptb: not in /d nor in the cache /c. To run them, ${howTo}`,
      );
      expect(plan.line(1, 'x')).toMatch(/^x: skipped 1 test needing data set ptb: .* To run it, set/);
    }
  });

  it('missing with CLIFFGUARD_REQUIRE_DATA=1: a failure with the same explanation', () => {
    const plan = suitePlan({ ...missing, missing: ['jsb', 'musedata'] }, { CLIFFGUARD_REQUIRE_DATA: '1' });
    if (plan.mode !== 'fail') throw new Error(`expected mode 'fail', got '${plan.mode}'`);
    expect(plan.line(2, 'src/b.test.ts > s')).toBe(
      `src/b.test.ts > s: 2 tests need data sets jsb, musedata, and CLIFFGUARD_REQUIRE_DATA=1 makes missing data a failure: not in /d nor in the cache /c. To run them, ${howTo}`,
    );
  });
});

// dataSuites: suites declared here, at collection, and checked by the tests below through the
// file's task tree (what vitest reports).
const logged: string[] = [];
const skipPlan = suitePlan({ found: false, missing: ['ptb'], reason: 'nowhere' }, {});
const failPlan = suitePlan(
  { found: false, missing: ['ptb'], reason: 'nowhere' },
  { CLIFFGUARD_REQUIRE_DATA: '1' },
);
const skipped = dataSuites(skipPlan, (line) => logged.push(line));
skipped.describe('data suite without its data', () => {
  beforeAll(() => {
    throw new Error('a skipped data suite must not run its hooks');
  });
  it('first', () => {
    throw new Error('must not run');
  });
  it.each([1, 2])('each %i', () => {
    throw new Error('must not run');
  });
});
const present = dataSuites({ mode: 'run', dir: here }, (line) => logged.push(line));
present.describe('data suite with its data', () => {
  it('runs, and sees its folder', () => {
    expect(present.dir).toBe(here);
  });
});
describe.skip('(holder: the failing suite is only inspected, never run)', () => {
  dataSuites(failPlan, (line) => logged.push(line)).describe('data suite required', () => {
    it('one', () => {});
    it('two', () => {});
  });
});

describe('dataSuites: how the suites of a plan are declared', () => {
  /** The suite named `name` among `tasks` (what vitest collected from this file). */
  const suiteOf = (tasks: readonly RunnerTask[], name: string): RunnerTestSuite => {
    const found = tasks.find((t) => t.name === name);
    if (found?.type !== 'suite') throw new Error(`no suite '${name}' collected`);
    return found;
  };

  it('without data: every test skipped, hooks not run, one line with the count', ({ task }) => {
    const suite = suiteOf(task.file.tasks, 'data suite without its data');
    expect(suite.mode).toBe('skip');
    expect(suite.tasks.map((t) => t.mode)).toEqual(['skip', 'skip', 'skip']);
    expect(logged).toEqual([
      `src/data.test.ts > data suite without its data: skipped 3 tests needing data set ptb: nowhere. To run them, set CLIFFGUARD_DATA to a folder holding ptb/ and music/ (as ../shared/data does), or allow the download (network access, CLIFFGUARD_DOWNLOAD not off).`,
    ]);
    expect(skipped.found).toBe(false);
    expect(() => skipped.dir).toThrow(
      /^data set ptb not found: nowhere\. To run the tests that need it, set CLIFFGUARD_DATA/,
    );
  });

  it('with data: an ordinary suite', ({ task }) => {
    const suite = suiteOf(task.file.tasks, 'data suite with its data');
    expect(suite.mode).toBe('run');
    expect(present.found).toBe(true);
  });

  it('required and missing: a test that fails with the line, beside the suite skipped', async ({ task }) => {
    const holder = suiteOf(task.file.tasks, '(holder: the failing suite is only inspected, never run)');
    const suite = suiteOf(holder.tasks, 'data suite required');
    expect(suite.tasks.map((t) => [t.type, t.name])).toEqual([
      ['test', 'has the data it needs (CLIFFGUARD_REQUIRE_DATA)'],
      ['suite', 'needing the data'],
    ]);
    const needing = suiteOf(suite.tasks, 'needing the data');
    expect(needing.mode).toBe('skip');
    expect(needing.tasks.map((t) => [t.type, t.name])).toEqual([
      ['test', 'one'],
      ['test', 'two'],
    ]);
    // the test's function as vitest runs it (wrapped: it returns a promise)
    const failing = TestRunner.getTestFn(suite.tasks[0] as RunnerTestCase) as () => Promise<unknown>;
    await expect(failing()).rejects.toThrow(
      'src/data.test.ts > data suite required: 2 tests need data set ptb, and CLIFFGUARD_REQUIRE_DATA=1 makes missing data a failure: nowhere. To run them,',
    );
  });
});
