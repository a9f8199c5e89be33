/**
 * Where the tests' real data sets come from, and what a suite does without them; no vitest here
 * (data.ts turns the answer into suites), so all of it is unit-tested with fakes (data.test.ts).
 *
 * Order: `$CLIFFGUARD_DATA` when set, else `../shared/data` beside the repository; else the user
 * cache that @cliffguard/datasets downloads into (its `ptb/` and `music/` folders have the same
 * layout), downloading what is missing there, sha256-checked by the datasets loaders, once per
 * machine (a lock file makes concurrent test files wait for one download). `CLIFFGUARD_DOWNLOAD=off`
 * turns downloading off; `CLIFFGUARD_REQUIRE_DATA=1` makes missing data a failure (CI) instead of
 * skipped tests.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type DataSetName = 'ptb' | 'jsb' | 'nottingham' | 'musedata' | 'piano-midi';

/** Each set's files, relative to a data folder (the layout of ../shared/data and of the cache). */
export const DATA_SET_FILES: Readonly<Record<DataSetName, readonly string[]>> = {
  ptb: ['ptb/ptb.char.train.txt', 'ptb/ptb.char.valid.txt', 'ptb/ptb.char.test.txt'],
  jsb: ['music/JSB_Chorales.pickle'],
  nottingham: ['music/Nottingham.pickle'],
  musedata: ['music/MuseData.pickle'],
  'piano-midi': ['music/Piano-midi.de.pickle'],
};

type MusicSetName = Exclude<DataSetName, 'ptb'>;

/**
 * What the resolution needs from @cliffguard/datasets (the caller passes it in: this package
 * does not depend on datasets, which depends on it): the cache folder and the loaders, which
 * download from the canonical sources into `<cacheDir>/ptb` and `<cacheDir>/music`, sha256-checked.
 */
export interface DatasetLoaders {
  defaultCacheDir(): string;
  loadPtbChars(options: { download: { fetch: typeof fetch }; cacheDir: string }): Promise<unknown>;
  loadPolyphonic(
    name: MusicSetName,
    options: { download: { fetch: typeof fetch }; cacheDir: string; cache: boolean },
  ): Promise<unknown>;
}

export interface ResolveOptions {
  /** the environment (default process.env) */
  env?: Record<string, string | undefined>;
  /** the repository root, whose sibling shared/data is looked at (default: from this file) */
  repoRoot?: string;
  /** the fetch the downloads use (default globalThis.fetch), wrapped in {@link fetchWithTimeout} */
  fetch?: typeof fetch;
  /** a download with no answer and no bytes for this long fails (default 20 s) */
  timeoutMs?: number;
  /** how often a test file waiting for another's download looks again (default 250 ms) */
  pollMs?: number;
}

export type DataResolution =
  | { found: true; dir: string; via: 'CLIFFGUARD_DATA' | 'shared' | 'cache' | 'download' }
  | { found: false; missing: DataSetName[]; reason: string };

/** packages/testing/{src,dist}/data-resolve.* -> the repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** `$CLIFFGUARD_DATA` when set (then nothing else local is looked at), else ../shared/data. */
export function localDataDir(env: Record<string, string | undefined> = process.env, repoRoot = REPO_ROOT) {
  const fromEnv = env.CLIFFGUARD_DATA;
  return fromEnv
    ? { dir: resolve(fromEnv), via: 'CLIFFGUARD_DATA' as const }
    : { dir: resolve(repoRoot, '..', 'shared', 'data'), via: 'shared' as const };
}

export function hasSet(dir: string, set: DataSetName): boolean {
  return DATA_SET_FILES[set].every((f) => existsSync(join(dir, f)));
}

const truthy = (v: string | undefined) =>
  v !== undefined && !['', '0', 'false', 'off', 'no'].includes(v.toLowerCase());

export function dataRequired(env: Record<string, string | undefined> = process.env): boolean {
  return truthy(env.CLIFFGUARD_REQUIRE_DATA);
}

export function downloadsOff(env: Record<string, string | undefined> = process.env): boolean {
  const v = env.CLIFFGUARD_DOWNLOAD;
  return v !== undefined && !truthy(v);
}

