/**
 * `--peer pytorch`: the same configs, batch and initial weights trained by the app's own PyTorch
 * script (python/pytorch_peer.py) with /usr/bin/python3, when it can import torch.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchConfig } from '../configs.js';
import type { ResultRow } from '../core.js';
import { initialWeights, makeBatch } from '../data.js';
import { stepFlops } from '../flops.js';
import { gflopsPerSecond, summarizeTimes } from '../stats.js';

const run = promisify(execFile);
export const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../python/pytorch_peer.py', import.meta.url));

export interface PeerResult {
  /** null when it ran, else why it could not */
  unavailable: string | null;
  info: Record<string, string>;
  rows: PeerRow[];
}

export type PeerRow = ResultRow & {
  threads: number;
  variant: string;
  /** the setting that gave this row: the fastest by median of those tried at its thread count */
  setting: string;
  /** the median of every setting tried at this thread count, by label */
  settings_ms_median: Record<string, number>;
};

export interface PeerOptions {
  steps: number;
  warmup: number;
  threads: number[];
  seed: number;
}

/**
 * One way PyTorch may spend `threads` threads: torch's intra-op threads × OpenBLAS's (the GEMMs).
 * OpenBLAS starts a pool of one thread per core beside torch's unless told otherwise, so both
 * pools at once oversubscribe the cores (on the 2-core machine M took 53 ms at one torch thread
 * and 106 at two that way, against 34 and 36 with one OpenBLAS thread). At two threads neither
 * split wins everywhere (2026-12-03, 2-core Xeon: C 80.9 ms at torch 2 × OpenBLAS 1, 68.7 at
 * torch 1 × OpenBLAS 2; M 21.4 against 22.9), so the peer runs both and reports the faster.
 */
export interface PeerSetting {
  /** threads in all: the thread count the row is compared at */
  threads: number;
  torch: number;
  openblas: number;
  label: string;
}

/**
 * The settings tried for each thread count: torch n × OpenBLAS 1, and torch 1 × OpenBLAS n for
 * n > 1. OPENBLAS_NUM_THREADS set by the caller pins OpenBLAS (torch then takes all n).
 */
export function peerSettings(threads: number[], pinned = process.env.OPENBLAS_NUM_THREADS): PeerSetting[] {
  const setting = (n: number, torch: number, openblas: number): PeerSetting => ({
    threads: n,
    torch,
    openblas,
    label: `torch ${torch} × OpenBLAS ${openblas}`,
  });
  return threads.flatMap((n) => {
    if (pinned) return [setting(n, n, Number(pinned))];
    return n > 1 ? [setting(n, n, 1), setting(n, 1, n)] : [setting(n, 1, 1)];
  });
}

/** Why the peer cannot run here, or null when /usr/bin/python3 imports torch. */
export async function pytorchUnavailable(): Promise<string | null> {
  try {
    await run(PYTHON, ['-c', 'import torch'], { timeout: 60_000 });
    return null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') return `${PYTHON} not found`;
    const last = (e.stderr ?? e.message).trim().split('\n').pop();
    return `${PYTHON} cannot import torch (${last}); install: apt-get install -y python3-torch libopenblas0-pthread`;
  }
}

interface PeerRawRow {
  config: string;
  threads: number;
  variant: string;
  warmup: number;
  ms_first: number;
  times: number[];
  losses: number[];
}

export async function runPytorchPeer(configs: BenchConfig[], options: PeerOptions): Promise<PeerResult> {
  const unavailable = await pytorchUnavailable();
  if (unavailable !== null) return { unavailable, info: {}, rows: [] };
  const dir = mkdtempSync(join(os.tmpdir(), 'cliffguard-bench-peer-'));
  try {
    const jobs = configs.map((config) => {
      const batch = makeBatch(config, options.seed);
      const w = initialWeights(config, options.seed);
      const list = (a: ArrayLike<number>) => Array.from(a);
      return {
        config,
        inputs: list(batch.inputs),
        input_shape: batch.inputShape,
        targets: list(batch.targets),
        target_shape: batch.targetShape,
        weights: {
          W_in: list(w.W_in),
          W_rec: list(w.W_rec),
          b: list(w.b),
          W_out: list(w.W_out),
          b_out: list(w.b_out),
        },
      };
    });
    // one process per OpenBLAS thread count (OpenBLAS reads the variable when it loads)
    const groups = new Map<number, PeerSetting[]>();
    for (const st of peerSettings(options.threads)) {
      groups.set(st.openblas, [...(groups.get(st.openblas) ?? []), st]);
    }
    let info: Record<string, string> = {};
    const tried: PeerRow[] = [];
    for (const [openblas, settings] of groups) {
      const request = join(dir, `request-${openblas}.json`);
      const torchThreads = [...new Set(settings.map((st) => st.torch))];
      writeFileSync(
        request,
        JSON.stringify({ threads: torchThreads, steps: options.steps, warmup: options.warmup, jobs }),
      );
      const { stdout } = await run(PYTHON, [SCRIPT, request], {
        maxBuffer: 64 * 2 ** 20,
        timeout: 30 * 60_000,
        env: { ...process.env, OPENBLAS_NUM_THREADS: String(openblas) },
      });
      const out = JSON.parse(stdout) as { info: Record<string, string>; rows: PeerRawRow[] };
      info = { ...out.info, openblas_num_threads: 'per setting (each row says which)' };
      for (const r of out.rows) {
        for (const st of settings.filter((x) => x.torch === r.threads)) tried.push(peerRow(configs, r, st));
      }
    }
    const rows = fastestPerThreadCount(tried);
    return { unavailable: null, info, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function peerRow(configs: BenchConfig[], r: PeerRawRow, setting: PeerSetting): PeerRow {
  const config = configs.find((c) => c.name === r.config)!;
  const summary = summarizeTimes(r.times);
  const flop = stepFlops(config);
  const finite = r.losses.every(Number.isFinite);
  return {
    config: r.config,
    backend: 'pytorch',
    impl: 'pytorch',
    method: 'SGD-C' as const,
    runs: 1,
    updates_per_s: summary.steps_per_s,
    threads: setting.threads,
    variant: r.variant,
    setting: setting.label,
    settings_ms_median: {},
    ...summary,
    warmup: r.warmup,
    ms_first: r.ms_first,
    flop,
    gflops: gflopsPerSecond(flop, summary.ms_median),
    losses: r.losses,
    ms_steps: r.times,
    tensors_before: 0,
    tensors_after: 0,
    bytes_before: 0,
    bytes_after: 0,
    tensors_in_use: 0,
    bytes_in_use: 0,
    tensors_growth: 0,
    tensors_leaked: 0,
    dispatches_per_step: null,
    ok: finite,
    ...(finite ? {} : { problems: ['non-finite loss'] }),
  };
}

/** Per config and thread count, the row of the fastest setting (by median), with every setting's median. */
export function fastestPerThreadCount(rows: PeerRow[]): PeerRow[] {
  const groups = new Map<string, PeerRow[]>();
  for (const r of rows) {
    const key = `${r.config}|${r.threads}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => {
    const best = group.reduce((a, b) => (b.ms_median < a.ms_median ? b : a));
    return { ...best, settings_ms_median: Object.fromEntries(group.map((r) => [r.setting, r.ms_median])) };
  });
}
