import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testData } from '@cliffguard/testing/data';
import { c as createTar } from 'tar';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultCacheDir, downloadVerified, sha256Hex, writeFileAtomic } from './download.js';
import { loadPolyphonic } from './polyphonic.js';
import { loadPtbChars } from './ptb.js';
import { MUSIC_SOURCES } from './sources.js';

const PTB_FILES = ['ptb.char.train.txt', 'ptb.char.valid.txt', 'ptb.char.test.txt'];

// $CLIFFGUARD_DATA, ../shared/data or the download cache; else this suite skips (see @cliffguard/testing/data)
const data = await testData(['jsb', 'ptb'], { defaultCacheDir, loadPtbChars, loadPolyphonic });

/** Everything under `dir`, recursively, as relative paths (to prove nothing half-written remains). */
function listAll(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
      .sort();
  } catch {
    return [];
  }
}

/** Builds a .tgz with members simple-examples/data/<name> from `files` (name -> source path or bytes). */
async function buildTgz(
  work: string,
  tgz: string,
  files: Record<string, string | Uint8Array>,
): Promise<void> {
  const root = join(work, `tree-${Math.random().toString(36).slice(2)}`);
  await mkdir(join(root, 'simple-examples', 'data'), { recursive: true });
  for (const [name, source] of Object.entries(files)) {
    const at = join(root, 'simple-examples', 'data', name);
    if (typeof source === 'string') await symlink(source, at);
    else await writeFile(at, source);
  }
  await createTar(
    { gzip: true, file: tgz, cwd: root, follow: true, portable: true },
    Object.keys(files).map((n) => `simple-examples/data/${n}`),
  );
}

