/**
 * Fetching the real data into a cache directory: sha256-verified, written atomically (a temporary
 * file in the same directory, renamed into place only once complete and verified), so no partial
 * or wrong file is ever left under a final name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { x as extractTar } from 'tar';

export interface DownloadOptions {
  /** where to fetch from instead of the canonical source (a mirror, or a local server in tests) */
  url?: string;
  /** the fetch implementation (default: globalThis.fetch) */
  fetch?: typeof globalThis.fetch;
}

/** `$CLIFFGUARD_CACHE`, else `$XDG_CACHE_HOME/cliffguard`, else `~/.cache/cliffguard`. */
export function defaultCacheDir(): string {
  if (process.env.CLIFFGUARD_CACHE) return process.env.CLIFFGUARD_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'cliffguard');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A temporary name beside `path`, unique to this process and call. */
function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.part`);
}

/** Writes `bytes` to `path` through a temporary file and a rename: readers see all or nothing. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = temporaryName(path);
  try {
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Streams `url` into a temporary file beside `path`, returning the temporary path and its sha256. */
async function fetchToTemporary(
  url: string,
  path: string,
  fetchImpl: typeof globalThis.fetch,
): Promise<[string, string]> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = temporaryName(path);
  try {
    const response = await fetchImpl(url);
    if (!response.ok || !response.body) {
      throw new Error(`download of ${url} failed: HTTP ${response.status} ${response.statusText}`);
    }
    const hash = createHash('sha256');
    const handle = await open(tmp, 'wx');
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        await handle.write(chunk);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    return [tmp, hash.digest('hex')];
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof Error && !err.message.includes(url)) {
      throw new Error(`download of ${url} failed: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Downloads `url` to `path`, verifying its sha256 before the file appears under `path`.
 * On any failure (network, HTTP status, checksum) nothing is left behind.
 */
export async function downloadVerified(
  url: string,
  path: string,
  expectedSha256: string,
  options: DownloadOptions = {},
): Promise<void> {
  const [tmp, actual] = await fetchToTemporary(url, path, options.fetch ?? globalThis.fetch);
  try {
    if (actual !== expectedSha256) {
      throw new Error(
        `sha256 mismatch for ${url}: expected ${expectedSha256}, got ${actual}; nothing was written to ${path}`,
      );
    }
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

export interface ArchiveMember {
  /** path inside the archive, e.g. 'simple-examples/data/ptb.char.train.txt' */
  member: string;
  /** where the verified member goes */
  path: string;
  sha256: string;
}

/**
 * Downloads a .tgz, extracts the named members (with the `tar` package) and moves each into place
 * once all of them are present and match their sha256. On any failure none is written.
 */
export async function downloadArchiveMembers(
  url: string,
  members: ArchiveMember[],
  options: DownloadOptions = {},
): Promise<void> {
  const first = members[0].path;
  const [archive] = await fetchToTemporary(url, first, options.fetch ?? globalThis.fetch);
  const work = await mkdtemp(join(dirname(first), '.extract-'));
  try {
    const wanted = new Set(members.map((m) => m.member));
    const found = new Map<string, string>();
    await extractTar({
      file: archive,
      cwd: work,
      filter: (entryPath) => {
        const normal = posix.normalize(entryPath.replace(/^\.\//, ''));
        if (!wanted.has(normal)) return false;
        found.set(normal, entryPath);
        return true;
      },
    }).catch((err: Error) => {
      throw new Error(`${url} is not a readable .tgz archive: ${err.message}`, { cause: err });
    });
    const verified: Array<[string, string]> = [];
    for (const m of members) {
      const entry = found.get(m.member);
      if (!entry) throw new Error(`${url} has no member ${m.member}; nothing was written`);
      const extracted = join(work, entry);
      const actual = sha256Hex(await readFile(extracted));
      if (actual !== m.sha256) {
        throw new Error(
          `sha256 mismatch for ${m.member} in ${url}: expected ${m.sha256}, got ${actual}; nothing was written`,
        );
      }
      verified.push([extracted, m.path]);
    }
    for (const [from, to] of verified) await rename(from, to);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(archive, { force: true });
  }
}
