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
  rows: (ResultRow & { threads: number; variant: string })[];
}

export interface PeerOptions {
  steps: number;
  warmup: number;
  threads: number[];
  seed: number;
}

/**
 * The peer's environment. OpenBLAS starts its own pool of one thread per core beside torch's
 * intra-op threads unless told otherwise, so `torch.set_num_threads(1)` still ran 2-thread GEMMs,
 * and 2 torch threads ran 4 on 2 cores: measured on the 2-core machine, M took 53 ms (1 torch
 * thread) and 106 ms (2) that way against 34 and 36 ms with OPENBLAS_NUM_THREADS=1. PyTorch gets
 * its best configuration: one OpenBLAS thread under each torch thread (a value set by the caller wins).
 */
export function peerEnv(): NodeJS.ProcessEnv {
  return { ...process.env, OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? '1' };
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
    const request = join(dir, 'request.json');
    writeFileSync(
      request,
      JSON.stringify({ threads: options.threads, steps: options.steps, warmup: options.warmup, jobs }),
    );
    const { stdout } = await run(PYTHON, [SCRIPT, request], {
      maxBuffer: 64 * 2 ** 20,
      timeout: 30 * 60_000,
      env: peerEnv(),
    });
    const out = JSON.parse(stdout) as { info: Record<string, string>; rows: PeerRawRow[] };
    const rows = out.rows.map((r) => {
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
        threads: r.threads,
        variant: r.variant,
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
        ok: finite,
        ...(finite ? {} : { problems: ['non-finite loss'] }),
      };
    });
    return { unavailable: null, info: out.info, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
