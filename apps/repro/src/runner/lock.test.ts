// The results lock (issue 18): taken atomically, recording host and pid; a stale lock (pid gone
// on this host, or another host's lock not refreshed for the limit) is broken atomically too.
// The race that used to let two processes both take a stale lock (2 of 5 trials) is run for
// real: N node processes released at once on the same stale lock, many trials; exactly one wins.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { appRoot } from '../core/paths.js';
import { acquireLock, judgeLock, LOCK_STALE_AFTER_MS, parseLockOwner } from './lock.js';

const dir = () => mkdtempSync(join(tmpdir(), 'repro-lock-'));

/** A pid that is certainly gone: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  const pid = Number(child.stdout);
  expect(pid).toBeGreaterThan(0);
  return pid;
}

const lockText = (pid: number, host = hostname()) =>
  `${JSON.stringify({ pid, host, startedAt: '2026-01-01T00:00:00.000Z', token: 'old' })}\n`;

/** Sets a file's mtime `ms` into the past. */
function age(file: string, ms: number) {
  const t = new Date(Date.now() - ms);
  utimesSync(file, t, t);
}

describe('the results lock in one process', () => {
  it('records host, pid and a token; refuses a second taker naming them; release frees it', () => {
    const file = join(dir(), '.lock');
    const release = acquireLock(file, { refreshMs: 0 });
    const owner = JSON.parse(readFileSync(file, 'utf8'));
    expect(owner).toMatchObject({ pid: process.pid, host: hostname() });
    expect(owner.token).toMatch(/^[0-9a-f]{24}$/);
    expect(() => acquireLock(file)).toThrow(/this process holds it already/);
    release();
    expect(existsSync(file)).toBe(false);
    acquireLock(file, { refreshMs: 0 })();
    expect(readdirSync(join(file, '..'))).toEqual([]); // no temp or claim files left
  });

  it('refuses a lock whose pid is alive on this host (legacy and new format)', () => {
    const d = dir();
    const alive = process.ppid;
    writeFileSync(join(d, 'a'), String(alive)); // the format before issue 18: the pid alone
    expect(() => acquireLock(join(d, 'a'))).toThrow(
      new RegExp(
        `another repro process \\(pid ${alive}\\) is writing these results \\(lock ${join(d, 'a')}: pid ${alive} is alive on this host\\)`,
      ),
    );
    writeFileSync(join(d, 'b'), lockText(alive));
    age(join(d, 'b'), 3 * LOCK_STALE_AFTER_MS); // age does not matter for a pid that can be checked
    expect(() => acquireLock(join(d, 'b'))).toThrow(new RegExp(`pid ${alive} on host ${hostname()}`));
  });

  it('takes over a lock whose pid is gone on this host (legacy and new format)', () => {
    const d = dir();
    for (const [name, text] of [
      ['legacy', String(deadPid())],
      ['new', lockText(deadPid())],
    ]) {
      const file = join(d, name);
      writeFileSync(file, text);
      const release = acquireLock(file, { refreshMs: 0 });
      expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.pid);
      release();
    }
  });

  it("another host's lock: held while refreshed, stale after the documented limit", () => {
    const file = join(dir(), '.lock');
    writeFileSync(file, lockText(12345, 'node-17.cluster'));
    expect(() => acquireLock(file)).toThrow(
      /pid 12345 on host node-17\.cluster.*counts as stale after 10\.0 min without a refresh/,
    );
    age(file, LOCK_STALE_AFTER_MS + 5_000);
    const release = acquireLock(file, { refreshMs: 0 });
    expect(JSON.parse(readFileSync(file, 'utf8')).host).toBe(hostname());
    release();
    expect(judgeLock({ pid: 1, host: 'x' }, Date.now() - 1000, { staleAfterMs: 500 }).stale).toBe(true);
  });

  it('an unreadable lock is being written for a moment, then stale', () => {
    const file = join(dir(), '.lock');
    writeFileSync(file, '');
    expect(() => acquireLock(file)).toThrow(/unreadable: probably being written/);
    age(file, 60_000);
    acquireLock(file, { refreshMs: 0 })();
    expect(parseLockOwner('garbage')).toBeUndefined();
    expect(parseLockOwner('0')).toBeUndefined();
  });

  it('refreshes its mtime while held, and release leaves a lock that is no longer its own', async () => {
    const file = join(dir(), '.lock');
    const release = acquireLock(file, { refreshMs: 20 });
    age(file, 60_000);
    const before = statSync(file).mtimeMs;
    await new Promise((r) => setTimeout(r, 150));
    expect(statSync(file).mtimeMs).toBeGreaterThan(before + 30_000);
    writeFileSync(file, lockText(process.ppid)); // someone else's now
    release();
    expect(existsSync(file)).toBe(true);
  });
});

