/**
 * A static server for the drop-in pages (Node; 127.0.0.1 only): `root` at /, tfjs-backend-wasm's
 * .wasm files at /wasm/, with the bench server's COOP/COEP headers (cross-origin isolated: the
 * threaded SIMD wasm build, and SharedArrayBuffer for the fused module to see and not use).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { ISOLATION_HEADERS, type RunningServer } from '../node/server.js';

const require = createRequire(import.meta.url);
const WASM_DIR = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
};

function fileFor(root: string, urlPath: string): string | null {
  const path = decodeURIComponent(urlPath.split('?')[0]);
  const [dir, rest] = path.startsWith('/wasm/') ? [WASM_DIR, path.slice(6)] : [root, path.slice(1)];
  const file = normalize(join(dir, rest || 'index.html'));
  if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return null;
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

export function serveDropin(root: string): Promise<RunningServer> {
  const server = createServer((req, res) => {
    const file = req.method === 'GET' ? fileFor(root, req.url ?? '/') : null;
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain', ...ISOLATION_HEADERS }).end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
      ...ISOLATION_HEADERS,
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/`,
        server,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
