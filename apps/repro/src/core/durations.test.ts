// --checkpoint-every (issue 18): every value that worked keeps working, units are accepted
// explicitly, and a bad value is refused with the value and what is expected (it used to turn
// checkpointing off without a word: `abc` and `30s` became NaN, and a crash then lost the run).
import { describe, expect, it } from 'vitest';
import { parseCheckpointEvery } from './durations.js';

describe('parseCheckpointEvery', () => {
  it('reads plain seconds as before', () => {
    for (const [text, seconds] of [
      ['30', 30],
      ['0', 0],
      ['0.5', 0.5],
      ['.25', 0.25],
      ['1e3', 1000],
      [' 45 ', 45],
      ['600', 600],
    ] as const)
      expect(parseCheckpointEvery(text), text).toBe(seconds);
  });

  it('reads a unit: ms, s, m (min), h', () => {
    for (const [text, seconds] of [
      ['30s', 30],
      ['500ms', 0.5],
      ['5m', 300],
      ['2min', 120],
      ['1.5h', 5400],
      ['10 s', 10],
      ['1H', 3600],
    ] as const)
      expect(parseCheckpointEvery(text), text).toBe(seconds);
  });

  it('refuses anything else, naming the value and what is expected', () => {
    const expected =
      /--checkpoint-every expects the seconds between checkpoints: a number >= 0, optionally with a unit \(30, 0\.5, 30s, 500ms, 5m, 1h\)/;
    for (const bad of ['abc', '30x', '-5', '-5s', '', '  ', 'Infinity', 'NaN', '5 minutes', 's', '1/2']) {
      expect(() => parseCheckpointEvery(bad), `'${bad}'`).toThrow(expected);
      expect(() => parseCheckpointEvery(bad)).toThrow(`got '${bad}'`);
    }
    expect(() => parseCheckpointEvery('-5')).toThrow(/which is negative/);
    expect(() => parseCheckpointEvery('Infinity')).toThrow(/give a long interval such as 1h/);
  });
});
