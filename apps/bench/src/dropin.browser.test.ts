/**
 * Drop-in everywhere tfjs runs (issue 17), in Debian's headless Chromium (playwright-core, never a
 * downloaded browser). The pages are bundled here by esbuild for the browser with nothing
 * external (src/dropin/build.ts), one page load per case:
 * - a tf.layers simpleRNN + dense model trained with `withGradientClipping(tf.train.sgd)` on
 *   webgl and on webgpu (SwiftShader);
 * - the paper's RNN on @cliffguard/fused's kernels, trained by `createTrainer`, on webgpu and wasm
 *   (the fused engine single-threaded there, as a browser's main thread must be);
 * - the README's first example, cut from README.md and run as written on the test's xs / ys.
 * A case skips only when its backend cannot start in this Chromium (or is not installed), with the
 * reason; the whole browser part skips when Chromium is absent. The bundle check runs everywhere.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDropin, bundleForBrowser, type DropinBuild, readmeModule } from './dropin/build.js';
import type { CaseRequest, CaseResult, ReadmeResult } from './dropin/protocol.js';
import { serveDropin } from './dropin/serve.js';
import type { RunningServer } from './node/server.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);

// tf.layers: SwiftShader's WebGPU takes about 0.7-1 s a step here (webgl about 50 ms), and the
// first step of each compiles its shaders (8-13 s)
const LAYERS = { learningRate: 0.5, maxNorm: 0.5 };
const LAYERS_STEPS: Record<string, number> = { webgl: 30, webgpu: 8 };
// the fused RNN: about 10 ms a step on webgpu after the first, 1-2 ms on wasm
const RNN = { learningRate: 0.1, maxNorm: 1 };
const RNN_STEPS = 60;
// the README's example runs as written, epochs: 10 on one batch of 32 samples: on SwiftShader's
// webgl its first epoch (a simpleRNN of 32 units over 100 steps) takes about 40 s, nearly all of it
// compiling shaders; the other 9 take a few seconds together
const README_SAMPLES = 32;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[(s.length - 1) >> 1];
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('drop-in bundles (no browser needed)', () => {
  it('esbuild --bundle --platform=browser --format=esm of `import "@cliffguard/fused"` needs only tfjs external', async () => {
    const { errors, text } = await bundleForBrowser("import '@cliffguard/fused';", ['@tensorflow/*']);
    expect(errors.map((e) => e.text)).toEqual([]);
    // the kernels are in the bundle, and no Node module is left for the browser to import
    expect(text).toContain('CliffguardRnnEnsembleStep');
    expect(text).not.toMatch(/^\s*import\b[^;]*["']node:/m);
    expect(text).not.toMatch(/\bimport\(\s*["']node:/);
    // the only imports left are tfjs's
    const imported = [...text.matchAll(/^\s*import\b[^;]*?from\s*["']([^"']+)["']/gm)].map((m) => m[1]);
    expect(imported.length).toBeGreaterThan(0);
    for (const spec of imported) expect(spec).toMatch(/^@tensorflow\//);
  });

  it("cuts the README's first example as written, changing only its epochs", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const m = readmeModule(readme, { samples: 4, epochs: 2 });
    expect(m.example).toContain("import { withGradientClipping } from '@cliffguard/clip';");
    expect(m.example).toContain('withGradientClipping(tf.train.sgd(0.01), { maxNorm: 1 })');
    const changed = m.example.split('\n').filter((line, i) => line !== m.run.split('\n')[i]);
    expect(changed).toEqual(['await model.fit(xs, ys, { epochs: 10 });']);
    expect(m.source).toContain(m.run);
    // a README without the section is an error, not a silently empty page
    expect(() => readmeModule('# cliffguard\n', { samples: 4, epochs: 2 })).toThrow(/Clipping in one line/);
  });
});

describe.skipIf(missing)(
  `drop-in in headless Chromium${missing ? ` (skipped: ${CHROMIUM} is not installed)` : ''}`,
  () => {
    let outDir: string;
    let userDataDir: string;
    let built: DropinBuild;
    let server: RunningServer;
    let context: BrowserContext;
    let webglStarted = false;
    const timings: Array<{ case: string; wallMs: number; medianStepMs: number | null; note: string }> = [];

    beforeAll(async () => {
      outDir = mkdtempSync(join(os.tmpdir(), 'cliffguard-dropin-'));
      built = await buildDropin(outDir, { readmeSamples: README_SAMPLES });
      server = await serveDropin(outDir);
      userDataDir = mkdtempSync(join(os.tmpdir(), 'cliffguard-dropin-chromium-'));
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--enable-unsafe-webgpu',
          '--no-sandbox',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    }, 60_000);

    afterAll(async () => {
      await context?.close();
      await server?.close();
      for (const dir of [userDataDir, outDir]) if (dir) rmSync(dir, { recursive: true, force: true });
      if (timings.length > 0) {
        console.log(
          'drop-in cases (wall ms: page load, backend start, training, disposal; median ms per step after the first 2):\n' +
            timings
              .map(
                (t) =>
                  `  ${t.case.padEnd(26)} ${t.wallMs.toFixed(0).padStart(7)} ms   step ${t.medianStepMs?.toFixed(1) ?? '-'} ms  ${t.note}`,
              )
              .join('\n'),
        );
      }
    });

    /** Runs one case in a fresh page; the result, its wall time recorded. */
    async function runCase(req: CaseRequest): Promise<CaseResult> {
      const t0 = performance.now();
      const page = await context.newPage();
      try {
        await page.goto(`${server.url}index.html`);
        await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 30_000 });
        const result = (await page.evaluate((r) => window.dropin.run(r), req)) as CaseResult;
        const label = `${req.case} ${req.backend}${req.method ? ` ${req.method}` : ''}`;
        timings.push({
          case: label,
          wallMs: performance.now() - t0,
          medianStepMs: result.stepMs.length > 2 ? median(result.stepMs.slice(2)) : null,
          note: result.unavailable ? `skipped: ${result.unavailable}` : JSON.stringify(result.flags),
        });
        return result;
      } finally {
        await page.close();
      }
    }

    function expectTrained(r: CaseResult, steps: number) {
      expect(r.error).toBeNull();
      expect(r.losses).toHaveLength(steps);
      expect(r.losses.every(Number.isFinite)).toBe(true);
      // the loss falls: the last steps' mean well below the first step's loss
      expect(mean(r.losses.slice(-3))).toBeLessThan(0.8 * r.losses[0]);
      expect(r.tensorsAfter).toBe(r.tensorsBefore);
    }

    describe('tf.layers + withGradientClipping(tf.train.sgd)', () => {
      for (const backend of ['webgl', 'webgpu']) {
        it(`trains a simpleRNN + dense model on ${backend}: loss falls, norms reported, no leak`, async (ctx) => {
          if (backend === 'webgl' && !built.webglBundled) {
            ctx.skip(
              '@tensorflow/tfjs-backend-webgl is not installed for apps/bench (not a dependency): no webgl backend to bundle',
            );
          }
          const steps = LAYERS_STEPS[backend];
          const r = await runCase({ case: 'layers', backend, steps, ...LAYERS });
          if (r.unavailable) ctx.skip(`${backend} cannot start in this Chromium: ${r.unavailable}`);
          if (backend === 'webgl') webglStarted = true;
          expectTrained(r, steps);
          expect(r.norms).toHaveLength(1);
          expect(Number.isFinite(r.norms[0])).toBe(true);
          expect(r.norms[0]).toBeGreaterThan(0);
          expect(r.statsSteps).toBe(steps);
          // maxNorm 0.5 is below most of this run's norms: steps were clipped (25 of 30 on webgl)
          expect(r.clipCount).toBeGreaterThan(0);
          expect(r.clipCount).toBeLessThanOrEqual(steps);
        });
      }
    });

    describe('the paper RNN on the fused kernels (createTrainer + paperMethod)', () => {
      const cases: Array<{ backend: string; method: 'SGD' | 'SGD-C' }> = [
        { backend: 'webgpu', method: 'SGD-C' },
        { backend: 'wasm', method: 'SGD-C' },
      ];
      const ran: Record<string, CaseResult> = {};
      for (const { backend, method } of cases) {
        it(`trains with ${method} on ${backend}: loss falls, record.norm finite, no leak`, async (ctx) => {
          const r = await runCase({ case: 'fused-rnn', backend, steps: RNN_STEPS, method, ...RNN });
          if (r.unavailable) ctx.skip(`${backend} cannot start in this Chromium: ${r.unavailable}`);
          ran[backend] = r;
          expectTrained(r, RNN_STEPS);
          expect(r.norms).toHaveLength(RNN_STEPS);
          expect(r.norms.every((n) => Number.isFinite(n) && n > 0)).toBe(true);
          // SGD-C clips exactly the steps whose norm is above maxNorm (this run has some); SGD none
          const above = r.norms.filter((n) => n > RNN.maxNorm).length;
          expect(r.clipCount).toBe(method === 'SGD-C' ? above : 0);
          if (method === 'SGD-C') expect(above).toBeGreaterThan(0);
          expect(r.flags.trainerEngine).toBe('model');
          if (backend === 'webgpu') expect(r.flags.fusedEngine).toBe('wgsl');
          if (backend === 'wasm') {
            // the WebAssembly SIMD module runs, on one thread: a browser page gets no worker
            expect(String(r.flags.fusedEngine)).toMatch(/^wasm-(relaxed-)?simd$/);
            expect(r.flags.crossOriginIsolated).toBe(true);
            expect(r.flags.fusedThreads).toBe(1);
          }
        });
      }

      it('gives the same losses and norms on webgpu and wasm (same weights, same batch)', (ctx) => {
        if (!ran.webgpu || !ran.wasm) ctx.skip('needs both the webgpu and the wasm run');
        // float32 on both, different summation orders: agreement to 1e-3 through the cliff at
        // step 18 and the clipped steps after it
        for (const key of ['losses', 'norms'] as const) {
          const a = ran.webgpu[key];
          const b = ran.wasm[key];
          expect(a).toHaveLength(b.length);
          const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))));
          expect(worst, key).toBeLessThan(1e-3);
        }
        expect(ran.webgpu.clipCount).toBe(ran.wasm.clipCount);
      });
    });

    it("runs the README's first example as written (tf.layers + withGradientClipping, model.fit)", async () => {
      const t0 = performance.now();
      const page = await context.newPage();
      let r: ReadmeResult;
      try {
        await page.goto(`${server.url}readme.html`);
        r = (await page.evaluate(
          () => (window as unknown as { readmeDone: Promise<ReadmeResult> }).readmeDone,
        )) as ReadmeResult;
      } finally {
        await page.close();
      }
      timings.push({
        case: `README example ${r.backend}`,
        wallMs: performance.now() - t0,
        medianStepMs: null,
        note: `${r.epochs} epochs of ${r.samples} samples, epoch losses ${r.epochLosses.map((l) => l.toFixed(4)).join(' ')}, last norm ${r.lastGlobalNorm?.toFixed(3)}`,
      });
      expect(r.error).toBeNull();
      // the union package's backends are cpu and webgl: tfjs picks webgl where it starts
      expect(r.backend).toBe(built.webglBundled && webglStarted ? 'webgl' : 'cpu');
      // as written: the block from README.md unchanged, its 10 epochs run
      expect(built.readme.run).toBe(built.readme.example);
      expect(r.epochs).toBe(10);
      expect(r.statsSteps).toBe(r.epochs * Math.ceil(r.samples / 32));
      expect(Number.isFinite(r.lastGlobalNorm)).toBe(true);
      expect(r.lastGlobalNorm).toBeGreaterThan(0);
      expect(r.epochLosses).toHaveLength(r.epochs);
      expect(r.epochLosses.every(Number.isFinite)).toBe(true);
      expect(r.epochLosses.at(-1)).toBeLessThan(r.epochLosses[0]);
      // its console.log: the norm (NaN when the optimizer keeps it on the device) and the stats
      expect(r.logged).toHaveLength(1);
      expect(r.logged[0]).toHaveLength(2);
      expect(r.logged[0][1]).toMatchObject({ steps: r.statsSteps });
      expect(r.tensorsAfter).toBe(r.tensorsBefore);
    });
  },
);
