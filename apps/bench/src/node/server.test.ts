import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from './server.js';

function get(url: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    })
      .on('error', reject)
      .end();
  });
}

describe('page server', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(0);
  });
  afterAll(() => server.close());

  it('listens on 127.0.0.1 and serves the page cross-origin isolated', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await get(server.url);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/html/);
    expect(r.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(r.headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect(r.body.toString()).toContain('<script type="module" src="./main.js">');
  });

  it("serves tfjs-backend-wasm's threaded SIMD binary as application/wasm", async () => {
    const r = await get(`${server.url}wasm/tfjs-backend-wasm-threaded-simd.wasm`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/wasm');
    // the WebAssembly magic number
    expect([...r.body.subarray(0, 4)]).toEqual([0, 0x61, 0x73, 0x6d]);
  });

  it('refuses paths outside its folders and missing files', async () => {
    expect((await get(`${server.url}..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await get(`${server.url}wasm/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await get(`${server.url}nothing.js`)).status).toBe(404);
  });
});
