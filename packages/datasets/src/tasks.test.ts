import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { taskError } from './evaluation.js';
import { Random } from './random.js';
import { type BatchArrays, createTask, type SyntheticTask, TASK_NAMES, type TaskName } from './tasks.js';

// ---- an independent re-implementation of paper section 5, written from the text, with integer
// arithmetic for ⌊0.1L⌋ etc. It draws from the same PRNG in the documented order (per sequence:
// positions and values, then the distractors / channel-1 values), so it must agree bit for bit.
const tenth = (L: number, k: number) => Math.floor((L * k) / 10);

function refTemporalOrder(rng: Random, B: number, L: number, starts: number[]) {
  const x = new Float32Array(B * L * 6);
  const y = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const p: number[] = [];
    const v: number[] = [];
    for (const s of starts) {
      p.push(tenth(L, s) + rng.randint(tenth(L, 1)));
      v.push(rng.randint(2));
    }
    const sym = Array.from({ length: L }, () => 2 + rng.randint(4));
    p.forEach((pi, i) => {
      sym[pi] = v[i];
    });
    sym.forEach((s, t) => {
      x[(b * L + t) * 6 + s] = 1;
    });
    y[b] = v.reduce((a, vi, i) => a + vi * 2 ** i, 0);
  }
  return { x, y };
}

function refAddition(rng: Random, B: number, L: number, op: 'add' | 'mul') {
  const Lp = L + rng.randint(tenth(L, 1));
  const x = new Float32Array(B * Lp * 2);
  const y = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    const u = Array.from({ length: Lp }, () => Math.fround(rng.uniform()));
    const p0 = rng.randint(tenth(Lp, 1));
    const p1 = tenth(Lp, 1) + rng.randint(tenth(Lp, 4));
    u.forEach((ut, t) => {
      x[(b * Lp + t) * 2 + 1] = ut;
      x[(b * Lp + t) * 2] = t === p0 || t === p1 ? 1 : 0;
    });
    y[b] = op === 'add' ? Math.fround(Math.fround(u[p0] + u[p1]) / 2) : Math.fround(u[p0] * u[p1]);
  }
  return { x, y, Lp };
}

function refPermutation(rng: Random, B: number, L: number) {
  const x = new Float32Array(B * L * 100);
  const y = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const v = rng.randint(2);
    y[b] = v;
    x[b * L * 100 + v] = 1;
    for (let t = 1; t < L; t++) x[(b * L + t) * 100 + 2 + rng.randint(98)] = 1;
  }
  return { x, y };
}

function refMemorization(rng: Random, B: number, L: number, nValues: number, nPos: number) {
  const T = L + 2 * nPos;
  const F = nValues + 2;
  const x = new Float32Array(B * T * F);
  const y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const pattern = Array.from({ length: nPos }, () => rng.randint(nValues));
    for (let t = 0; t < T; t++) {
      const inputSymbol = t < nPos ? pattern[t] : t === L + nPos ? nValues + 1 : nValues;
      x[(b * T + t) * F + inputSymbol] = 1;
      y[b * T + t] = t < L + nPos ? nValues : pattern[t - L - nPos];
    }
  }
  return { x, y, T };
}

/** The symbol index at each (b, t) of a one-hot input, checking exactly one channel is 1. */
function decodeOneHot(batch: BatchArrays): Int32Array {
  const [B, T, F] = batch.inputShape;
  const out = new Int32Array(B * T).fill(-1);
  for (let i = 0; i < B * T; i++) {
    let ones = 0;
    for (let f = 0; f < F; f++) {
      const v = batch.inputs[i * F + f];
      if (v === 1) {
        ones++;
        out[i] = f;
      } else if (v !== 0) ones = 99;
    }
    if (ones !== 1) throw new Error(`step ${i} is not one-hot`);
  }
  return out;
}

