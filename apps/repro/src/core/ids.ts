import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal configs always serialise (and hash) the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** A short stable hash of any JSON value (12 hex digits of sha256 over its canonical JSON). */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 12);
}

/** A file-system-safe name for a run id: readable part plus a hash, so distinct ids never collide. */
export function fileNameFor(runId: string): string {
  const readable = runId.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return `${readable}.${hashOf(runId).slice(0, 8)}`;
}

export interface Shard {
  /** 0-based index of this slice */
  index: number;
  /** number of slices */
  count: number;
}

/** Parses `K/N` (0 <= K < N), as given to --shard. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--shard expects K/N with 0 <= K < N (for example 0/4), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) {
    throw new Error(
      `--shard ${text}: K must be in 0..N-1 and N >= 1 (K is 0-based, like SLURM_ARRAY_TASK_ID)`,
    );
  }
  return { index, count };
}

/**
 * The K-th of N deterministic slices: runs are ordered by id and dealt round-robin, so every run
 * lands in exactly one shard and shards stay balanced whatever order the plan lists them in.
 */
export function selectShard<T extends { id: string }>(runs: readonly T[], shard: Shard | undefined): T[] {
  if (!shard) return [...runs];
  const ordered = [...runs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ordered.filter((_, i) => i % shard.count === shard.index);
}
