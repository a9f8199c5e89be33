/**
 * The page's static server, on 127.0.0.1 only. COOP/COEP make the page cross-origin isolated,
 * so SharedArrayBuffer exists and tfjs-backend-wasm loads its threaded SIMD build; the .wasm
 * files are served from the installed tfjs-backend-wasm under /wasm/.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
// src/node and dist/node are both two levels below the app: the page is always the built one
const PAGE_DIR = fileURLToPath(new URL('../../dist/page/', import.meta.url));
const WASM_DIR = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.css': 'text/css',
};

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** The file for a URL path, or null when it is outside the served folders. */
export function resolveStatic(urlPath: string): string | null {
  const path = decodeURIComponent(urlPath.split('?')[0]);
  const [root, rest] = path.startsWith('/wasm/')
    ? [WASM_DIR, path.slice(6)]
    : [PAGE_DIR, path.slice(1) || 'index.html'];
  const file = normalize(join(root, rest));
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  if (!existsSync(file) || !statSync(file).isFile()) return null;
  return file;
}

export interface RunningServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export function startServer(port = 0): Promise<RunningServer> {
  if (!existsSync(join(PAGE_DIR, 'index.html'))) {
    throw new Error(`the page is not built (${PAGE_DIR} has no index.html): run \`pnpm build\` first`);
  }
  const server = createServer((req, res) => {
    const file = req.method === 'GET' || req.method === 'HEAD' ? resolveStatic(req.url ?? '/') : null;
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain', ...ISOLATION_HEADERS }).end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
      ...ISOLATION_HEADERS,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${p}/`,
        server,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
