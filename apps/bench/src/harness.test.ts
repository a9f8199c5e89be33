/**
 * The whole CLI, as a user runs it: a tiny config (from a config file) on cpu and wasm, each in
 * its own process, written to a results file that is then checked.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtinConfigs } from './configs.js';
import { initialWeights, makeBatch } from './data.js';
import { type BenchOptions, checkRequest } from './node/bench.js';
import type { BenchResults } from './report/results.js';
import { plainTrainStep } from './test-helpers/plain-rnn.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/bench.js', import.meta.url));
const dir = mkdtempSync(join(os.tmpdir(), 'cliffguard-bench-test-'));
// a small clipping threshold, so that SGD-C really clips (checked below)
const smoke = {
  ...builtinConfigs.tiny,
  name: 'smoke',
  description: 'test config from a file',
  maxNorm: 0.05,
};

/** Losses of `steps` plain-JS steps (SGD, or SGD-C with clip) from the bench's initial weights. */
function plainLosses(steps: number, clip: boolean): { losses: number[]; norms: number[] } {
  const data = makeBatch(smoke, 1);
  let w = initialWeights(smoke, 1);
  const losses: number[] = [];
  const norms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const s = plainTrainStep(smoke, w, data, { clip });
    losses.push(s.loss);
    norms.push(s.gradNorm);
    w = s.next;
  }
  return { losses, norms };
}

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, INIT_CWD: dir },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('bench CLI on cpu and wasm', () => {
  let results: BenchResults;
  let outcome: Awaited<ReturnType<typeof bench>>;

  beforeAll(async () => {
    writeFileSync(join(dir, 'smoke.json'), JSON.stringify(smoke));
    outcome = await bench([
      '--configs',
      'smoke',
      '--config-file',
      'smoke.json',
      '--backends',
      'cpu,wasm',
      '--steps',
      '3',
      '--warmup',
      '1',
      '--ensembles',
      '1,3',
      '--out',
      'r/results.json',
    ]);
    results = JSON.parse(readFileSync(join(dir, 'r/results.json'), 'utf8'));
  });

  it('exits 0 and prints the table and where the files are', () => {
    expect(outcome.stderr).not.toMatch(/FAIL/);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/median ms/);
    expect(outcome.stdout).toContain(join(dir, 'r/results.json'));
    expect(readFileSync(join(dir, 'r/results.md'), 'utf8')).toMatch(/^# cliffguard bench/);
  });

  it('writes a well-formed results file with the machine and backend flags', () => {
    expect(results.schema).toBe('cliffguard-bench/1');
    expect(results.machine).toMatchObject({ cores: os.cpus().length, node: process.version });
    expect((results.machine as { tfjs: Record<string, string> }).tfjs['@tensorflow/tfjs-core']).toBe(
      '4.22.0',
    );
    expect(results.backends.map((b) => [b.backend, b.unavailable])).toEqual([
      ['cpu', null],
      ['wasm', null],
    ]);
    expect(results.backends[1].flags).toMatchObject({ simd: true, threads: false });
    expect(results.rows.length).toBeGreaterThan(1);
    for (const r of results.rows) {
      expect(r).toMatchObject({ config: 'smoke', steps: 3 });
      expect(['cpu', 'wasm']).toContain(r.backend);
      expect(typeof r.impl).toBe('string');
    }
  });

  it('has every figure positive and no leak', () => {
    for (const r of results.rows) {
      const where = `${r.backend} ${r.impl} ${r.method}`;
      for (const k of [
        'ms_median',
        'ms_min',
        'ms_max',
        'ms_mean',
        'ms_first',
        'steps_per_s',
        'gflops',
        'flop',
      ] as const) {
        expect(r[k], `${where} ${k}`).toBeGreaterThan(0);
        expect(Number.isFinite(r[k]), `${where} ${k}`).toBe(true);
      }
      expect(r.ok, `${where}: ${r.problems}`).toBe(true);
      expect([r.tensors_leaked, r.tensors_growth], where).toEqual([0, 0]);
      expect(r.tensors_after, where).toBe(r.tensors_before);
      expect(r.losses.every(Number.isFinite), where).toBe(true);
    }
  });

  it('gets the same losses on cpu and wasm for the same seed', () => {
    const cpu = results.rows.filter((r) => r.backend === 'cpu');
    for (const c of cpu) {
      const w = results.rows.find((r) => r.backend === 'wasm' && r.impl === c.impl && r.method === c.method)!;
      expect(w, `${c.impl} ${c.method} on wasm`).toBeDefined();
      expect(w.losses).toHaveLength(c.losses.length);
      c.losses.forEach((l, i) => {
        expect(Math.abs(l - w.losses[i]) / Math.abs(l), `${c.impl} ${c.method} step ${i}`).toBeLessThan(1e-4);
      });
    }
  });

  it('starts every stack at the loss a plain JS step computes', () => {
    const plain = plainTrainStep(smoke, initialWeights(smoke, 1), makeBatch(smoke, 1), { clip: true });
    for (const r of results.rows) expect(Math.abs(r.losses[0] - plain.loss) / plain.loss).toBeLessThan(1e-5);
    expect(results.loss_agreement[0].max_rel_diff).toBeLessThan(1e-5);
  });

  it('runs the reference and fused implementations with every method', () => {
    for (const backend of ['cpu', 'wasm']) {
      const names = results.rows
        .filter((r) => r.backend === backend && r.impl !== 'fused-ensemble')
        .map((r) => `${r.impl} ${r.method}`);
      expect(names.sort()).toEqual([
        'fused SGD',
        'fused SGD-C',
        'fused SGD-CR',
        'reference SGD',
        'reference SGD-C',
        'reference SGD-CR',
        'tfjs-layers SGD',
      ]);
    }
    expect(results.overheads.map((o) => `${o.backend} ${o.impl} ${o.what}`).sort()).toEqual([
      'cpu fused clip',
      'cpu fused omega',
      'cpu reference clip',
      'cpu reference omega',
      'wasm fused clip',
      'wasm fused omega',
      'wasm reference clip',
      'wasm reference omega',
    ]);
    for (const r of results.rows.filter((x) => x.impl === 'reference' || x.impl === 'fused')) {
      expect(r.speedup_vs_layers, `${r.backend} ${r.impl} ${r.method}`).toBeGreaterThan(0);
    }
  });

  it('trains as a plain JS run does: SGD, and SGD-C that really clips', () => {
    const sgd = plainLosses(5, false);
    const sgdc = plainLosses(5, true);
    expect(Math.min(...sgdc.norms)).toBeGreaterThan(smoke.maxNorm);
    for (const r of results.rows.filter((x) => x.method !== 'SGD-CR')) {
      const plain = r.method === 'SGD-C' ? sgdc.losses : sgd.losses;
      r.losses.forEach((l, i) => {
        expect(
          Math.abs(l - plain[i]) / plain[i],
          `${r.backend} ${r.impl} ${r.method} step ${i}`,
        ).toBeLessThan(1e-4);
      });
    }
    // clipping changed the trajectory (else the check above could not tell SGD-C from SGD)
    expect(Math.abs(sgd.losses[4] - sgdc.losses[4])).toBeGreaterThan(1e-3);
  });

  it('gets the same SGD-CR losses from the fused and reference implementations', () => {
    for (const backend of ['cpu', 'wasm']) {
      const ref = results.rows.find(
        (r) => r.backend === backend && r.impl === 'reference' && r.method === 'SGD-CR',
      )!;
      const fused = results.rows.find(
        (r) => r.backend === backend && r.impl === 'fused' && r.method === 'SGD-CR',
      )!;
      ref.losses.forEach((l, i) => {
        expect(Math.abs(l - fused.losses[i]) / l, `${backend} step ${i}`).toBeLessThan(1e-4);
      });
    }
  });

  it('runs fused ensembles whose run 0 trains exactly as the single fused run', () => {
    const skippedEnsembles = results.skipped.filter((s) => s.impl === 'fused-ensemble');
    if (skippedEnsembles.length > 0) {
      // a build of @cliffguard/fused without ensembles: listed as not run, with the reason
      expect(skippedEnsembles.length).toBe(4);
      for (const s of skippedEnsembles) expect(s.reason).toMatch(/batched ensembles|no ensembles on/);
      return;
    }
    for (const backend of ['cpu', 'wasm']) {
      const single = results.rows.find(
        (r) => r.backend === backend && r.impl === 'fused' && r.method === 'SGD-C',
      )!;
      const ensembles = results.rows.filter((r) => r.backend === backend && r.impl === 'fused-ensemble');
      expect(ensembles.map((r) => [r.runs, r.method, r.ok])).toEqual([
        [1, 'SGD-C', true],
        [3, 'SGD-C', true],
      ]);
      for (const e of ensembles) {
        e.losses.forEach((l, i) => {
          expect(Math.abs(l - single.losses[i]) / l, `${backend} R=${e.runs} step ${i}`).toBeLessThan(1e-4);
        });
        expect(e.updates_per_s).toBeCloseTo(e.runs * e.steps_per_s, 9);
        expect(e.throughput_vs_separate).toBeGreaterThan(0);
        expect(e.flop).toBe(e.runs * single.flop);
      }
    }
  });

  it('compares against a previous results file', async () => {
    const again = await bench([
      '--configs',
      'smoke',
      '--config-file',
      'smoke.json',
      '--backends',
      'cpu',
      '--impls',
      'tfjs-layers',
      '--steps',
      '2',
      '--out',
      'r/again.json',
      '--compare',
      'r/results.json',
    ]);
    expect(again.code).toBe(0);
    const second = JSON.parse(readFileSync(join(dir, 'r/again.json'), 'utf8')) as BenchResults;
    const [c] = second.comparison!.rows;
    const prev = results.rows.find((r) => r.backend === 'cpu' && r.impl === 'tfjs-layers')!;
    expect(c).toMatchObject({
      config: 'smoke',
      backend: 'cpu',
      impl: 'tfjs-layers',
      previous_ms: prev.ms_median,
    });
    expect(c.ratio).toBeCloseTo(second.rows[0].ms_median / prev.ms_median, 10);
    expect(again.stdout).toMatch(/against r\/results\.json/);
  });
});

