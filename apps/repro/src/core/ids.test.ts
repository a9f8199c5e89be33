import { describe, expect, it } from 'vitest';
import { canonicalJson, fileNameFor, hashOf, parseShard, selectShard } from './ids.js';

describe('run ids and shards', () => {
  it('hashes configs independently of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 2 } })).toBe(
      '{"a":{"c":2,"d":[1,{"x":1,"y":2}]},"b":1}',
    );
    expect(hashOf({ a: 1, b: 2 })).toBe(hashOf({ b: 2, a: 1 }));
    expect(hashOf({ a: 1 })).not.toBe(hashOf({ a: 2 }));
  });

  it('makes distinct file names for ids that sanitise alike', () => {
    expect(fileNameFor('x:a/b:s1')).not.toBe(fileNameFor('x:a_b:s1'));
    expect(fileNameFor('temporal-order:SGD-CR/smart-tanh/L50:s3')).toMatch(/^[A-Za-z0-9._-]+$/);
  });

  it('parses K/N and names the bad value otherwise', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    expect(() => parseShard('5/5')).toThrow(/K must be in 0..N-1/);
    expect(() => parseShard('1-of-3')).toThrow(/'1-of-3'/);
  });

  it('deals every run to exactly one shard, whatever the plan order', () => {
    const runs = Array.from({ length: 23 }, (_, i) => ({ id: `e:k${(i * 7) % 23}:s${i % 3}` }));
    const shuffled = [...runs].reverse();
    for (const n of [1, 2, 3, 5, 23, 30]) {
      const slices = Array.from({ length: n }, (_, k) =>
        selectShard(runs, { index: k, count: n }).map((r) => r.id),
      );
      const again = Array.from({ length: n }, (_, k) =>
        selectShard(shuffled, { index: k, count: n }).map((r) => r.id),
      );
      expect(again).toEqual(slices);
      const all = slices.flat();
      expect(all.length).toBe(runs.length);
      expect(new Set(all)).toEqual(new Set(runs.map((r) => r.id)));
      const sizes = slices.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });
});
