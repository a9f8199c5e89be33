/**
 * Builds the clip-modes page (Node; used by ../../scripts/clip-modes-browser.mjs): modes-page.ts
 * bundled by esbuild for the browser with nothing external, as build.ts bundles the drop-in page:
 * every tfjs-core / tfjs-backend-cpu import resolves to this app's copy (one tfjs in the bundle),
 * and tfjs-backend-webgl becomes an empty module when it is not installed.
 */
import { writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { webglBackendPath } from './build.js';

const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url));
// src/dropin or dist/dropin: the sources are always those of src/dropin
const SRC_DIR = join(BENCH_DIR, 'src', 'dropin');
const WEBGL = '@tensorflow/tfjs-backend-webgl';

const nodePaths = (process.env.NODE_PATH ?? '').split(delimiter).filter(Boolean);

function oneTfjs(webgl: boolean): Plugin {
  return {
    name: 'cliffguard-clip-modes-tfjs',
    setup(b) {
      b.onResolve({ filter: /^@tensorflow\/tfjs-(core|backend-cpu)(\/|$)/ }, async (args) => {
        if (args.pluginData?.fromBench) return undefined;
        const r = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: BENCH_DIR,
          pluginData: { fromBench: true },
        });
        return r.errors.length > 0 ? { errors: r.errors } : { path: r.path, sideEffects: r.sideEffects };
      });
      if (!webgl) {
        b.onResolve({ filter: /^@tensorflow\/tfjs-backend-webgl$/ }, () => ({
          path: WEBGL,
          namespace: 'clip-modes-absent',
        }));
        b.onLoad({ filter: /.*/, namespace: 'clip-modes-absent' }, () => ({
          contents: `// ${WEBGL} is not installed for apps/bench: no webgl backend in this bundle\nexport {};\n`,
          loader: 'js',
        }));
      }
    },
  };
}

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
    plugins: [oneTfjs(webglBundled)],
    logLevel: 'silent',
  });
  writeFileSync(join(dir, 'modes.html'), MODES_HTML);
  return { dir, html: 'modes.html', webglBundled, warnings: result.warnings.map((w) => w.text) };
}
