// Host mode against device mode of @cliffguard/clip's wrapper on a tf.layers training step, in
// headless Chromium (a benchmark, not a test): the browser half of scripts/clip-modes.mjs, with its
// model and protocol. Build first (`npx tsc -p tsconfig.json` in apps/bench, after the packages'
// `pnpm build`), then
//
//   node scripts/clip-modes-browser.mjs [webgl|webgpu ...] [--reps N]
//
// With no backend named, webgl then webgpu run, each in a fresh page of one Chromium
// (/usr/bin/chromium through playwright-core; WebGPU enabled, on SwiftShader where there is no GPU).
// The page (src/dropin/modes-page.ts, bundled by src/dropin/modes-build.ts, nothing external) trains
// two identical simpleRNN models side by side, one with `withGradientClipping(adam, { maxNorm,
// mode: 'host' })` (one synchronous readback a step), one with `mode: 'device'` (none), interleaved
// block by block (which goes first alternates). A block is K steps followed by one awaited read of
// a weight, so queued GPU work is paid for in both; the warm-up blocks (shader compilation) are not
// timed. Prints the same markdown rows as clip-modes.mjs (ms per step, median (min-max) over the
// blocks, and the device/host ratio of the medians) on stdout; progress and what ran (renderer,
// adapter, clip statistics, last losses) on stderr. When a run with both arms fails (webgpu on
// SwiftShader: tfjs's synchronous read, which host mode needs, reads wrong data and loses the
// device), the host cell says why and device mode is timed alone in a fresh page.
//
// Reps default per backend (webgl 15, webgpu 5: SwiftShader's WebGPU takes about a second a step
// here); --reps N sets both. --modes host or --modes device runs one arm only (to diagnose).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const BACKENDS = ['webgl', 'webgpu'];
const DEFAULT_REPS = { webgl: 15, webgpu: 5 };
const K = 5;
const WARMUP_BLOCKS = 2;

const args = process.argv.slice(2);
const repsArg = args.indexOf('--reps');
const REPS = repsArg >= 0 ? Number(args[repsArg + 1]) : null;
if (REPS !== null && !(Number.isInteger(REPS) && REPS > 0))
  throw new Error('--reps takes a positive integer');
const modesArg = args.indexOf('--modes');
const MODES = modesArg >= 0 ? args[modesArg + 1].split(',') : undefined;
if (MODES?.some((m) => m !== 'host' && m !== 'device'))
  throw new Error('--modes takes host, device or host,device');
const optionValues = new Set([repsArg, modesArg].filter((i) => i >= 0).map((i) => i + 1));
const named = args.filter((a, i) => !a.startsWith('--') && !optionValues.has(i));
for (const name of named) if (!BACKENDS.includes(name)) throw new Error(`unknown backend '${name}'`);
const backends = named.length > 0 ? named : BACKENDS;

