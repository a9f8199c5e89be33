/**
 * End to end: the page in Debian's headless Chromium (playwright-core, never a downloaded
 * browser) runs the tiny config on webgpu (SwiftShader: seconds per step), wasm (threaded SIMD
 * under COOP/COEP) and cpu, and shows a table and a chart.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../node/server.js';
import type { BenchResults } from '../report/results.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);

describe.skipIf(missing)(
  `bench page in headless Chromium${missing ? ` (skipped: ${CHROMIUM} is not installed)` : ''}`,
  () => {
    let server: RunningServer;
    let context: BrowserContext;
    let userDataDir: string;
    let results: BenchResults;
    let shown: { rows: number; bars: number; status: string };

    beforeAll(async () => {
      server = await startServer(0);
      userDataDir = mkdtempSync(join(os.tmpdir(), 'cliffguard-bench-chromium-'));
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
      const page = await context.newPage();
      await page.goto(
        `${server.url}?autorun=1&configs=tiny&backends=webgpu,wasm,cpu&steps=1&warmup=0&methods=SGD`,
      );
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, {
        timeout: 100_000,
      });
      results = (await page.evaluate(() => window.benchResults)) as BenchResults;
      shown = await page.evaluate(() => ({
        rows: document.querySelectorAll('#results tr').length - 1,
        bars: document.querySelectorAll('#chart svg rect.bar').length,
        status: document.getElementById('status')?.textContent ?? '',
      }));
    }, 120_000);

    afterAll(async () => {
      await context?.close();
      await server?.close();
      if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    });

    it('finishes and shows one table row and one chart bar per result', () => {
      expect(shown.status).toBe('done');
      expect(results.rows.length).toBeGreaterThanOrEqual(3);
      expect(shown.rows).toBe(results.rows.length);
      expect(shown.bars).toBe(results.rows.length);
    });

    it('ran webgpu on the software adapter, and wasm threaded with SIMD', () => {
      const by = Object.fromEntries(results.backends.map((b) => [b.backend, b]));
      expect(by.webgpu.unavailable).toBeNull();
      expect(by.webgpu.flags.software).toBe(true);
      expect(by.wasm.flags).toMatchObject({ crossOriginIsolated: true, simd: true, threads: true });
      expect(by.cpu.unavailable).toBeNull();
    });

    it('measured every backend with positive figures, finite losses and no leak', () => {
      for (const backend of ['webgpu', 'wasm', 'cpu']) {
        const rows = results.rows.filter((r) => r.backend === backend);
        expect(rows.length, backend).toBeGreaterThan(0);
        for (const r of rows) {
          expect(r.ok, `${backend} ${r.impl}: ${r.problems}`).toBe(true);
          expect(r.ms_median).toBeGreaterThan(0);
          expect(r.losses.every(Number.isFinite)).toBe(true);
        }
      }
      // same weights and batch everywhere: the first losses agree across backends and stacks
      expect(results.loss_agreement[0].max_rel_diff).toBeLessThan(1e-4);
    });
  },
);