/**
 * Finds a folder holding every set in `sets`: the local one, else the cache, downloading into
 * the cache what it lacks (unless downloads are off). Never throws for missing data: the answer
 * says what is missing and why.
 */
export async function resolveTestData(
  sets: readonly DataSetName[],
  loaders: DatasetLoaders,
  options: ResolveOptions = {},
): Promise<DataResolution> {
  for (const s of sets) {
    if (!(s in DATA_SET_FILES))
      throw new RangeError(
        `unknown data set '${s}'; expected one of ${Object.keys(DATA_SET_FILES).join(', ')}`,
      );
  }
  const env = options.env ?? process.env;
  const local = localDataDir(env, options.repoRoot);
  if (sets.every((s) => hasSet(local.dir, s))) return { found: true, dir: local.dir, via: local.via };
  const cache = loaders.defaultCacheDir();
  const lacking = sets.filter((s) => !hasSet(cache, s));
  if (lacking.length === 0) return { found: true, dir: cache, via: 'cache' };
  // what neither answers for: the cache lacks it (and the local folder does not hold all sets)
  const missing = lacking;
  const where = `${local.via === 'CLIFFGUARD_DATA' ? `CLIFFGUARD_DATA=${local.dir}` : local.dir} nor in the cache ${cache}`;
  if (downloadsOff(env)) {
    return {
      found: false,
      missing,
      reason: `not in ${where}, and downloads are off (CLIFFGUARD_DOWNLOAD=${env.CLIFFGUARD_DOWNLOAD})`,
    };
  }
  const fetchImpl = fetchWithTimeout(options.fetch ?? globalThis.fetch, options.timeoutMs ?? 20_000);
  for (const set of lacking) {
    try {
      await downloadOnce(cache, set, () => download(loaders, set, cache, fetchImpl), options.pollMs ?? 250);
    } catch (err) {
      return {
        found: false,
        missing,
        reason: `not in ${where}, and downloading ${set} into the cache failed: ${oneLine(err)}`,
      };
    }
  }
  return { found: true, dir: cache, via: 'download' };
}

async function download(
  loaders: DatasetLoaders,
  set: DataSetName,
  cacheDir: string,
  fetchImpl: typeof fetch,
) {
  if (set === 'ptb') await loaders.loadPtbChars({ download: { fetch: fetchImpl }, cacheDir });
  else await loaders.loadPolyphonic(set, { download: { fetch: fetchImpl }, cacheDir, cache: false });
  if (!hasSet(cacheDir, set)) {
    throw new Error(`the loader returned, but ${DATA_SET_FILES[set].join(', ')} are not all in ${cacheDir}`);
  }
}

