// Bundles the browser page (src/page) with esbuild into dist/page, next to its HTML.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = new URL('../dist/page/', import.meta.url);
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: ['src/page/main.ts', 'src/page/run.ts'].map(
    (p) => new URL(`../${p}`, import.meta.url).pathname,
  ),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outdir: outdir.pathname,
  sourcemap: true,
  logLevel: 'warning',
});
for (const f of ['index.html', 'run.html'])
  copyFileSync(new URL(`../src/page/${f}`, import.meta.url), new URL(f, outdir));