describe('createTask: sizes, heads and losses (paper section 5)', () => {
  it.each([
    ['temporal-order', 6, 4, 'last-softmax', 'cross-entropy'],
    ['temporal-order-3bit', 6, 8, 'last-softmax', 'cross-entropy'],
    ['addition', 2, 1, 'last-linear', 'squared-error'],
    ['multiplication', 2, 1, 'last-linear', 'squared-error'],
    ['random-permutation', 100, 100, 'last-softmax', 'cross-entropy'],
    ['memorization', 7, 6, 'softmax', 'cross-entropy'],
  ] as const)('%s: %i inputs, %i outputs, %s head, %s', (name, inputSize, outputSize, head, loss) => {
    const task = createTask(name);
    expect([task.inputSize, task.outputSize, task.head, task.loss]).toEqual([
      inputSize,
      outputSize,
      head,
      loss,
    ]);
    expect([task.minLength, task.maxLength, task.seed]).toEqual([50, 200, 52]);
  });

  it('memorization: the 5-bit variant (2 values, 5 positions) and the >20-bit default (5^10 patterns)', () => {
    const five = createTask('memorization', { nValues: 2, nPos: 5 });
    expect([five.inputSize, five.outputSize]).toEqual([4, 3]);
    const big = createTask('memorization');
    expect([big.nValues, big.nPos]).toEqual([5, 10]);
    expect(Math.log2(5 ** 10)).toBeGreaterThan(20);
  });

  it('rejects unknown names and bad options with errors naming the value', () => {
    expect(() => createTask('parity' as TaskName)).toThrow(
      /unknown task 'parity'; expected one of temporal-order/,
    );
    expect(() => createTask('temporal-order', { minLength: 9 })).toThrow(
      /minLength must be an integer >= 10, got 9/,
    );
    expect(() => createTask('addition', { minLength: 50, maxLength: 40 })).toThrow(
      /maxLength must be .*got 40/,
    );
    expect(() => createTask('memorization', { nValues: 1 })).toThrow(
      /nValues must be an integer >= 2, got 1/,
    );
    expect(() => createTask('memorization', { nPos: 0 })).toThrow(/nPos must be an integer >= 1, got 0/);
    expect(() => createTask('temporal-order').nextBatchArrays(0)).toThrow(
      /batchSize must be a positive integer, got 0/,
    );
    expect(() => createTask('temporal-order').generateArrays(2, 5)).toThrow(/got 5/);
  });
});