describe('bench CLI with webgpu', () => {
  it('runs webgpu when an adapter starts, else reports why, and goes on with the others', async () => {
    const r = await bench(
      '--configs tiny --backends webgpu,cpu --impls tfjs-layers --steps 1 --warmup 0 --out r/webgpu.json'.split(
        ' ',
      ),
    );
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(readFileSync(join(dir, 'r/webgpu.json'), 'utf8')) as BenchResults;
    const [webgpu, cpu] = results.backends;
    expect([webgpu.backend, cpu.backend, cpu.unavailable]).toEqual(['webgpu', 'cpu', null]);
    const webgpuRows = results.rows.filter((x) => x.backend === 'webgpu');
    if (webgpu.unavailable === null) {
      expect(webgpuRows.map((x) => [x.impl, x.ok])).toEqual([['tfjs-layers', true]]);
      expect(typeof webgpu.flags.software).toBe('boolean');
    } else {
      expect(webgpu.unavailable).toMatch(/adapter|Vulkan|failed/);
      expect(r.stderr).toContain(`webgpu: unavailable (${webgpu.unavailable})`);
      expect(webgpuRows).toEqual([]);
    }
    expect(results.rows.filter((x) => x.backend === 'cpu')).toHaveLength(1);
  });

  it('runs the clip rows on webgpu in Node (the chain in device mode, no readback in a step), and exits 0', async () => {
    const r = await bench(
      '--configs tiny --backends webgpu --impls reference --methods SGD,SGD-C --steps 1 --warmup 0 --out r/webgpu-clip.json'.split(
        ' ',
      ),
    );
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(readFileSync(join(dir, 'r/webgpu-clip.json'), 'utf8')) as BenchResults;
    if (results.backends[0].unavailable !== null) return;
    expect(results.rows.map((x) => [x.impl, x.method, x.ok])).toEqual([
      ['reference', 'SGD', true],
      ['reference', 'SGD-C', true],
    ]);
    expect(results.skipped).toEqual([]);
  });

  it('counts the compute dispatches of one step on webgpu: positive, deterministic, the same for every ensemble size', async () => {
    const counts: Array<Array<[string, number, number | null]>> = [];
    for (const n of [1, 2]) {
      const r = await bench(
        `--configs tiny --backends webgpu,cpu --impls reference --methods SGD --ensembles 1,4 --steps 1 --warmup 1 --out r/dispatches-${n}.json`.split(
          ' ',
        ),
      );
      expect(r.code, r.stderr).toBe(0);
      const results = JSON.parse(readFileSync(join(dir, `r/dispatches-${n}.json`), 'utf8')) as BenchResults;
      // every row on another backend carries null
      for (const row of results.rows.filter((x) => x.backend !== 'webgpu'))
        expect(row.dispatches_per_step).toBeNull();
      if (results.backends[0].unavailable !== null) return; // webgpu did not start here (reported above)
      const rows = results.rows.filter((x) => x.backend === 'webgpu');
      counts.push(rows.map((x) => [x.impl, x.runs, x.dispatches_per_step]));
    }
    const [first, second] = counts;
    expect(first.map(([impl, runs]) => [impl, runs])).toEqual([
      ['reference', 1],
      ['fused-ensemble', 1],
      ['fused-ensemble', 4],
    ]);
    for (const [, , d] of first) {
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThan(0);
    }
    expect(second).toEqual(first);
    // R runs step in the same dispatches as one: the persistent sequence program, the packed
    // update and the record's copy (issue 19: at most 3)
    expect(first[2][2]).toBe(first[1][2]);
    expect(first[1][2]).toBe(3);
  }, 120_000);
});

