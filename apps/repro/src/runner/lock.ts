/**
 * One writer per results file: a lock file beside it, holding its owner's host, pid, start time
 * and a random token (JSON).
 *
 * - Taking it is atomic: the content is written to a temp file that is then hard-linked to the
 *   lock's name, which fails when the name exists (where hard links are unsupported, an exclusive
 *   create, `wx`). Of any number of processes that try at once, exactly one succeeds.
 * - A stale lock is taken over: one whose pid is gone on this host (so `kill -9` never blocks a
 *   resume), or, for a lock taken on another host (a shared folder; its pid cannot be checked from
 *   here), one not refreshed for `LOCK_STALE_AFTER_MS` (10 minutes: the owner refreshes its lock's
 *   mtime every minute). Breaking is atomic too: a breaker first takes a claim on that very lock
 *   file (`<lock>.break-<inode>-<mtime>`, exclusive create) and removes the lock only if it is
 *   still the same file (inode and times unchanged); the others see the claim and retry, and then
 *   meet the new owner's lock.
 * - Release removes the lock only while it is still this process's (same token).
 * - A lock of the format before issue 18 (the pid alone) counts as taken on this host.
 */
import { randomBytes } from 'node:crypto';
import {
  type BigIntStats,
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';

/** A lock taken on another host is stale when not refreshed for this long. */
export const LOCK_STALE_AFTER_MS = 10 * 60_000;
/** How often the owner refreshes its lock's mtime. */
export const LOCK_REFRESH_MS = 60_000;
/** A lock whose content cannot be read is being written for at most this long; older, it is stale. */
const UNREADABLE_GRACE_MS = 10_000;
/** A breaker's claim older than this was left by a breaker that died mid-break. */
const CLAIM_STALE_MS = 60_000;

export interface LockOwner {
  pid: number;
  host?: string;
  startedAt?: string;
  token?: string;
}

export interface LockOptions {
  /** stale-after limit for another host's lock (default LOCK_STALE_AFTER_MS) */
  staleAfterMs?: number;
  /** refresh period (default LOCK_REFRESH_MS; 0: never) */
  refreshMs?: number;
}

/** Tokens of the locks this process holds now. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The owner recorded in a lock file's text; undefined when it cannot be read. */
export function parseLockOwner(text: string): LockOwner | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) > 0 ? { pid: Number(t) } : undefined; // before issue 18: the pid alone
  try {
    const o = JSON.parse(t) as LockOwner;
    if (o && Number.isInteger(o.pid) && o.pid > 0) return o;
  } catch {
    // unreadable
  }
  return undefined;
}

function describeOwner(owner: LockOwner | undefined): string {
  if (!owner) return 'unknown owner';
  const parts = [`pid ${owner.pid}`];
  if (owner.host) parts.push(`on host ${owner.host}`);
  if (owner.startedAt) parts.push(`since ${owner.startedAt}`);
  return parts.join(' ');
}

/** Whether a lock (its owner and file times) is stale, and why. */
export function judgeLock(
  owner: LockOwner | undefined,
  mtimeMs: number,
  options: { now?: number; staleAfterMs?: number; host?: string } = {},
): { stale: boolean; why: string } {
  const now = options.now ?? Date.now();
  const limit = options.staleAfterMs ?? LOCK_STALE_AFTER_MS;
  const here = options.host ?? hostname();
  const age = Math.max(0, now - mtimeMs);
  if (!owner) {
    return age > UNREADABLE_GRACE_MS
      ? { stale: true, why: `its content is unreadable and it is ${(age / 1000).toFixed(0)} s old` }
      : { stale: false, why: 'its content is unreadable: probably being written right now' };
  }
  if ((owner.host ?? here) === here) {
    if (owner.token !== undefined && held.has(owner.token))
      return { stale: false, why: 'this process holds it already' };
    if (owner.pid === process.pid)
      return { stale: true, why: 'its pid is this process (an earlier life of it)' };
    return alive(owner.pid)
      ? { stale: false, why: `pid ${owner.pid} is alive on this host` }
      : { stale: true, why: `pid ${owner.pid} is gone on this host` };
  }
  return age > limit
    ? {
        stale: true,
        why: `it was taken on host ${owner.host} and not refreshed for ${(age / 60_000).toFixed(1)} min (limit ${(limit / 60_000).toFixed(1)} min)`,
      }
    : {
        stale: false,
        why: `it was taken on host ${owner.host}, whose pids cannot be checked from here, and refreshed ${(age / 1000).toFixed(0)} s ago; it counts as stale after ${(limit / 60_000).toFixed(1)} min without a refresh`,
      };
}