describe('generators agree bit for bit with the re-implementation of the paper', () => {
  const lengths = [10, 11, 19, 50, 57, 99, 100, 133, 199, 250];

  it.each([
    ['temporal-order', [1, 5]],
    ['temporal-order-3bit', [1, 3, 6]],
  ] as const)('%s: positions from ⌊%j·L/10⌋ + randint(⌊L/10⌋), class Σ v_i 2^i', (name, starts) => {
    const task = createTask(name, { seed: 5 });
    const rng = new Random(5);
    for (const L of lengths) {
      const got = task.generateArrays(7, L);
      const ref = refTemporalOrder(rng, 7, L, [...starts]);
      expect(got.inputShape).toEqual([7, L, 6]);
      expect(got.targetShape).toEqual([7]);
      expect(got.inputs).toEqual(ref.x);
      expect(got.targets).toEqual(ref.y);
    }
  });

  it.each([
    ['addition', 'add'],
    ['multiplication', 'mul'],
  ] as const)(
    "%s: L' = L + randint(⌊L/10⌋), markers at randint(⌊L'/10⌋) and ⌊L'/10⌋ + randint(⌊4L'/10⌋)",
    (name, op) => {
      const task = createTask(name, { seed: 8 });
      const rng = new Random(8);
      for (const L of lengths) {
        const got = task.generateArrays(5, L);
        const ref = refAddition(rng, 5, L, op);
        expect(got.inputShape).toEqual([5, ref.Lp, 2]);
        expect(got.targetShape).toEqual([5, 1]);
        expect(got.length).toBe(L);
        expect(got.inputs).toEqual(ref.x);
        expect(got.targets).toEqual(ref.y);
      }
    },
  );

  it('random-permutation: s_0 = v, s_t = 2 + randint(98), target v', () => {
    const task = createTask('random-permutation', { seed: 2 });
    const rng = new Random(2);
    for (const L of [1, 2, 50, 120]) {
      const got = task.generateArrays(4, L);
      const ref = refPermutation(rng, 4, L);
      expect(got.inputs).toEqual(ref.x);
      expect(got.targets).toEqual(ref.y);
    }
  });

  it.each([
    [5, 10],
    [2, 5],
  ])(
    'memorization (nValues %i, nPos %i): pattern, blanks, go at L + nPos, pattern targets last',
    (nValues, nPos) => {
      const task = createTask('memorization', { seed: 4, nValues, nPos });
      const rng = new Random(4);
      for (const L of [1, 10, 57]) {
        const got = task.generateArrays(3, L);
        const ref = refMemorization(rng, 3, L, nValues, nPos);
        expect(got.inputShape).toEqual([3, ref.T, nValues + 2]);
        expect(got.targetShape).toEqual([3, ref.T]);
        expect(got.inputs).toEqual(ref.x);
        expect(got.targets).toEqual(ref.y);
      }
    },
  );

  it('the float formula ⌊L·0.1⌋ of the code equals the integer ⌊L/10⌋ for every L up to 10,000', () => {
    // the generators use the code's float expression; the reference uses exact integers
    let mismatches = 0;
    for (let L = 1; L <= 10_000; L++) {
      for (const k of [1, 3, 4, 5, 6]) if (Math.floor(L * (k / 10)) !== tenth(L, k)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });
});

describe('position rules and balance over many samples', () => {
  it('temporal order: markers cover exactly their windows, distractors 2..5, classes balanced', () => {
    const L = 100;
    const task = createTask('temporal-order', { seed: 11 });
    const seen = [new Set<number>(), new Set<number>()];
    const classes = new Array(4).fill(0);
    const distractors = new Array(6).fill(0);
    for (let rep = 0; rep < 40; rep++) {
      const batch = task.generateArrays(250, L);
      const sym = decodeOneHot(batch);
      for (let b = 0; b < 250; b++) {
        const markers: number[] = [];
        for (let t = 0; t < L; t++) {
          const s = sym[b * L + t];
          if (s < 2) markers.push(t);
          else distractors[s]++;
        }
        expect(markers.length).toBe(2);
        seen[0].add(markers[0]);
        seen[1].add(markers[1]);
        const cls = sym[b * L + markers[0]] + 2 * sym[b * L + markers[1]];
        expect(batch.targets[b]).toBe(cls);
        classes[cls]++;
      }
    }
    expect([...seen[0]].sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect([...seen[1]].sort((a, b) => a - b)).toEqual([50, 51, 52, 53, 54, 55, 56, 57, 58, 59]);
    // 10,000 sequences: 2,500 per class expected, sd ≈ 43
    for (const c of classes) expect(Math.abs(c - 2500)).toBeLessThan(220);
    expect(distractors.slice(0, 2)).toEqual([0, 0]);
    const perSymbol = (10_000 * 98) / 4;
    for (const d of distractors.slice(2)) expect(Math.abs(d - perSymbol) / perSymbol).toBeLessThan(0.01);
  });

  it('3-bit temporal order: 8 balanced classes', () => {
    const task = createTask('temporal-order-3bit', { seed: 12 });
    const counts = new Array(8).fill(0);
    for (let rep = 0; rep < 20; rep++) for (const c of task.nextBatchArrays(400).targets) counts[c]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(160);
  });

  it('addition: two markers, channel 1 in [0, 1), targets spread like (U1 + U2)/2 (mean 1/2, var 1/24)', () => {
    const task = createTask('addition', { seed: 13 });
    let sum = 0;
    let sq = 0;
    let n = 0;
    for (let rep = 0; rep < 50; rep++) {
      const batch = task.generateArrays(100, 60);
      const [B, T] = batch.inputShape;
      expect(T >= 60 && T < 66).toBe(true);
      for (let b = 0; b < B; b++) {
        let markers = 0;
        for (let t = 0; t < T; t++) {
          const m = batch.inputs[(b * T + t) * 2];
          const u = batch.inputs[(b * T + t) * 2 + 1];
          if (m === 1) markers++;
          else if (m !== 0) throw new Error(`marker channel holds ${m}`);
          if (!(u >= 0 && u < 1)) throw new Error(`u = ${u}`);
        }
        expect(markers).toBe(2);
        sum += batch.targets[b];
        sq += batch.targets[b] ** 2;
        n++;
      }
    }
    const mean = sum / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(sq / n - mean * mean - 1 / 24)).toBeLessThan(0.006);
  });

  it('random permutation: the answer bit is balanced; later symbols avoid 0 and 1', () => {
    const task = createTask('random-permutation', { seed: 14, minLength: 20, maxLength: 30 });
    let ones = 0;
    let total = 0;
    for (let rep = 0; rep < 20; rep++) {
      const batch = task.nextBatchArrays(200);
      const sym = decodeOneHot(batch);
      const [B, T] = batch.inputShape;
      for (let b = 0; b < B; b++) {
        expect(sym[b * T]).toBe(batch.targets[b]);
        for (let t = 1; t < T; t++) if (sym[b * T + t] < 2) throw new Error('symbol 0/1 after step 0');
        ones += batch.targets[b];
        total++;
      }
    }
    expect(Math.abs(ones / total - 0.5)).toBeLessThan(0.04);
  });

  it('memorization: every pattern value equally likely at every position', () => {
    const task = createTask('memorization', { seed: 15, minLength: 5, maxLength: 6 });
    const counts = Array.from({ length: 10 }, () => new Array(5).fill(0));
    const batch = task.nextBatchArrays(5000);
    const [B, T] = batch.inputShape;
    for (let b = 0; b < B; b++) for (let k = 0; k < 10; k++) counts[k][batch.targets[b * T + T - 10 + k]]++;
    for (const row of counts) for (const c of row) expect(Math.abs(c - 1000)).toBeLessThan(160);
  });
});

describe('length sampling, determinism and resumable state', () => {
  it('one length per minibatch from [minLength, maxLength), all of them reached', () => {
    const task = createTask('temporal-order', { seed: 21, minLength: 50, maxLength: 60 });
    const lengths = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const batch = task.nextBatchArrays(2);
      expect(batch.inputShape[1]).toBe(batch.length);
      lengths.add(batch.length);
    }
    expect([...lengths].sort((a, b) => a - b)).toEqual([50, 51, 52, 53, 54, 55, 56, 57, 58, 59]);
    const fixed = createTask('memorization', { minLength: 30, maxLength: 30 });
    expect(fixed.nextBatchArrays(1).inputShape[1]).toBe(30 + 20);
  });

  it.each(TASK_NAMES)('%s: same seed same batches, another seed other batches', (name) => {
    const opts = { minLength: 20, maxLength: 40 };
    const a = createTask(name, { ...opts, seed: 1 });
    const b = createTask(name, { ...opts, seed: 1 });
    const c = createTask(name, { ...opts, seed: 2 });
    const ba = [a.nextBatchArrays(8), a.nextBatchArrays(8)];
    const bb = [b.nextBatchArrays(8), b.nextBatchArrays(8)];
    const bc = [c.nextBatchArrays(8), c.nextBatchArrays(8)];
    expect(bb).toEqual(ba);
    expect(bc[0].inputs).not.toEqual(ba[0].inputs);
  });

  it.each(TASK_NAMES)(
    '%s: getState/setState resumes the exact stream (through JSON, on a new task)',
    (name) => {
      const task = createTask(name, { seed: 3, minLength: 20, maxLength: 40 });
      for (let i = 0; i < 5; i++) task.nextBatchArrays(4);
      const saved = JSON.parse(JSON.stringify(task.getState()));
      const next = [task.nextBatchArrays(4), task.nextBatchArrays(4)];
      const resumed = createTask(name, { seed: 999, minLength: 20, maxLength: 40 });
      resumed.setState(saved);
      expect([resumed.nextBatchArrays(4), resumed.nextBatchArrays(4)]).toEqual(next);
    },
  );

  it('refuses a state saved by another task', () => {
    const state = createTask('addition').getState();
    expect(() => createTask('multiplication').setState(state)).toThrow(
      /task state is for 'addition', this task is 'multiplication'/,
    );
  });
});

/** The task's rule applied to its own inputs: the prediction a perfect model would make. */
function trivialPredictions(task: SyntheticTask, batch: BatchArrays): Float32Array {
  const { name, outputSize } = task;
  const [B, T, F] = batch.inputShape;
  if (name === 'addition' || name === 'multiplication') {
    const out = new Float32Array(B);
    for (let b = 0; b < B; b++) {
      const marked: number[] = [];
      for (let t = 0; t < T; t++)
        if (batch.inputs[(b * T + t) * 2] === 1) marked.push(batch.inputs[(b * T + t) * 2 + 1]);
      out[b] = name === 'addition' ? (marked[0] + marked[1]) / 2 : marked[0] * marked[1];
    }
    return out;
  }
  const sym = decodeOneHot(batch);
  if (name === 'memorization') {
    const nPos = task.nPos ?? 0;
    const L = T - 2 * nPos;
    const out = new Float32Array(B * T * outputSize);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const cls = t < L + nPos ? F - 2 : sym[b * T + t - L - nPos];
        out[(b * T + t) * outputSize + cls] = 1;
      }
    }
    return out;
  }
  const out = new Float32Array(B * outputSize);
  for (let b = 0; b < B; b++) {
    let cls = 0;
    if (name === 'random-permutation') cls = sym[b * T];
    else {
      let bit = 0;
      for (let t = 0; t < T; t++) if (sym[b * T + t] < 2) cls += sym[b * T + t] << bit++;
    }
    out[b * outputSize + cls] = 1;
  }
  return out;
}

