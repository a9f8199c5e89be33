/**
 * Builds the clip-modes page (Node; used by ../../scripts/clip-modes-browser.mjs): modes-page.ts
 * bundled by esbuild for the browser with nothing external, as build.ts bundles the drop-in page:
 * every tfjs-core / tfjs-backend-cpu import resolves to this app's copy (one tfjs in the bundle),
 * and tfjs-backend-webgl becomes an empty module when it is not installed.
 */
import { writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { tfjsPlugin, webglBackendPath } from './build.js';

const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url));
// src/dropin or dist/dropin: the sources are always those of src/dropin
const SRC_DIR = join(BENCH_DIR, 'src', 'dropin');

const nodePaths = (process.env.NODE_PATH ?? '').split(delimiter).filter(Boolean);

const MODES_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8" /><title>cliffguard clip modes</title></head>
<body data-state="loading"><script type="module" src="./modes-page.js"></script></body></html>
`;

export interface ModesBuild {
  dir: string;
  /** the page to open, relative to `dir` */
  html: string;
  webglBundled: boolean;
  warnings: string[];
}

/** Bundles modes-page.js into `dir` with modes.html. */
export async function buildModesPage(dir: string): Promise<ModesBuild> {
  const webglBundled = webglBackendPath() !== null;
  const result = await build({
    entryPoints: { 'modes-page': join(SRC_DIR, 'modes-page.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: dir,
    nodePaths,
    plugins: [tfjsPlugin(webglBundled)],
    logLevel: 'silent',
  });
  writeFileSync(join(dir, 'modes.html'), MODES_HTML);
  return { dir, html: 'modes.html', webglBundled, warnings: result.warnings.map((w) => w.text) };
}
