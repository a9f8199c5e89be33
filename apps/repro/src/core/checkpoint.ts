/**
 * Checkpoints: one JSON file per run in progress, replaced atomically (write a temp file, fsync,
 * rename), so a kill at any moment leaves either the previous checkpoint or the new one.
 */
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

export interface CheckpointFile<S = unknown> {
  runId: string;
  configHash: string;
  step: number;
  savedAt: string;
  state: S;
}

export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function saveCheckpoint(file: string, checkpoint: CheckpointFile): void {
  writeFileAtomic(file, JSON.stringify(checkpoint));
}

/** The checkpoint of `runId`, or undefined when there is none or it belongs to another config. */
export function loadCheckpoint<S>(
  file: string,
  runId: string,
  configHash: string,
): CheckpointFile<S> | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as CheckpointFile<S>;
  if (parsed.runId !== runId || parsed.configHash !== configHash) return undefined;
  return parsed;
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