describe('a trivial rule reaches 0% error on its own targets', () => {
  it.each(TASK_NAMES)('%s', (name) => {
    const task = createTask(name, { seed: 31, minLength: 20, maxLength: 80 });
    for (let i = 0; i < 5; i++) {
      const batch = task.nextBatchArrays(50);
      expect(taskError(task, trivialPredictions(task, batch), batch)).toEqual({
        wrong: 0,
        total: 50,
        rate: 0,
      });
    }
  });

  it('the 5-bit memorization variant too', () => {
    const task = createTask('memorization', { nValues: 2, nPos: 5, minLength: 20, maxLength: 30 });
    const batch = task.nextBatchArrays(40);
    expect(taskError(task, trivialPredictions(task, batch), batch).wrong).toBe(0);
  });
});

describeBackends('nextBatch tensors', () => {
  it.each(TASK_NAMES)('%s: shapes, dtypes and values equal the typed-array form', async (name) => {
    await expectNoLeak(async () => {
      const opts = { seed: 41, minLength: 20, maxLength: 30 };
      const arrays = createTask(name, opts).nextBatchArrays(6);
      const { inputs, targets } = createTask(name, opts).nextBatch(6);
      expect(inputs.shape).toEqual(arrays.inputShape);
      expect(inputs.dtype).toBe('float32');
      expect(targets.shape).toEqual(arrays.targetShape);
      expect(targets.dtype).toBe(arrays.targets instanceof Int32Array ? 'int32' : 'float32');
      expect(await inputs.data()).toEqual(arrays.inputs);
      expect(await targets.data()).toEqual(arrays.targets);
      tf.dispose([inputs, targets]);
    });
  });

  it('generate(batch, L) gives tensors at the requested length', async () => {
    await expectNoLeak(async () => {
      const { inputs, targets } = createTask('temporal-order').generate(3, 500);
      expect(inputs.shape).toEqual([3, 500, 6]);
      expect(targets.shape).toEqual([3]);
      tf.dispose([inputs, targets]);
    });
  });
});
