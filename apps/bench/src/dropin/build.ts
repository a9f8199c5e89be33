/**
 * Builds the drop-in pages (Node; used by ../dropin.browser.test.ts): esbuild bundles for the
 * browser with nothing external, as a user's bundler would.
 * - page.js + index.html: the cases of page.ts;
 * - readme.js + readme.html: the README's first example ("Clipping in one line, for an existing
 *   `tf.layers` model"), cut from README.md as written, between readme-harness.ts's
 *   `beforeExample` (the test's xs and ys) and `afterExample`.
 * '@tensorflow/tfjs' (the union package, not a dependency here) resolves to tfjs-umbrella.ts, and
 * every tfjs-core / tfjs-backend-cpu import to this app's copy, so the bundle holds one tfjs.
 * `NODE_PATH` folders are searched after node_modules (esbuild's nodePaths).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Message, type Plugin } from 'esbuild';

const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url));
const REPO_README = fileURLToPath(new URL('../../../../README.md', import.meta.url));
// src/dropin (tests) or dist/dropin: the sources are always those of src/dropin
const SRC_DIR = join(BENCH_DIR, 'src', 'dropin');
const WEBGL = '@tensorflow/tfjs-backend-webgl';

const nodePaths = (process.env.NODE_PATH ?? '').split(delimiter).filter(Boolean);

/** Where `@tensorflow/tfjs-backend-webgl` is for this app (node_modules, then NODE_PATH), or null. */
export function webglBackendPath(): string | null {
  try {
    return createRequire(join(BENCH_DIR, 'package.json')).resolve(`${WEBGL}/package.json`, {
      paths: [BENCH_DIR, ...nodePaths],
    });
  } catch {
    return null;
  }
}

/**
 * One tfjs in the bundle; '@tensorflow/tfjs' as the union; webgl an empty module when absent;
 * the README module (`readme` given) as the entry 'dropin:readme', resolved from this folder.
 */
export function tfjsPlugin(webgl: boolean, readme?: string): Plugin {
  return {
    name: 'cliffguard-dropin-tfjs',
    setup(b) {
      if (readme !== undefined) {
        b.onResolve({ filter: /^dropin:readme$/ }, () => ({ path: 'readme', namespace: 'dropin-readme' }));
        b.onLoad({ filter: /.*/, namespace: 'dropin-readme' }, () => ({
          contents: readme,
          resolveDir: SRC_DIR,
          loader: 'js',
        }));
      }
      b.onResolve({ filter: /^@tensorflow\/tfjs$/ }, () => ({ path: join(SRC_DIR, 'tfjs-umbrella.ts') }));
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
          namespace: 'dropin-absent',
        }));
        b.onLoad({ filter: /.*/, namespace: 'dropin-absent' }, () => ({
          contents: `// ${WEBGL} is not installed for apps/bench: no webgl backend in this bundle\nexport {};\n`,
          loader: 'js',
        }));
      }
    },
  };
}

/** The first ```js block under the README's "Clipping in one line" heading, as written. */
export function readmeClippingExample(readme: string): string {
  const heading = readme.indexOf('## Clipping in one line, for an existing `tf.layers` model');
  if (heading < 0) throw new Error('README.md has no "Clipping in one line" section');
  const open = readme.indexOf('```js\n', heading);
  const close = readme.indexOf('\n```', open + 6);
  if (open < 0 || close < 0) throw new Error('the "Clipping in one line" section has no ```js block');
  return readme.slice(open + 6, close + 1);
}

export interface ReadmeModule {
  /** the module bundled as readme.js */
  source: string;
  /** the README block as cut from README.md */
  example: string;
  /** the block as run: as written, or with other epochs */
  run: string;
}

/**
 * The README's example between the harness's calls. `tf`, `model` and `optimizer` are the
 * example's own names (its imports are hoisted, so the harness may use `tf` above them). The block
 * runs as written, or with `epochs` in its `model.fit` when given; it fails when the block no
 * longer has what the harness relies on.
 */
export function readmeModule(readme: string, options: { samples: number; epochs?: number }): ReadmeModule {
  const example = readmeClippingExample(readme);
  for (const name of ['import * as tf from', 'const model =', 'const optimizer =']) {
    if (!example.includes(name)) throw new Error(`the README example no longer has \`${name}\``);
  }
  const fit = /model\.fit\(xs, ys, \{ epochs: \d+ \}\)/;
  if (!fit.test(example))
    throw new Error('the README example no longer calls `model.fit(xs, ys, { epochs: N })`');
  const run =
    options.epochs === undefined
      ? example
      : example.replace(fit, `model.fit(xs, ys, { epochs: ${options.epochs} })`);
  const harness = JSON.stringify(join(SRC_DIR, 'readme-harness.ts'));
  const source = [
    '// Generated by apps/bench/src/dropin/build.ts: the README example between the harness calls.',
    `import { afterExample as __afterExample, beforeExample as __beforeExample } from ${harness};`,
    `const { xs, ys } = __beforeExample(tf, ${options.samples});`,
    `// ---- README.md, "Clipping in one line, for an existing \`tf.layers\` model"${run === example ? ', as written' : ''} ----`,
    run,
    '// ---- end of the README example ----',
    'window.readmeResult = await __afterExample(tf, model, optimizer);',
    '',
  ].join('\n');
  return { source, example, run };
}

const INDEX_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8" /><title>cliffguard drop-in</title></head>
<body data-state="loading"><script type="module" src="./page.js"></script></body></html>
`;

const README_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8" /><title>cliffguard README example</title></head>
<body><script type="module">
window.readmeDone = import('./readme.js').then(
  () => window.readmeResult,
  (e) => ({ error: String((e && e.stack) || e) }),
);
</script></body></html>
`;

export interface DropinBuild {
  dir: string;
  webglBundled: boolean;
  readme: ReadmeModule;
  warnings: string[];
}

/** Bundles page.js and readme.js into `dir` with their HTML. */
export async function buildDropin(
  dir: string,
  options: { readmeSamples: number; readmeEpochs?: number },
): Promise<DropinBuild> {
  const webglBundled = webglBackendPath() !== null;
  const readme = readmeModule(readFileSync(REPO_README, 'utf8'), {
    samples: options.readmeSamples,
    epochs: options.readmeEpochs,
  });
  const result = await build({
    entryPoints: { page: join(SRC_DIR, 'page.ts'), readme: 'dropin:readme' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: dir,
    nodePaths,
    plugins: [tfjsPlugin(webglBundled, readme.source)],
    logLevel: 'silent',
  });
  writeFileSync(join(dir, 'index.html'), INDEX_HTML);
  writeFileSync(join(dir, 'readme.html'), README_HTML);
  return { dir, webglBundled, readme, warnings: result.warnings.map((w) => w.text) };
}

/** Bundles `source` (resolved from this app) for the browser, as `esbuild --bundle --platform=browser --format=esm`. */
export async function bundleForBrowser(
  source: string,
  external: string[],
): Promise<{ errors: Message[]; warnings: Message[]; text: string }> {
  try {
    const result = await build({
      stdin: { contents: source, resolveDir: BENCH_DIR, sourcefile: 'entry.js', loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      external,
      write: false,
      logLevel: 'silent',
    });
    return { errors: result.errors, warnings: result.warnings, text: result.outputFiles?.[0]?.text ?? '' };
  } catch (err) {
    const failure = err as { errors?: Message[]; warnings?: Message[] };
    if (!failure.errors) throw err;
    return { errors: failure.errors, warnings: failure.warnings ?? [], text: '' };
  }
}
