import { describe, expect, it } from 'vitest';
import { MAX_RUN_BARS, ProgressView } from './progress.js';

const message = (runId: string, step = 1) => ({ runId, step, total: 100, loss: 1 });

describe('ProgressView', () => {
  it(`shows at most ${MAX_RUN_BARS} run bars; the others are counted and get a bar when one frees`, () => {
    const view = new ProgressView(40, 0, true);
    const state = view as unknown as { bars: Map<string, unknown>; unshown: Set<string> };
    try {
      for (let r = 0; r < 20; r++) view.update(message(`run${r}`));
      expect(state.bars.size).toBe(MAX_RUN_BARS);
      expect(state.unshown.size).toBe(20 - MAX_RUN_BARS);
      view.runFinished('run0', 'done');
      view.runStopped('run1');
      // an unshown run's next update takes a freed bar
      view.update(message('run15', 2));
      view.update(message('run16', 2));
      expect(state.bars.has('run15') && state.bars.has('run16')).toBe(true);
      expect(state.bars.size).toBe(MAX_RUN_BARS);
      expect(state.unshown.size).toBe(20 - MAX_RUN_BARS - 2);
    } finally {
      view.stop();
    }
  });
});
