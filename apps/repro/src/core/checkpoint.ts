/**
 * Checkpoints: one file per run in progress, replaced atomically (write a temp file, fsync it,
 * rename it over the old one, fsync the folder), so a kill at any moment leaves either the
 * previous checkpoint or the new one.
 *
 * Format 2 (written since issue 18) is one JSON document whose header records the payload's
 * length in bytes and its sha256, before the payload itself:
 *
 *   {"format":"cliffguard-checkpoint/2","runId":…,"step":…,"savedAt":…,"bytes":N,"sha256":"…","payload":{…}}
 *
 * The payload is the checkpoint (`CheckpointFile`) exactly as `JSON.stringify` wrote it; the
 * reader cuts it out by its recorded length and checks its hash, so a truncated, padded or
 * altered file is found before any of it is used. `runId`, `step` and `savedAt` repeat in the
 * header only for people and tools (`jq .step`). Files written before format 2 (the payload
 * alone, no checksum) are "legacy": they still load, after the checks that can be made without a
 * checksum (JSON, required fields, every saved tensor's length against its shape).
 *
 * A damaged checkpoint is never used: `loadCheckpoint` says what is wrong with it (naming the
 * file), renames it to `<name>.bad-<timestamp>` and the run starts again from step 0.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';

export interface CheckpointFile<S = unknown> {
  runId: string;
  configHash: string;
  step: number;
  savedAt: string;
  state: S;
}

export const CHECKPOINT_FORMAT = 'cliffguard-checkpoint/2';

let tempCounter = 0;

/** Writes all of `data` to `fd` (writeSync may write less than asked). */
function writeAll(fd: number, data: Buffer): void {
  let at = 0;
  while (at < data.length) at += writeSync(fd, data, at, data.length - at);
}

/** Makes a rename in `dir` durable (best effort: not every platform can fsync a folder). */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some file systems refuse to open or fsync a folder; the rename still happened
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Replaces `file` atomically: a temp file beside it, written in full and fsync'd, renamed over it. */
export function writeFileAtomic(file: string, data: string | Buffer): void {
  tempCounter += 1;
  const tmp = `${file}.${process.pid}.${Date.now()}.${tempCounter}.tmp`;
  const fd = openSync(tmp, 'wx');
  try {
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dirname(file));
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The bytes of a format-2 checkpoint file. */
export function encodeCheckpoint(checkpoint: CheckpointFile): Buffer {
  const payload = Buffer.from(JSON.stringify(checkpoint), 'utf8');
  const header = JSON.stringify({
    format: CHECKPOINT_FORMAT,
    runId: checkpoint.runId,
    step: checkpoint.step,
    savedAt: checkpoint.savedAt,
    bytes: payload.length,
    sha256: sha256(payload),
  });
  // header without its closing brace, then the payload as the last field
  return Buffer.concat([
    Buffer.from(`${header.slice(0, -1)},"payload":`, 'utf8'),
    payload,
    Buffer.from('}\n', 'utf8'),
  ]);
}

export function saveCheckpoint(file: string, checkpoint: CheckpointFile): void {
  writeFileAtomic(file, encodeCheckpoint(checkpoint));
}

export type CheckpointRead<S = unknown> =
  | { status: 'none' }
  | { status: 'ok'; checkpoint: CheckpointFile<S>; legacy: boolean }
  | { status: 'bad'; problem: string };

const PAYLOAD_KEY = Buffer.from(',"payload":', 'utf8');
const FORMAT_PREFIX = Buffer.from('{"format":', 'utf8');

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The fields every checkpoint has, and every saved tensor's data length against its shape. */
function validatePayload(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'it is not a JSON object';
  const c = value as Record<string, unknown>;
  if (typeof c.runId !== 'string') return "the field 'runId' is missing or not a string";
  if (typeof c.configHash !== 'string') return "the field 'configHash' is missing or not a string";
  if (typeof c.step !== 'number' || !Number.isInteger(c.step) || c.step < 0)
    return `the field 'step' is ${JSON.stringify(c.step) ?? 'missing'}, not a whole number >= 0`;
  if (c.state === null || typeof c.state !== 'object') return "the field 'state' is missing or not an object";
  return validateTensors(c.state, 'state');
}

/** Saved tensors are `{ shape: number[], data: base64 of float32 }` (training/weights.ts). */
function validateTensors(value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = validateTensors(value[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  const o = value as Record<string, unknown>;
  if (Array.isArray(o.shape) && typeof o.data === 'string' && o.shape.every((d) => typeof d === 'number')) {
    const shape = o.shape as number[];
    if (!shape.every((d) => Number.isInteger(d) && d >= 0)) return `${path} has the shape [${shape}]`;
    const want = 4 * shape.reduce((a, b) => a * b, 1);
    const bytes = Buffer.from(o.data, 'base64');
    if (bytes.toString('base64') !== o.data)
      return `${path}.data is not valid base64 (${o.data.length} characters)`;
    if (bytes.length !== want)
      return `${path} holds ${bytes.length} bytes of float32 data for the shape [${shape}], which needs ${want}`;
    return undefined;
  }
  for (const [k, v] of Object.entries(o)) {
    const problem = validateTensors(v, `${path}.${k}`);
    if (problem) return problem;
  }
  return undefined;
}

function parsePayload<S>(text: string, legacy: boolean, size: number): CheckpointRead<S> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return {
      status: 'bad',
      problem: legacy
        ? `it is not valid JSON (${describeError(err)}; ${size} bytes, a legacy checkpoint without checksum): probably cut short`
        : `its payload is not valid JSON although its checksum matches (${describeError(err)})`,
    };
  }
  const problem = validatePayload(parsed);
  if (problem) return { status: 'bad', problem: legacy ? `${problem} (a legacy checkpoint)` : problem };
  return { status: 'ok', checkpoint: parsed as CheckpointFile<S>, legacy };
}

/** Reads and verifies a checkpoint file, whatever run it belongs to. Never throws, never changes the file. */
export function readCheckpoint<S = unknown>(file: string): CheckpointRead<S> {
  if (!existsSync(file)) return { status: 'none' };
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    return { status: 'bad', problem: `it cannot be read (${describeError(err)})` };
  }
  if (buf.length === 0) return { status: 'bad', problem: 'it is empty (0 bytes)' };
  if (!buf.subarray(0, FORMAT_PREFIX.length).equals(FORMAT_PREFIX))
    return parsePayload<S>(buf.toString('utf8'), true, buf.length);

  const at = buf.indexOf(PAYLOAD_KEY);
  if (at < 0) return { status: 'bad', problem: `its header is cut short (${buf.length} bytes, no payload)` };
  let header: { format?: unknown; bytes?: unknown; sha256?: unknown; runId?: unknown; step?: unknown };
  try {
    header = JSON.parse(`${buf.subarray(0, at).toString('utf8')}}`);
  } catch (err) {
    return { status: 'bad', problem: `its header is not valid JSON (${describeError(err)})` };
  }
  if (header.format !== CHECKPOINT_FORMAT)
    return {
      status: 'bad',
      problem: `it has the format ${JSON.stringify(header.format)}; this version reads ${CHECKPOINT_FORMAT} and legacy checkpoints`,
    };
  const bytes = header.bytes;
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0 || typeof header.sha256 !== 'string')
    return { status: 'bad', problem: 'its header lacks the payload length or checksum' };
  const start = at + PAYLOAD_KEY.length;
  const have = buf.length - start;
  const tail = buf.subarray(Math.min(buf.length, start + bytes)).toString('utf8');
  if (have < bytes)
    return {
      status: 'bad',
      problem: `it is truncated: the payload has ${have} of the ${bytes} bytes its header records (file ${buf.length} bytes)`,
    };
  if (tail !== '}\n' && tail !== '}')
    return {
      status: 'bad',
      problem: `it has ${tail.length > 2 ? 'extra bytes' : 'a damaged end'} after the ${bytes}-byte payload (${JSON.stringify(tail.slice(0, 40))})`,
    };
  const payload = buf.subarray(start, start + bytes);
  const hash = sha256(payload);
  if (hash !== header.sha256)
    return {
      status: 'bad',
      problem: `its checksum does not match: the payload's sha256 is ${hash.slice(0, 16)}…, its header records ${String(header.sha256).slice(0, 16)}…`,
    };
  const read = parsePayload<S>(payload.toString('utf8'), false, buf.length);
  if (
    read.status === 'ok' &&
    (read.checkpoint.runId !== header.runId || read.checkpoint.step !== header.step)
  )
    return { status: 'bad', problem: 'its header and payload name different runs or steps' };
  return read;
}