/** An error and its causes on one line: "download of … failed: fetch failed (ENOTFOUND)". */
function oneLine(err: unknown): string {
  let text = err instanceof Error ? err.message : String(err);
  const seen = new Set<unknown>([err]);
  for (let c = (err as { cause?: unknown })?.cause; c && !seen.has(c); c = (c as { cause?: unknown }).cause) {
    seen.add(c);
    const part = (c as { code?: string }).code ?? (c instanceof Error ? c.message : String(c));
    if (part && !text.includes(part)) text += ` (${part})`;
  }
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * `fetchImpl` that fails when no response, then no bytes of the body, arrive for `timeoutMs`:
 * an unreachable host fails in seconds instead of hanging the test run; a slow but moving
 * download goes on.
 */
export function fetchWithTimeout(fetchImpl: typeof fetch, timeoutMs: number): typeof fetch {
  return async (input, init) => {
    const controller = new AbortController();
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => controller.abort(new Error(`no answer from ${url} for ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      timer.unref?.();
    };
    // One listener for the whole download (not one per chunk); raced against every wait, so a
    // fetch or a body that ignores the signal cannot hang either.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => {});
    arm();
    let response: Response;
    try {
      const pending = fetchImpl(input, { ...init, signal: controller.signal });
      pending.catch(() => {}); // when the timeout wins the race, its later rejection is expected
      response = await Promise.race([pending, aborted]);
    } catch (err) {
      clearTimeout(timer);
      throw err;
    }
    if (!response.body) {
      clearTimeout(timer);
      return response;
    }
    arm();
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(out) {
        try {
          const read = reader.read();
          read.catch(() => {});
          const next = await Promise.race([read, aborted]);
          if (next.done) {
            clearTimeout(timer);
            out.close();
          } else {
            arm();
            out.enqueue(next.value);
          }
        } catch (err) {
          clearTimeout(timer);
          reader.cancel(err).catch(() => {});
          out.error(err);
        }
      },
      cancel(reason) {
        clearTimeout(timer);
        return reader.cancel(reason);
      },
    });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A lock whose holder is gone (its process ended) or that never got its holder's pid. */
function staleLock(path: string): boolean {
  try {
    const pid = Number(readFileSync(path, 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - statSync(path).mtimeMs > 10_000;
    process.kill(pid, 0);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ESRCH' || code === 'ENOENT';
  }
}

/**
 * Runs `fetchSet` for `set` unless the cache has it, in one process at a time: a test file that
 * finds another's lock waits for it, then uses what it fetched, or reports its failure (written
 * beside the lock) instead of trying again.
 */
export async function downloadOnce(
  cacheDir: string,
  set: DataSetName,
  fetchSet: () => Promise<void>,
  pollMs = 250,
): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const lock = join(cacheDir, `.${set}.download.lock`);
  const failure = join(cacheDir, `.${set}.download.failed`);
  let waitedSince = 0;
  for (;;) {
    if (hasSet(cacheDir, set)) return;
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (staleLock(lock)) await rm(lock, { force: true });
      else {
        waitedSince ||= Date.now();
        await sleep(pollMs);
      }
      continue;
    }
    try {
      await handle.writeFile(String(process.pid));
      await handle.close();
      if (hasSet(cacheDir, set)) return;
      // Waited for another process that then failed: its note (written after we began to wait)
      // says why; trying again at once would only fail the same way.
      if (waitedSince && existsSync(failure) && statSync(failure).mtimeMs >= waitedSince - 1000) {
        throw new Error(`another test process tried just now: ${await readFile(failure, 'utf8')}`);
      }
      try {
        await fetchSet();
      } catch (err) {
        await writeFile(failure, oneLine(err)).catch(() => {});
        throw err;
      }
      await rm(failure, { force: true });
      return;
    } finally {
      await rm(lock, { force: true });
    }
  }
}

/**
 * What a suite needing data does: run in `dir`; or, when the data is missing, skip its tests
 * with one line, or (CLIFFGUARD_REQUIRE_DATA=1) fail with the same line. `line(tests, where)`
 * names the suite (`where`) and counts its tests.
 */
export type SuitePlan =
  | { mode: 'run'; dir: string }
  | { mode: 'skip' | 'fail'; message: string; line: (tests: number, where: string) => string };

export function suitePlan(
  resolution: DataResolution,
  env: Record<string, string | undefined> = process.env,
): SuitePlan {
  if (resolution.found) return { mode: 'run', dir: resolution.dir };
  const required = dataRequired(env);
  const sets = `data set${resolution.missing.length === 1 ? '' : 's'} ${resolution.missing.join(', ')}`;
  const howTo = (them: string) =>
    `To run ${them}, set CLIFFGUARD_DATA to a folder holding ptb/ and music/ (as ../shared/data does), ` +
    'or allow the download (network access, CLIFFGUARD_DOWNLOAD not off).';
  const tests = (n: number) => `${n} test${n === 1 ? '' : 's'}`;
  return {
    mode: required ? 'fail' : 'skip',
    message: `${sets} not found: ${resolution.reason}. ${howTo('the tests that need it')}`,
    line: required
      ? (n, where) =>
          `${where}: ${tests(n)} ${n === 1 ? 'needs' : 'need'} ${sets}, and CLIFFGUARD_REQUIRE_DATA=${env.CLIFFGUARD_REQUIRE_DATA} ` +
          `makes missing data a failure: ${resolution.reason}. ${howTo(n === 1 ? 'it' : 'them')}`
      : (n, where) =>
          `${where}: skipped ${tests(n)} needing ${sets}: ${resolution.reason}. ${howTo(n === 1 ? 'it' : 'them')}`,
  };
}
