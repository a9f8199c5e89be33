// Helpers for the end-to-end tests: run the built CLI in a child process, read its results.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appRoot } from './core/paths.js';
import type { ResultLine } from './core/types.js';
import { readResultFile, withoutTiming } from './runner/results.js';

export const cliPath = join(appRoot, 'dist', 'cli.js');

export function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'repro-test-'));
}

export function cli(args: string[], env: Record<string, string> = {}) {
  if (!existsSync(cliPath))
    throw new Error(`build first: ${cliPath} is missing (pnpm --filter @cliffguard/repro build)`);
  const out = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1', INIT_CWD: appRoot, ...env },
    timeout: 170_000,
  });
  return { status: out.status, signal: out.signal, stdout: out.stdout, stderr: out.stderr };
}

/** Starts the CLI and sends it `signal` (default SIGKILL: a real crash) once `ready()` holds (polled). */
export function cliKilledWhen(
  args: string[],
  ready: () => boolean,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<{ signal: string | null; code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, CI: '1', INIT_CWD: appRoot },
    });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stdout += d;
    });
    let sent = false;
    const timer = setInterval(() => {
      if (!sent && ready()) {
        sent = true;
        child.kill(signal);
      }
    }, 50);
    child.on('exit', (code, exitSignal) => {
      clearInterval(timer);
      resolve({ signal: exitSignal, code, stdout });
    });
    child.on('error', reject);
  });
}

export function results(file: string): ResultLine[] {
  return readResultFile(file).lines;
}

/** Result lines without timing, keyed by run id: what must match between two ways of running. */
export function comparable(lines: ResultLine[]): Record<string, unknown> {
  return Object.fromEntries(lines.map((l) => [l.runId, withoutTiming(l)]));
}

export function rawLines(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}
