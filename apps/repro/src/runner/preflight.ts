/**
 * Before any run starts: every place a sweep will write to must take a write now, so that a
 * read-only folder, a results file that is a folder or a dangling link, or a full quota's
 * EACCES is found in a second, not after each run has trained to its end. Each check writes
 * (and removes) a probe file or opens the existing file for appending, without changing it;
 * root's permission overrides are no excuse, since the probe is a real write.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

export class NotWritable extends Error {
  constructor(
    readonly path: string,
    readonly what: string,
    reason: string,
  ) {
    super(
      `cannot write ${what} ${path}: ${reason}; fix its permissions (or free the space), or choose another --out. Nothing has run yet.`,
    );
    this.name = 'NotWritable';
  }
}

const reasonOf = (err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code} (${e.message.replace(/^[A-Z]+: /, '')})` : String(err);
};

let probeCounter = 0;

/** Creates `dir` if needed and writes (then removes) a probe file in it. */
export function assertWritableDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new NotWritable(dir, what, reasonOf(err));
  }
  try {
    if (!statSync(dir).isDirectory()) throw new Error('it exists and is not a folder');
  } catch (err) {
    throw new NotWritable(dir, what, err instanceof Error && !('code' in err) ? err.message : reasonOf(err));
  }
  probeCounter += 1;
  const probe = join(dir, `.write-probe-${process.pid}-${probeCounter}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (err) {
    throw new NotWritable(dir, what, reasonOf(err));
  } finally {
    rmSync(probe, { force: true });
  }
}

/**
 * Opens `file` for appending (creating nothing: a file that does not exist yet is covered by its
 * folder's check, unless its name is a link, which is followed as the real write would be).
 */
export function assertWritableFile(file: string, what: string): void {
  let exists = true;
  try {
    lstatSync(file);
  } catch {
    exists = false;
  }
  if (!exists) return;
  try {
    if (statSync(file).isDirectory()) throw new NotWritable(file, what, 'it is a folder');
  } catch (err) {
    if (err instanceof NotWritable) throw err;
    // a dangling link: the open below says why it cannot be written
  }
  let fd: number | undefined;
  try {
    fd = openSync(file, 'a');
  } catch (err) {
    throw new NotWritable(file, what, reasonOf(err));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface Outputs {
  /** the experiment's folder: lock, COMMAND, temp files of atomic rewrites */
  dir: string;
  /** appended to: the file itself must be writable */
  results: string;
  checkpoints: string;
  /** the report folder and the index folder (<out>), when this invocation renders a report */
  report?: string;
  index?: string;
}

/**
 * Throws `NotWritable`, naming the path, unless every output of a sweep can be written. Files
 * replaced by rename (COMMAND, checkpoints, report.md/html, index.md/html) need only their
 * folder; files written in place (the results file, the report's SVGs) need their own write too.
 */
export function assertOutputsWritable(outputs: Outputs): void {
  assertWritableDir(outputs.dir, 'the results folder');
  assertWritableFile(outputs.results, 'the results file');
  assertWritableDir(outputs.checkpoints, 'the checkpoint folder');
  if (outputs.report) {
    assertWritableDir(outputs.report, 'the report folder');
    for (const f of readdirSync(outputs.report).filter((name) => name.endsWith('.svg')))
      assertWritableFile(join(outputs.report, f), 'the report figure');
  }
  if (outputs.index) assertWritableDir(outputs.index, 'the results index folder');
}
