/**
 * Diagnostics of paper section 2: the spectral conditions on W_rec for vanishing and exploding
 * gradients, and the temporal contributions ‖∂E/∂h_t‖.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation, Batch } from './implementation.js';
import type { RecurrentModel } from './model.js';
import { largestSingularValue, type MatrixInput, spectralRadius } from './spectral.js';

/** γ bounds ‖diag(σ')‖: 1 for tanh, 1/4 for the logistic sigmoid. */
export function activationBound(activation: Activation): number {
  if (activation === 'tanh') return 1;
  if (activation === 'sigmoid') return 0.25;
  throw new RangeError(`activation must be 'tanh' or 'sigmoid', got ${JSON.stringify(activation)}`);
}

/** The paper's conditions (section 2.1) for one W_rec. */
export interface GradientConditions {
  /** ρ(W_rec) */
  spectralRadius: number;
  /** λ₁, the largest singular value of W_rec */
  largestSingularValue: number;
  /** γ: 1 for tanh, 1/4 for sigmoid */
  gamma: number;
  /** 1/γ, the threshold λ₁ is compared with */
  threshold: number;
  /** λ₁ < 1/γ: sufficient for the long-term components to vanish */
  vanishingGuaranteed: boolean;
  /** λ₁ > 1/γ: necessary (not sufficient) for exploding gradients */
  explodingPossible: boolean;
}

/** ρ, λ₁ and the paper's vanishing/exploding conditions for W_rec under `activation`. */
export function gradientConditions(W_rec: MatrixInput, activation: Activation): GradientConditions {
  const gamma = activationBound(activation);
  const lambda1 = largestSingularValue(W_rec);
  const threshold = 1 / gamma;
  return {
    spectralRadius: spectralRadius(W_rec),
    largestSingularValue: lambda1,
    gamma,
    threshold,
    vanishingGuaranteed: lambda1 < threshold,
    explodingPossible: lambda1 > threshold,
  };
}

/**
 * Temporal contributions: ‖∂E/∂h_t‖ (L2 over units, mean over the batch) for t = 1..T, from one
 * BPTT pass. How fast the error signal decays (vanishing) or grows (exploding) going back in
 * time. Starts from the carried state when the model carries one, and does not advance it.
 */
export async function temporalContributions(model: RecurrentModel, batch: Batch): Promise<number[]> {
  const carrying = model.carryState;
  const carried = carrying ? model.carriedState : null;
  model.carryState = false;
  let norms: tf.Tensor;
  try {
    norms = tf.tidy(() => {
      const r = model.lossAndGradients(batch, {
        keepDeltas: true,
        ...(carried ? { h0: carried[0], ...(carried[1] ? { c0: carried[1] } : {}) } : {}),
      });
      return tf.mean(tf.norm(r.deltas!, 'euclidean', 2), 0);
    });
  } finally {
    model.carryState = carrying;
  }
  const values = Array.from(await norms.data());
  norms.dispose();
  return values;
}
