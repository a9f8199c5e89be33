/**
 * `fusedImplementation`: @cliffguard/rnn's RnnImplementation interface over the fused kernels, with
 * its batched-ensemble training (a TrainableImplementation).
 * A training step is one CliffguardRnnLoss call (with Ω, α·∂Ω/∂W_rec is summed into ∂W_rec inside
 * the same product); inference is one CliffguardRnnForward call.
 */
import type {
  Batch,
  GradientRequest,
  GradientResult,
  RnnConfig,
  RnnParams,
  TrainableImplementation,
} from '@cliffguard/rnn';
import { getKernel, type Tensor, type Tensor2D, type Tensor3D } from '@tensorflow/tfjs-core';
import { RNN_FORWARD, RNN_LOSS } from './kernels/names.js';
import { rnnSequenceForward, runLossKernel } from './ops.js';
import { ACTIVATIONS, HEADS } from './problem.js';
import { fusedStacked } from './stacked.js';

function checkConfig(config: RnnConfig): void {
  for (const k of ['inputSize', 'hiddenSize', 'outputSize'] as const) {
    if (!Number.isInteger(config[k]) || config[k] < 1) {
      throw new RangeError(`config.${k} must be an integer ≥ 1, got ${config[k]}`);
    }
  }
}

function checkModel(params: RnnParams, config: RnnConfig, inputs: Tensor3D): void {
  checkConfig(config);
  if (inputs?.rank === 3 && inputs.shape[2] !== config.inputSize) {
    throw new RangeError(
      `inputs have shape [${inputs.shape.join(', ')}]; expected [batch, time, ${config.inputSize}] (inputSize ${config.inputSize})`,
    );
  }
  if (params.W_rec?.shape[0] !== config.hiddenSize) {
    throw new RangeError(
      `W_rec has shape [${params.W_rec?.shape.join(', ')}]; config.hiddenSize is ${config.hiddenSize}`,
    );
  }
  if (params.W_out?.shape[1] !== config.outputSize) {
    throw new RangeError(
      `W_out has shape [${params.W_out?.shape.join(', ')}]; config.outputSize is ${config.outputSize}`,
    );
  }
}

export const fusedImplementation: TrainableImplementation = {
  name: 'fused',

  /** Batched ensembles (createEnsemble): see stacked.ts. */
  stacked: fusedStacked,

  /** Every activation and head, on the backends the kernels are registered for. */
  supports(config: RnnConfig, backend: string): boolean {
    return (
      ACTIVATIONS.includes(config.activation) &&
      HEADS.includes(config.head) &&
      getKernel(RNN_LOSS, backend) !== undefined &&
      getKernel(RNN_FORWARD, backend) !== undefined
    );
  },

  forward(params: RnnParams, config: RnnConfig, inputs: Tensor3D, h0?: Tensor2D) {
    checkModel(params, config, inputs);
    return rnnSequenceForward(params, inputs, { activation: config.activation, head: config.head, h0 });
  },

  lossAndGradients(
    params: RnnParams,
    config: RnnConfig,
    batch: Batch,
    request: GradientRequest = {},
  ): GradientResult {
    if (batch == null || typeof batch !== 'object')
      throw new TypeError('batch must be { inputs, targets, mask? }');
    checkModel(params, config, batch.inputs);
    const omega = request.omega;
    if (omega !== undefined && (typeof omega.weight !== 'number' || !Number.isFinite(omega.weight))) {
      throw new RangeError(`omega.weight (α) must be a finite number, got ${String(omega?.weight)}`);
    }
    const out = runLossKernel(params, batch.inputs, batch.targets, {
      activation: config.activation,
      head: config.head,
      mask: batch.mask,
      h0: request.h0,
      omega: omega?.variant,
      omegaWeight: omega?.weight,
      keepSequences: Boolean(request.keepDeltas || request.keepStates),
    });
    const result: GradientResult = {
      loss: out.loss as GradientResult['loss'],
      grads: { W_in: out.W_in, W_rec: out.W_rec, b: out.b, W_out: out.W_out, b_out: out.b_out },
      lastState: out.lastState as Tensor2D,
    };
    const drop: Tensor[] = [out.omegaGrad, out.h0];
    if (omega) result.omega = out.omega as GradientResult['loss'];
    else drop.push(out.omega);
    if (request.keepStates) result.states = out.states as Tensor3D;
    else drop.push(out.states);
    if (request.keepDeltas) result.deltas = out.deltas as Tensor3D;
    else drop.push(out.deltas);
    for (const t of drop) t.dispose();
    return result;
  },
};
