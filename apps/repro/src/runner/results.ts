/**
 * The results file: one JSON line per finished run, appended with a single write of the whole
 * line (O_APPEND) and fsync'd. A crash can at worst leave a torn last line: the reader skips it
 * and the next append starts on a fresh line. Reading de-duplicates by run id, so a run is never
 * counted twice whatever happened.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs';
import type { ResultLine } from '../core/types.js';

export function appendResultLine(file: string, line: ResultLine): void {
  const text = `${JSON.stringify(line)}\n`;
  const fd = openSync(file, 'a+');
  try {
    const size = fstatSync(fd).size;
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n'; // a torn line from a crash: start clean
    }
    writeSync(fd, prefix + text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface ReadResults {
  lines: ResultLine[];
  /** lines that were not valid JSON results (torn writes), by 1-based line number */
  skipped: number[];
  /** run ids seen more than once in this file (the first is kept) */
  duplicates: string[];
}

export function readResultFile(file: string): ReadResults {
  const out: ReadResults = { lines: [], skipped: [], duplicates: [] };
  if (!existsSync(file)) return out;
  const seen = new Set<string>();
  const rows = readFileSync(file, 'utf8').split('\n');
  rows.forEach((row, i) => {
    if (row.trim() === '') return;
    let parsed: ResultLine;
    try {
      parsed = JSON.parse(row) as ResultLine;
    } catch {
      out.skipped.push(i + 1);
      return;
    }
    if (typeof parsed?.runId !== 'string' || typeof parsed.configHash !== 'string') {
      out.skipped.push(i + 1);
      return;
    }
    if (seen.has(parsed.runId)) {
      out.duplicates.push(parsed.runId);
      return;
    }
    seen.add(parsed.runId);
    out.lines.push(parsed);
  });
  return out;
}

/** A result line without its timing: what must be equal for two runs to count as the same. */
export function withoutTiming(line: ResultLine): Omit<ResultLine, 'timing'> {
  const { timing: _timing, ...rest } = line;
  return rest;
}

/**
 * Combines result files from shards. Refuses (throws) when a run id appears in two files, or when
 * files disagree on experiment, profile or protocol, or a run's config differs from its hash.
 */
export function mergeResults(files: { name: string; lines: ResultLine[] }[]): ResultLine[] {
  const merged: ResultLine[] = [];
  const owner = new Map<string, string>();
  let reference: { name: string; experiment: string; profile: string; protocol: string } | undefined;
  for (const file of files) {
    for (const line of file.lines) {
      if (!reference) {
        reference = {
          name: file.name,
          experiment: line.experiment,
          profile: line.profile,
          protocol: line.protocol,
        };
      }
      for (const key of ['experiment', 'profile', 'protocol'] as const) {
        if (line[key] !== reference[key]) {
          throw new Error(
            `cannot merge: ${file.name} has ${key} '${line[key]}' (run ${line.runId}) but ${reference.name} has '${reference[key]}'; ` +
              'results from different experiments, profiles or protocols (for example different --seeds or --alpha) do not merge',
          );
        }
      }
      const first = owner.get(line.runId);
      if (first !== undefined) {
        throw new Error(
          `cannot merge: run ${line.runId} appears in both ${first} and ${file.name} (overlapping shards?)`,
        );
      }
      owner.set(line.runId, file.name);
      merged.push(line);
    }
  }
  return merged.sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
}