const dist = new URL('../dist/dropin/', import.meta.url);
if (!existsSync(new URL('modes-build.js', dist))) {
  console.error(
    'apps/bench/dist/dropin/modes-build.js is missing: run `npx tsc -p tsconfig.json` in apps/bench',
  );
  process.exit(1);
}
if (!existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is not installed`);
  process.exit(1);
}
const { buildModesPage } = await import(new URL('modes-build.js', dist).href);
const { serveDropin } = await import(new URL('serve.js', dist).href);
const { chromium } = await import('playwright-core');

const median = (xs) => {
  const a = [...xs].sort((p, q) => p - q);
  return a[Math.floor(a.length / 2)];
};
const fmt = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

/** 'webgl (Chromium, SwiftShader)', or the renderer / adapter when it is not SwiftShader. */
function label(r) {
  const seen = Object.entries(r.flags)
    .filter(([key]) => key === 'renderer' || key.startsWith('adapter.'))
    .map(([, v]) => String(v));
  const what = seen.some((v) => /swiftshader/i.test(v))
    ? 'SwiftShader'
    : (r.flags.renderer ?? r.flags['adapter.description'] ?? r.flags['adapter.architecture']);
  return `${r.backend} (Chromium${what ? `, ${what}` : ''})`;
}

const wanted = (req, mode) => req.modes === undefined || req.modes.includes(mode);

/** What ran, on stderr: the renderer / adapter, each arm's warm-up, clip statistics and last loss. */
function describe(r) {
  console.error(`[clip-modes] ${r.backend}: ${JSON.stringify(r.flags)}`);
  for (const a of r.arms) {
    console.error(
      `[clip-modes] ${r.backend} ${a.mode}: deviceMode ${a.deviceMode}, warm-up ${a.warmupMsPerStep.map((v) => v.toFixed(0)).join(', ')} ms/step, ` +
        `${a.steps} steps, ${a.clipCount} clipped, last norm ${a.lastGlobalNorm.toFixed(4)}, last loss ${a.lastLoss.toFixed(6)}`,
    );
  }
  console.error(
    `[clip-modes] ${r.backend}: tensors ${r.tensorsBefore} before, ${r.tensorsAfter} after; ${(r.wallMs / 1000).toFixed(1)} s in all`,
  );
}

let server;
let context;
let built;

/** One run of the page, in a fresh page. */
async function runPage(req) {
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.text().startsWith('[clip-modes]')) console.error(msg.text());
  });
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  try {
    await page.goto(`${server.url}${built.html}`);
    await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 60_000 });
    return await page.evaluate((q) => window.clipModes.run(q), req);
  } finally {
    await page.close();
  }
}

const outDir = mkdtempSync(join(os.tmpdir(), 'cliffguard-clip-modes-'));
const userDataDir = mkdtempSync(join(os.tmpdir(), 'cliffguard-clip-modes-chromium-'));
try {
  built = await buildModesPage(outDir);
  for (const w of built.warnings) console.error(`esbuild: ${w}`);
  server = await serveDropin(outDir);
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
  console.log('| backend | host ms/step | device ms/step | device / host |');
  console.log('| --- | --- | --- | --- |');
  for (const backend of backends) {
    if (backend === 'webgl' && !built.webglBundled) {
      console.log('| webgl (Chromium) | not run: @tensorflow/tfjs-backend-webgl is not installed | | |');
      continue;
    }
    const req = {
      backend,
      reps: REPS ?? DEFAULT_REPS[backend],
      k: K,
      warmupBlocks: WARMUP_BLOCKS,
      learningRate: 1e-3,
      maxNorm: 1,
      modes: MODES,
    };
    let r;
    try {
      r = await runPage(req);
    } catch (err) {
      console.log(`| ${backend} (Chromium) | failed: ${String(err.message).split('\n')[0]} | | |`);
      continue;
    }
    if (r.unavailable) {
      console.log(`| ${backend} (Chromium) | not run: ${r.unavailable} | | |`);
      continue;
    }
    describe(r);
    let hostFailure = null;
    if (
      r.error &&
      r.arms.length === 0 &&
      wanted(req, 'host') &&
      r.flags.canReadSync &&
      wanted(req, 'device')
    ) {
      // host mode broke the page (webgpu: tfjs's synchronous readback can lose the device): the
      // device arm alone, in a fresh page
      hostFailure = `failed: ${r.error.split('\n')[0]}${r.flags.deviceLost ? ` (device lost: ${r.flags.deviceLost})` : ''}`;
      console.error(`[clip-modes] ${backend} failed with both arms: ${r.error}`);
      console.error(`[clip-modes] ${backend}: device mode alone, in a fresh page`);
      try {
        r = await runPage({ ...req, modes: ['device'] });
      } catch (err) {
        console.log(
          `| ${backend} (Chromium) | ${hostFailure} | failed: ${String(err.message).split('\n')[0]} | |`,
        );
        continue;
      }
      describe(r);
    }
    if (r.error) {
      console.error(`[clip-modes] ${backend} failed: ${r.error}`);
      console.log(`| ${label(r)} | ${hostFailure ?? `failed: ${r.error.split('\n')[0]}`} | | |`);
      continue;
    }
    const host = r.arms.find((a) => a.mode === 'host');
    const device = r.arms.find((a) => a.mode === 'device');
    const hostCell = host
      ? fmt(host.msPerStep)
      : (hostFailure ??
        (wanted(req, 'host') ? 'not run: no synchronous readback here' : 'not run (--modes device)'));
    const deviceCell = device ? fmt(device.msPerStep) : 'not run (--modes host)';
    const ratio = host && device ? (median(device.msPerStep) / median(host.msPerStep)).toFixed(2) : '–';
    console.log(`| ${label(r)} | ${hostCell} | ${deviceCell} | ${ratio} |`);
  }
} finally {
  await context?.close();
  await server?.close();
  for (const dir of [userDataDir, outDir]) rmSync(dir, { recursive: true, force: true });
}