data.describe('download from a local HTTP server on 127.0.0.1 (never the internet)', () => {
  let work: string;
  let server: Server;
  let base: string;
  const routes = new Map<string, Uint8Array | 'truncate'>();
  const requests: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'download-'));
    const jsb = readFileSync(join(data.dir, 'music', 'JSB_Chorales.pickle'));
    routes.set('/JSB%20Chorales.pickle', jsb);
    const corrupt = Buffer.from(jsb);
    corrupt[1000] ^= 1;
    routes.set('/corrupt.pickle', corrupt);
    routes.set('/truncated.pickle', 'truncate');
    const ptbSources = Object.fromEntries(PTB_FILES.map((f) => [f, join(data.dir, 'ptb', f)]));
    await buildTgz(work, join(work, 'good.tgz'), ptbSources);
    routes.set('/simple-examples.tgz', readFileSync(join(work, 'good.tgz')));
    await buildTgz(work, join(work, 'bad.tgz'), {
      ...ptbSources,
      'ptb.char.valid.txt': new TextEncoder().encode('a \n '),
    });
    routes.set('/bad.tgz', readFileSync(join(work, 'bad.tgz')));
    const { 'ptb.char.test.txt': _, ...noTest } = ptbSources;
    await buildTgz(work, join(work, 'partial.tgz'), noTest);
    routes.set('/partial.tgz', readFileSync(join(work, 'partial.tgz')));
    routes.set('/not-a.tgz', new TextEncoder().encode('this is not gzip at all'));
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const body = routes.get(req.url ?? '');
      if (body === undefined) {
        res.writeHead(404).end('not found');
      } else if (body === 'truncate') {
        res.writeHead(200, { 'content-length': '100000' });
        res.write(jsb.subarray(0, 5000));
        setTimeout(() => res.destroy(), 20);
      } else {
        res.writeHead(200, { 'content-length': String(body.length) }).end(body);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(work, { recursive: true, force: true });
  });

  it('music: fetches, verifies sha256, caches; the next load does not fetch again', async () => {
    const cacheDir = join(work, 'cache-music');
    const url = `${base}/JSB%20Chorales.pickle`;
    const set = await loadPolyphonic('jsb', { download: { url }, cacheDir });
    expect([set.train.length, set.valid.length, set.test.length]).toEqual([229, 76, 77]);
    expect(set.sha256).toBe(MUSIC_SOURCES.jsb.sha256);
    expect(listAll(cacheDir)).toEqual([
      'music/JSB_Chorales.pickle',
      `parsed/${MUSIC_SOURCES.jsb.sha256}.cgpr`,
    ]);
    const before = requests.length;
    const again = await loadPolyphonic('jsb', { download: { url }, cacheDir });
    expect(again.fromCache).toBe(true);
    expect(requests.length).toBe(before);
  });

  it('music: a wrong checksum is a clear error and nothing is written', async () => {
    const cacheDir = join(work, 'cache-corrupt');
    await expect(
      loadPolyphonic('jsb', { download: { url: `${base}/corrupt.pickle` }, cacheDir }),
    ).rejects.toThrow(
      new RegExp(
        `sha256 mismatch for .*corrupt.pickle: expected ${MUSIC_SOURCES.jsb.sha256}, got [0-9a-f]{64}; nothing was written`,
      ),
    );
    expect(listAll(cacheDir)).toEqual([]);
  });

  it.each([
    ['an HTTP 404', '/missing.pickle', /download of .*missing.pickle failed: HTTP 404/],
    ['a connection cut mid-body', '/truncated.pickle', /download of .*truncated.pickle failed/],
  ])('music: %s is a clear error and nothing is written', async (_, path, error) => {
    const cacheDir = join(work, `cache-${path.slice(1, 8)}`);
    await expect(loadPolyphonic('jsb', { download: { url: `${base}${path}` }, cacheDir })).rejects.toThrow(
      error,
    );
    expect(listAll(cacheDir)).toEqual([]);
  });

  it('ptb: fetches the .tgz, extracts and verifies the three char files, loads them', async () => {
    const cacheDir = join(work, 'cache-ptb');
    const ptb = await loadPtbChars({ download: { url: `${base}/simple-examples.tgz` }, cacheDir });
    expect(ptb.lines).toEqual({ train: 42_068, valid: 3_370, test: 3_761 });
    expect(ptb.vocab.length).toBe(50);
    expect(listAll(cacheDir)).toEqual(PTB_FILES.map((f) => `ptb/${f}`).sort());
    const before = requests.length;
    await loadPtbChars({ download: { url: `${base}/simple-examples.tgz` }, cacheDir });
    expect(requests.length).toBe(before);
  });

  it.each([
    [
      'a member with the wrong checksum',
      '/bad.tgz',
      /sha256 mismatch for simple-examples\/data\/ptb.char.valid.txt .*nothing was written/,
    ],
    [
      'a missing member',
      '/partial.tgz',
      /has no member simple-examples\/data\/ptb.char.test.txt; nothing was written/,
    ],
    ['not an archive', '/not-a.tgz', /not-a.tgz is not a readable .tgz archive/],
    ['an HTTP 404', '/nothing.tgz', /HTTP 404/],
  ])('ptb: %s is a clear error and nothing is written', async (_, path, error) => {
    const cacheDir = join(work, `cache-ptb-${path.slice(1, 6)}`);
    await expect(loadPtbChars({ download: { url: `${base}${path}` }, cacheDir })).rejects.toThrow(error);
    expect(listAll(cacheDir)).toEqual([]);
  });

  it('a local dir wins over downloading', async () => {
    const before = requests.length;
    const cacheDir = join(work, 'cache-unused');
    await loadPtbChars({ dir: data.dir, download: { url: `${base}/simple-examples.tgz` }, cacheDir });
    expect(requests.length).toBe(before);
    expect(listAll(cacheDir)).toEqual([]);
  });

  it('downloadVerified and writeFileAtomic leave only the final file', async () => {
    const dir = join(work, 'atomic');
    const bytes = new TextEncoder().encode('hello');
    await writeFileAtomic(join(dir, 'a.txt'), bytes);
    const jsb = routes.get('/JSB%20Chorales.pickle') as Uint8Array;
    await downloadVerified(`${base}/JSB%20Chorales.pickle`, join(dir, 'j.pickle'), sha256Hex(jsb));
    expect(listAll(dir)).toEqual(['a.txt', 'j.pickle']);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('hello');
  });
});
