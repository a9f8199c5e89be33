/** Time spans given on the command line. */

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, min: 60, h: 3600 };

/**
 * Parses `--checkpoint-every`: seconds as a plain number (`30`, `0.5`, `0`: at every chance), or
 * with a unit (`500ms`, `30s`, `5m`, `1h`). Anything else (`abc`, `-5`, `Infinity`, an empty
 * value) throws, naming the value: a bad value must never turn checkpointing off silently.
 */
export function parseCheckpointEvery(text: string, flag = '--checkpoint-every'): number {
  const expected = `${flag} expects the seconds between checkpoints: a number >= 0, optionally with a unit (30, 0.5, 30s, 500ms, 5m, 1h)`;
  const value = String(text).trim();
  const withUnit = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|min|m|h)$/i.exec(value);
  let seconds: number;
  if (withUnit) {
    seconds = Number(withUnit[1]) * UNIT_SECONDS[withUnit[2].toLowerCase()];
  } else {
    // every plain number Number() reads (as before: 30, 0.5, 1e3), but never NaN, a negative or Infinity
    seconds = value === '' ? Number.NaN : Number(value);
  }
  if (Number.isNaN(seconds)) throw new Error(`${expected}; got '${text}'`);
  if (seconds < 0) throw new Error(`${expected}; got '${text}', which is negative`);
  if (!Number.isFinite(seconds))
    throw new Error(`${expected}; got '${text}' (to checkpoint rarely, give a long interval such as 1h)`);
  return seconds;
}