/** Creates `file` with `content` atomically; false when it exists. */
function createExclusive(file: string, content: string, token: string): boolean {
  const tmp = `${file}.${process.pid}.${token}.tmp`;
  const fd = openSync(tmp, 'wx');
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK'].includes(code(err) ?? '')) throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  // no hard links on this file system: an exclusive create (readers allow for the moment it is empty)
  let wfd: number;
  try {
    wfd = openSync(file, 'wx');
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(wfd, content);
    fsyncSync(wfd);
  } finally {
    closeSync(wfd);
  }
  return true;
}

const sameEntry = (a: BigIntStats, b: BigIntStats) =>
  a.dev === b.dev &&
  a.ino === b.ino &&
  a.mtimeNs === b.mtimeNs &&
  a.ctimeNs === b.ctimeNs &&
  a.size === b.size;

/**
 * Removes the stale lock `seen` (as stat'ed when judged) if nobody else is breaking it and it is
 * still that very file. Returns false when another process holds the claim to break it.
 */
function breakStale(file: string, seen: BigIntStats): boolean {
  const claim = `${file}.break-${seen.ino}-${seen.mtimeNs}`;
  let fd: number;
  try {
    fd = openSync(claim, 'wx');
  } catch (err) {
    if (code(err) !== 'EEXIST') throw err;
    try {
      if (Date.now() - statSync(claim).mtimeMs > CLAIM_STALE_MS) rmSync(claim, { force: true });
    } catch {
      // gone meanwhile
    }
    return false;
  }
  closeSync(fd);
  try {
    let now: BigIntStats;
    try {
      now = statSync(file, { bigint: true });
    } catch (err) {
      if (code(err) === 'ENOENT') return true;
      throw err;
    }
    if (sameEntry(now, seen)) unlinkSync(file);
    return true;
  } finally {
    rmSync(claim, { force: true });
  }
}

function readOwner(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw new Error(`cannot read the lock ${file}: ${(err as Error).message}`);
  }
}

/**
 * Takes the lock `file` or throws, naming its owner. Returns the release function. While held,
 * the lock's mtime is refreshed every `refreshMs` (a timer that does not keep the process alive).
 */
export function acquireLock(file: string, options: LockOptions = {}): () => void {
  const owner: Required<LockOwner> = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    token: randomBytes(12).toString('hex'),
  };
  const content = `${JSON.stringify(owner)}\n`;
  for (let attempt = 0; attempt < 200; attempt++) {
    let created: boolean;
    try {
      created = createExclusive(file, content, owner.token);
    } catch (err) {
      throw new Error(`cannot create the lock ${file}: ${(err as Error).message}`);
    }
    if (created) return hold(file, owner.token, options);
    let seen: BigIntStats;
    try {
      seen = statSync(file, { bigint: true });
    } catch (err) {
      if (code(err) === 'ENOENT') continue; // released meanwhile: try again
      throw err;
    }
    const text = readOwner(file);
    if (text === undefined) continue;
    const after = statSync(file, { bigint: true, throwIfNoEntry: false });
    if (!after || !sameEntry(after, seen)) continue; // replaced while reading: judge the new one
    const current = parseLockOwner(text);
    const verdict = judgeLock(current, Number(seen.mtimeMs), { staleAfterMs: options.staleAfterMs });
    if (!verdict.stale) {
      throw new Error(
        `another repro process (${describeOwner(current)}) is writing these results (lock ${file}: ${verdict.why}); ` +
          'wait for it, or remove the lock if that process is not repro',
      );
    }
    if (!breakStale(file, seen)) sleep(5 + Math.random() * 20); // another process is breaking it
  }
  throw new Error(`could not take the lock ${file}: it kept changing hands; try again`);
}

function hold(file: string, token: string, options: LockOptions): () => void {
  held.add(token);
  const ours = () => parseLockOwner(readOwner(file) ?? '')?.token === token;
  const period = options.refreshMs ?? LOCK_REFRESH_MS;
  const timer =
    period > 0
      ? setInterval(() => {
          try {
            if (ours()) {
              const now = new Date();
              utimesSync(file, now, now);
            }
          } catch {
            // the next refresh tries again
          }
        }, period)
      : undefined;
  timer?.unref();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (timer) clearInterval(timer);
    held.delete(token);
    try {
      if (ours()) rmSync(file, { force: true });
      else console.warn(`warning: the lock ${file} was no longer this process's when it finished`);
    } catch {
      // nothing to release
    }
  };
}