/** Renames a damaged checkpoint to `<name>.bad-<timestamp>` (kept for inspection); returns the new path. */
export function setAsideCheckpoint(file: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  let target = `${file}.bad-${stamp}`;
  for (let i = 1; existsSync(target); i++) target = `${file}.bad-${stamp}-${i}`;
  renameSync(file, target);
  return target;
}

/** The message for a damaged checkpoint that was set aside. */
export function damagedCheckpoint(file: string, problem: string, movedTo: string, runId: string): string {
  return `checkpoint ${file} is damaged: ${problem}; set aside as ${basename(movedTo)}, run ${runId} starts again from step 0`;
}

/**
 * The checkpoint of `runId`, or undefined when there is none or it belongs to another run or
 * config (the run then starts afresh and overwrites it). A damaged one is set aside
 * (`<name>.bad-<timestamp>`), `onDamaged` is told what was wrong, and undefined is returned.
 */
export function loadCheckpoint<S>(
  file: string,
  runId: string,
  configHash: string,
  onDamaged: (message: string) => void = (m) => console.warn(m),
): CheckpointFile<S> | undefined {
  const read = readCheckpoint<S>(file);
  if (read.status === 'none') return undefined;
  if (read.status === 'bad') {
    onDamaged(damagedCheckpoint(file, read.problem, setAsideCheckpoint(file), runId));
    return undefined;
  }
  const { checkpoint } = read;
  if (checkpoint.runId !== runId || checkpoint.configHash !== configHash) return undefined;
  return checkpoint;
}

export function removeCheckpoint(file: string): void {
  rmSync(file, { force: true });
}

/** float32 arrays as base64 of their bytes: exact and about 4x smaller than JSON numbers. */
export function encodeFloat32(values: Float32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

export function decodeFloat32(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