/**
 * One contender: waits until `go` exists, tries the lock once, prints WON or LOST, and (if it won)
 * holds it until `done` exists, so that a slow contender meets a held lock, not a free one.
 */
const CONTENDER = `
const { existsSync, writeFileSync } = require('node:fs');
const [lockModule, lock, go, ready, done] = process.argv.slice(1);
import(lockModule).then(({ acquireLock }) => {
  writeFileSync(ready, '');
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(go)) Atomics.wait(nap, 0, 0, 1);
  let release;
  try {
    release = acquireLock(lock, { refreshMs: 0 });
    process.stdout.write('WON\\n');
  } catch (err) {
    process.stdout.write('LOST ' + err.message.split('\\n')[0] + '\\n');
  }
  while (!existsSync(done)) Atomics.wait(nap, 0, 0, 5);
  if (release) release();
});
`;

/** Runs one trial: `n` processes on the stale lock `lock`, released together. Returns their outputs. */
async function trial(d: string, lock: string, n: number, lockModule: string): Promise<string[]> {
  const go = join(d, 'go');
  const done = join(d, 'done');
  const children = Array.from({ length: n }, (_, i) => {
    const child = spawn(process.execPath, [
      '-e',
      CONTENDER,
      lockModule,
      lock,
      go,
      join(d, `ready-${i}`),
      done,
    ]);
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    child.stderr.on('data', (b) => {
      out += b;
    });
    return { child, output: () => out, exited: new Promise((r) => child.on('exit', r)) };
  });
  const until = async (cond: () => boolean) => {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > 60_000) throw new Error('contenders did not start');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await until(() => children.every((_, i) => existsSync(join(d, `ready-${i}`))));
  writeFileSync(go, '');
  await until(() => children.every((c) => /WON|LOST/.test(c.output())));
  writeFileSync(done, '');
  await Promise.all(children.map((c) => c.exited));
  return children.map((c) => c.output().trim());
}

const lockModule = process.env.CLIFFGUARD_LOCK_MODULE ?? join(appRoot, 'dist', 'runner', 'lock.js');

describe('processes racing for a stale lock (built module: pnpm build first)', () => {
  const trials = Number(process.env.CLIFFGUARD_LOCK_TRIALS ?? 10);
  const n = 6;
  const kinds = [
    { kind: 'pid gone on this host', text: () => lockText(deadPid()), old: 0 },
    { kind: 'legacy pid-only lock, pid gone', text: () => String(deadPid()), old: 0 },
    {
      kind: 'another host, not refreshed for the limit',
      text: () => lockText(4242, 'elsewhere'),
      old: LOCK_STALE_AFTER_MS + 60_000,
    },
  ];

  it.each(kinds)(
    `${n} processes at once on one stale lock ($kind): exactly one wins, every trial`,
    async ({ text, old }) => {
      expect(existsSync(lockModule), `build first: ${lockModule}`).toBe(true);
      const url = pathToFileURL(lockModule).href;
      const winners: number[] = [];
      const losses: string[] = [];
      const leftovers: string[] = [];
      for (let t = 0; t < trials; t++) {
        const d = dir();
        const lock = join(d, '.lock');
        writeFileSync(lock, text());
        if (old) age(lock, old);
        const outputs = await trial(d, lock, n, url);
        winners.push(outputs.filter((o) => o === 'WON').length);
        losses.push(...outputs.filter((o) => o !== 'WON'));
        leftovers.push(...readdirSync(d).filter((f) => f.startsWith('.lock'))); // released, no claim or temp left
      }
      expect(winners).toEqual(Array(trials).fill(1));
      for (const o of losses) expect(o).toMatch(/^LOST another repro process \(pid \d+ on host/);
      expect(leftovers).toEqual([]);
    },
  );
});
