/**
 * The results file: one JSON line per finished run, appended with a single write of the whole
 * line (O_APPEND) and fsync'd. A crash can at worst leave a torn last line: the reader skips it,
 * the next append starts on a fresh line, and the next resume rewrites the file without it
 * (`dropTornLines`). Reading de-duplicates by run id, so a run is never counted twice whatever
 * happened; merging keeps one of two identical records of a run and refuses two that differ.
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
import { writeFileAtomic } from '../core/checkpoint.js';
import { canonicalJson } from '../core/ids.js';
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
  /** the first record of each run id, in file order */
  lines: ResultLine[];
  /** the 1-based line number of each of `lines` */
  lineNumbers: number[];
  /** lines that were not valid JSON results (torn writes), by 1-based line number */
  skipped: number[];
  /** run ids seen more than once in this file (the first is kept) */
  duplicates: string[];
  /** each later record of a run id: its line, the line of the kept one, and whether the two are the same run (equal apart from timing) */
  duplicateLines: { runId: string; line: number; first: number; identical: boolean; record: ResultLine }[];
  /** the text of every line, as read (without its newline) */
  rows: string[];
}

export function readResultFile(file: string): ReadResults {
  const out: ReadResults = {
    lines: [],
    lineNumbers: [],
    skipped: [],
    duplicates: [],
    duplicateLines: [],
    rows: [],
  };
  if (!existsSync(file)) return out;
  const kept = new Map<string, { line: number; record: ResultLine }>();
  const rows = readFileSync(file, 'utf8').split('\n');
  out.rows = rows;
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
    const first = kept.get(parsed.runId);
    if (first) {
      out.duplicates.push(parsed.runId);
      out.duplicateLines.push({
        runId: parsed.runId,
        line: i + 1,
        first: first.line,
        identical: sameRun(first.record, parsed),
        record: parsed,
      });
      return;
    }
    kept.set(parsed.runId, { line: i + 1, record: parsed });
    out.lines.push(parsed);
    out.lineNumbers.push(i + 1);
  });
  return out;
}

/**
 * Rewrites a results file without its unreadable lines (torn writes), atomically; the lines it
 * drops are kept in `<file>.torn-<timestamp>`. Returns the dropped line numbers and that file
 * (undefined when there was nothing to drop). Call it only while holding the results' lock.
 */
export function dropTornLines(file: string, now = new Date()): { dropped: number[]; savedTo?: string } {
  const read = readResultFile(file);
  if (read.skipped.length === 0) return { dropped: [] };
  const torn = new Set(read.skipped);
  const keep = read.rows.filter((row, i) => row.trim() !== '' && !torn.has(i + 1));
  const savedTo = `${file}.torn-${now.toISOString().replace(/[:.]/g, '-')}`;
  writeFileAtomic(savedTo, read.skipped.map((n) => `line ${n}: ${read.rows[n - 1]}\n`).join(''));
  writeFileAtomic(file, keep.map((row) => `${row}\n`).join(''));
  return { dropped: read.skipped, savedTo };
}

/** A result line without its timing: what must be equal for two runs to count as the same. */
export function withoutTiming(line: ResultLine): Omit<ResultLine, 'timing'> {
  const { timing: _timing, ...rest } = line;
  return rest;
}

/** Two records of one run agree: equal apart from timing (where, when and how long it ran). */
export function sameRun(a: ResultLine, b: ResultLine): boolean {
  return canonicalJson(withoutTiming(a)) === canonicalJson(withoutTiming(b));
}

export interface MergeInput {
  name: string;
  lines: ResultLine[];
  /** 1-based line number of each record in its file, for messages (default: its index + 1) */
  lineNumbers?: number[];
}

/**
 * Combines result files from shards. A run recorded twice (in one file or two) is kept once, with
 * a warning, when both records are the same run (equal apart from timing: two processes that ran
 * it both wrote it); when they differ it refuses (throws), naming both lines. It also refuses when
 * files disagree on experiment, profile or protocol.
 */
export function mergeResults(files: MergeInput[], warn: (message: string) => void = () => {}): ResultLine[] {
  const merged: ResultLine[] = [];
  const owner = new Map<string, { where: string; record: ResultLine }>();
  let reference: { name: string; experiment: string; profile: string; protocol: string } | undefined;
  for (const file of files) {
    file.lines.forEach((line, i) => {
      const where = `${file.name} line ${file.lineNumbers?.[i] ?? i + 1}`;
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
        if (!sameRun(first.record, line)) {
          throw new Error(
            `cannot merge: run ${line.runId} is recorded twice with different results, at ${first.where} and at ${where}; ` +
              'find out which is right (for example from its timing: backend, host, finishedAt), delete the other line, and merge again',
          );
        }
        warn(
          `run ${line.runId} is recorded twice (${first.where} and ${where}), the same run apart from timing: keeping ${first.where}`,
        );
        return;
      }
      owner.set(line.runId, { where, record: line });
      merged.push(line);
    });
  }
  return merged.sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
}