describe('bench CLI input errors', () => {
  const request = (over: Partial<BenchOptions>): BenchOptions => ({
    configs: ['P100'],
    configFile: [],
    backends: ['cpu'],
    impls: ['reference'],
    methods: ['SGD'],
    warmup: 1,
    budget: 1,
    seed: 1,
    out: 'x.json',
    peerThreads: ['1'],
    ensembles: [],
    progress: false,
    relaxedSimd: false,
    ...over,
  });

  it.each([
    [{ configs: ['P100', 'Q'] }, /unknown config "Q"; valid names: P50, P100, P200, M, C, tiny/],
    [
      { impls: ['magic'] },
      /unknown implementation "magic"; valid implementations: reference, fused, tfjs-layers/,
    ],
    [{ methods: ['Adam'] }, /unknown method "Adam"; valid methods: SGD, SGD-C, SGD-CR/],
    [{ peer: 'jax' }, /unknown peer "jax"; valid peers: pytorch/],
    [{ peerThreads: ['two'] }, /--peer-threads must list positive integers, got "two"/],
    [{ configFile: ['missing.json'] }, /cannot read config file missing\.json/],
    [{ compare: 'missing.json' }, /cannot read --compare file missing\.json/],
  ])('%j is refused with a clear message', (over, message) => {
    process.env.INIT_CWD = dir;
    expect(() => checkRequest(request(over as Partial<BenchOptions>))).toThrow(message);
  });

  it.each([
    [['--backends', 'cpu,tpu'], /unknown backend "tpu"; valid backends: cpu, wasm, webgpu/],
    [['--steps', '0'], /--steps must be a positive integer, got "0"/],
  ])('the CLI exits non-zero on %j with a clear message', async (args, message) => {
    const r = await bench(args as string[]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('rejects a malformed config file, naming the field', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...smoke, name: 'bad', hiddenSize: -3 }));
    const r = await bench(['--config-file', 'bad.json', '--configs', 'bad']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json \(config "bad"\): "hiddenSize" must be a positive integer, got -3/);
  });
});
