/** Shared checks of a SequenceEngine against the float64 reference (used by each engine's test). */
import { describe, expect, it } from 'vitest';
import { HEADS, type SequenceEngine } from '../src/problem.js';
import { type ProblemOptions, randomProblem, reference64, relativeError } from './float64.js';

/** Every output of one training pass and one forward pass against reference64. */
export function checkEngine(e: SequenceEngine, o: ProblemOptions, tol = 2e-5): void {
  const p = randomProblem(o);
  const want = reference64(p);
  const got = e.train({ ...p, keepSequences: true });
  const what = `${e.name} ${JSON.stringify(o)}`;
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b));
  expect(rel(got.loss, want.loss), `loss ${what}`).toBeLessThan(tol);
  for (const k of ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const) {
    expect(relativeError(got.grads[k], want.grads[k]), `${k} ${what}`).toBeLessThan(tol);
  }
  expect(relativeError(got.states!, want.states), `states ${what}`).toBeLessThan(tol);
  expect(relativeError(got.deltas!, want.deltas), `deltas ${what}`).toBeLessThan(tol);
  expect(relativeError(got.h0Grad, want.h0Grad), `h0 grad ${what}`).toBeLessThan(tol);
  if (o.omega) {
    expect(rel(got.omega, want.omega), `omega ${what}`).toBeLessThan(tol);
    expect(want.omegaGrad.length).toBe(o.hiddenSize ** 2);
    expect(relativeError(got.omegaGrad, want.omegaGrad), `omega grad ${what}`).toBeLessThan(tol * 5);
    // α·∂Ω/∂W_rec summed into the same product as ∂loss/∂W_rec
    const alpha = 0.75;
    const combined = e.train({ ...p, omegaWeight: alpha });
    const wantW = want.grads.W_rec.map((v, i) => v + alpha * want.omegaGrad[i]);
    expect(relativeError(combined.grads.W_rec, wantW), `combined W_rec ${what}`).toBeLessThan(tol * 5);
    expect(combined.omegaGrad.length).toBe(0);
    expect(rel(combined.omega, want.omega), `combined omega ${what}`).toBeLessThan(tol);
  } else {
    expect(got.omega).toBe(0);
    expect(got.omegaGrad.length).toBe(0);
  }
  const fwd = e.forward(p);
  expect(relativeError(fwd.outputs, want.outputs), `outputs ${what}`).toBeLessThan(tol);
  expect(relativeError(fwd.states, want.states), `forward states ${what}`).toBeLessThan(tol);
}

/** The suite every engine passes: each head and activation, dense, one-hot and multi-hot inputs. */
export function describeEngine(name: string, engine: () => SequenceEngine): void {
  describe(`${name} against the float64 reference`, () => {
    for (const head of HEADS) {
      for (const activation of ['tanh', 'sigmoid'] as const) {
        const perStep = head === 'softmax' || head === 'sigmoid';
        it(`${head}, ${activation}: odd sizes, dense inputs, h0, Ω 'code'${perStep ? ', mask' : ''}`, () => {
          checkEngine(engine(), {
            batch: 3,
            time: 5,
            inputSize: 3,
            hiddenSize: 7,
            outputSize: 5,
            activation,
            head,
            omega: 'code',
            h0: true,
            mask: perStep,
          });
        });
        it(`${head}, ${activation}: one-hot inputs with zero rows, Ω 'paper', hidden 21`, () => {
          checkEngine(engine(), {
            batch: 6,
            time: 9,
            inputSize: 6,
            hiddenSize: 21,
            outputSize: 4,
            activation,
            head,
            omega: 'paper',
            oneHot: true,
            seed: 7,
          });
        });
      }
      it(`${head}: no Ω, hidden a multiple of 8, batch 1`, () => {
        checkEngine(engine(), {
          batch: 1,
          time: 4,
          inputSize: 4,
          hiddenSize: 16,
          outputSize: 8,
          activation: 'tanh',
          head,
          seed: 3,
        });
      });
    }
    it("the GEMMs' packing blocks: hidden 70 (a 64-column slab and a partial one), 70 head rows", () => {
      // gemmNN packs A 64 rows at a time and gemmTN packs 64 columns of Aᵀ per slab: here the
      // head's 5·14 rows and the hidden size 70 (padded to 72) each end in a partial block
      for (const head of ['softmax', 'sigmoid'] as const) {
        checkEngine(engine(), {
          batch: 5,
          time: 14,
          inputSize: 9,
          hiddenSize: 70,
          outputSize: 9,
          activation: 'tanh',
          head,
          omega: 'code',
          seed: 11,
        });
      }
    });
    it('multi-hot binary inputs (a piano roll) take the sparse path and match', () => {
      for (const head of ['sigmoid', 'softmax'] as const) {
        checkEngine(engine(), {
          batch: 5,
          time: 8,
          inputSize: 30,
          hiddenSize: 18,
          outputSize: 30,
          activation: 'sigmoid',
          head,
          multiHot: true,
          omega: 'code',
          mask: true,
        });
      }
    });
    it('vanishing error signals: tiny ones are flushed to 0 (no subnormals), the rest still match', () => {
      const o = {
        batch: 4,
        time: 150,
        inputSize: 3,
        hiddenSize: 8,
        outputSize: 3,
        activation: 'tanh' as const,
        head: 'last-softmax' as const,
        scale: 0.05,
        omega: 'code' as const,
      };
      const p = randomProblem(o);
      const want = reference64(p);
      const got = engine().train({ ...p, keepSequences: true });
      const deltas = got.deltas!;
      let zeros = 0;
      for (let i = 0; i < deltas.length; i++) {
        const v = Math.abs(deltas[i]);
        expect(v === 0 || v >= 1e-24, `δ[${i}] = ${deltas[i]}`).toBe(true);
        if (Math.abs(want.deltas[i]) < 1e-26) expect(deltas[i]).toBe(0);
        if (v === 0) zeros++;
      }
      expect(zeros).toBeGreaterThan(deltas.length / 4);
      for (const k of ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const) {
        expect(relativeError(got.grads[k], want.grads[k]), k).toBeLessThan(2e-5);
      }
      expect(Math.abs(got.omega - want.omega) / want.omega).toBeLessThan(2e-5);
    });
    it('rejects bad problems with errors that name the value', () => {
      const p = randomProblem({
        batch: 2,
        time: 3,
        inputSize: 2,
        hiddenSize: 4,
        outputSize: 3,
        activation: 'tanh',
        head: 'last-softmax',
      });
      expect(() => engine().train({ ...p, targets: Int32Array.from([0, 3]) })).toThrow(
        /targets\[1\] = 3.*\[0, 3\)/,
      );
      expect(() => engine().train({ ...p, inputs: new Float32Array(5) })).toThrow(
        /inputs has 5 entries; expected 12/,
      );
      expect(() => engine().forward({ ...p, hiddenSize: 0 })).toThrow(
        /hiddenSize must be an integer ≥ 1, got 0/,
      );
      expect(() => engine().train({ ...p, omega: 'both' as 'code' })).toThrow(
        /omega must be 'paper' or 'code'/,
      );
    });
  });
}
