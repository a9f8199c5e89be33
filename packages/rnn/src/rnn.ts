/**
 * The paper's recurrent network (section 1): h_t = σ(h_{t−1} W_rec + u_t W_in + b), h_0 = 0
 * unless carried or given, with one of four output heads. The computation is delegated to an
 * {@link RnnImplementation} (the op-by-op reference by default).
 */
import * as tf from '@tensorflow/tfjs-core';
import { HEADS } from './heads.js';
import type {
  Activation,
  Batch,
  Head,
  ParamName,
  RnnConfig,
  RnnImplementation,
  RnnParams,
} from './implementation.js';
import { INIT_NAMES, type InitName, initialRnnWeights, type SmartTanhOptions } from './init.js';
import {
  BaseRecurrentModel,
  type ForwardOptions,
  type ModelGradientRequest,
  type ModelGradientResult,
  makeVariables,
  type RecurrentModel,
  uniqueModelName,
} from './model.js';
import { resolveImplementation } from './registry.js';
import { validateBatch, validateInputs } from './validate.js';

export interface CreateRnnOptions {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  /** 'tanh' or 'sigmoid'; default: 'sigmoid' for the sigmoid init, else 'tanh' */
  activation?: Activation;
  /** default 'last-softmax' */
  head?: Head;
  /** default: 'sigmoid' for sigmoid units, else 'smart-tanh' */
  init?: InitName;
  /** integer seed of the initialisation; default 52 (the authors' code's default) */
  seed?: number;
  /** a registered implementation's name or the object itself; default 'reference' */
  implementation?: string | RnnImplementation;
  /** carry the hidden state across calls (see {@link RecurrentModel.carryState}); default false */
  carryState?: boolean;
  /** variable-name prefix (variables are named `<name>/W_in`, ...); default `rnn_<n>` */
  name?: string;
  /** smart-tanh's non-zeros per unit and target spectral radius (15 and 0.95 by default) */
  smartTanh?: SmartTanhOptions;
}

/** The model's configuration: what an implementation needs plus how the weights were drawn. */
export interface RnnModelConfig extends RnnConfig {
  init: InitName;
  seed: number;
}

export interface RnnModel extends RecurrentModel<ParamName> {
  readonly kind: 'rnn';
  readonly config: Readonly<RnnModelConfig>;
  /** The implementation that computes forward and backward passes. */
  readonly implementation: RnnImplementation;
  /** Switches implementation (by registered name or object); the weights stay. */
  useImplementation(impl: string | RnnImplementation): void;
}

/** createRnn's options checked, with the defaults filled in (shared with createEnsemble). */
export function resolveRnnConfig(
  options: Omit<CreateRnnOptions, 'implementation' | 'carryState' | 'name' | 'smartTanh'>,
): RnnModelConfig {
  if (options == null || typeof options !== 'object')
    throw new TypeError('createRnn needs an options object');
  const init = options.init ?? (options.activation === 'sigmoid' ? 'sigmoid' : 'smart-tanh');
  if (!INIT_NAMES.includes(init)) {
    throw new RangeError(`unknown init ${JSON.stringify(init)}; expected one of ${INIT_NAMES.join(', ')}`);
  }
  const activation = options.activation ?? (init === 'sigmoid' ? 'sigmoid' : 'tanh');
  if (activation !== 'tanh' && activation !== 'sigmoid') {
    throw new RangeError(`activation must be 'tanh' or 'sigmoid', got ${JSON.stringify(activation)}`);
  }
  const head = options.head ?? 'last-softmax';
  if (!HEADS.includes(head)) {
    throw new RangeError(`unknown head ${JSON.stringify(head)}; expected one of ${HEADS.join(', ')}`);
  }
  const seed = options.seed ?? 52;
  return {
    inputSize: options.inputSize,
    hiddenSize: options.hiddenSize,
    outputSize: options.outputSize,
    activation,
    head,
    init,
    seed,
  };
}

class Rnn extends BaseRecurrentModel<ParamName> implements RnnModel {
  readonly kind = 'rnn' as const;
  private impl: RnnImplementation;

  constructor(
    readonly config: Readonly<RnnModelConfig>,
    variables: Record<ParamName, tf.Variable>,
    impl: RnnImplementation,
    carryState: boolean,
  ) {
    super(variables, carryState);
    this.impl = impl;
  }

  get implementation(): RnnImplementation {
    return this.impl;
  }

  useImplementation(impl: string | RnnImplementation): void {
    this.impl = resolveImplementation(impl);
  }

  private active(): RnnImplementation {
    this.assertUsable();
    const backend = tf.getBackend();
    if (!this.impl.supports(this.config, backend)) {
      throw new Error(
        `RNN implementation '${this.impl.name}' does not support this model (${this.config.hiddenSize} units, ` +
          `head '${this.config.head}') on backend '${backend}'; use model.useImplementation('reference')`,
      );
    }
    return this.impl;
  }

  private get params(): RnnParams {
    return this.variables;
  }

  forward(inputs: tf.Tensor3D, options: ForwardOptions = {}): { outputs: tf.Tensor; states: tf.Tensor3D } {
    const impl = this.active();
    if (options.c0 !== undefined) throw new RangeError('c0 is an LSTM option; the RNN has no cell state');
    validateInputs(inputs, this.config.inputSize);
    const [B, T, H] = [inputs.shape[0], inputs.shape[1], this.config.hiddenSize];
    const [h0] = this.startStates(B, [options.h0]);
    const tape = tf.engine().state;
    const tapeStart = tape.gradientDepth > 0 ? tape.activeTape.length : -1;
    let result = impl.forward(this.params, this.config, inputs, h0);
    if (tapeStart >= 0) {
      const watched = [inputs, ...Object.values(this.params), ...(h0 ? [h0] : [])];
      result = failGradientsClearly(result, impl.name, tapeStart, watched);
    }
    if (this.carryState) {
      tf.tidy(() => this.carry([tf.reshape(tf.slice(result.states, [0, T - 1, 0], [B, 1, H]), [B, H])]));
    }
    return result;
  }

  lossAndGradients(batch: Batch, request: ModelGradientRequest = {}): ModelGradientResult<ParamName> {
    const impl = this.active();
    if (request.c0 !== undefined) throw new RangeError('c0 is an LSTM option; the RNN has no cell state');
    validateBatch(batch, this.config);
    const [h0] = this.startStates(batch.inputs.shape[0], [request.h0]);
    const result = impl.lossAndGradients(this.params, this.config, batch, { ...request, h0 });
    this.carry([result.lastState]);
    return result;
  }
}

/**
 * Inside tf.grad / tf.variableGrads: when a kernel that `impl.forward` ran on the weights, the
 * inputs or h0 has no registered tfjs gradient (a fused kernel: forward is inference only),
 * tfjs's own error at backprop time would only name the kernel. The outputs and states are then
 * passed through an identity whose gradient throws an error that says what to do instead; it is
 * reached exactly when tfjs would otherwise fail (the loss depends on them), never otherwise.
 */
function failGradientsClearly(
  result: { outputs: tf.Tensor; states: tf.Tensor3D },
  implName: string,
  tapeStart: number,
  watched: tf.Tensor[],
): { outputs: tf.Tensor; states: tf.Tensor3D } {
  const ids = new Set(watched.map((t) => t.id));
  const kernels = new Set<string>();
  for (const node of tf.engine().state.activeTape.slice(tapeStart)) {
    if (node.gradient === undefined && Object.values(node.inputs).some((t) => ids.has(t.id))) {
      kernels.add(node.kernelName);
    }
  }
  if (kernels.size === 0) return result;
  const names = [...kernels].join(', ');
  const remedy =
    tf.getGradient('BatchMatMul') === undefined
      ? "tfjs-core alone registers no gradients: import '@tensorflow/tfjs' (or '@tensorflow/tfjs-layers') once."
      : "Differentiate the 'reference' implementation (model.useImplementation('reference')), or take the " +
        'gradients from model.lossAndGradients (or createTrainer), which every implementation provides.';
  const message =
    `tfjs cannot differentiate model.forward: the '${implName}' implementation ran it with ${names} on ` +
    `backend '${tf.getBackend()}', and no gradient is registered for ${kernels.size > 1 ? 'them' : 'it'}. ${remedy}`;
  const failing = (x: tf.Tensor) =>
    tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: tf.clone(inputs[0] as tf.Tensor),
      gradFunc: () => {
        throw new Error(message);
      },
    }))(x);
  const wrapped = { outputs: failing(result.outputs), states: failing(result.states) as tf.Tensor3D };
  tf.dispose([result.outputs, result.states]);
  return wrapped;
}

/**
 * Creates the paper's RNN with named variables `W_in` [I, H], `W_rec` [H, H], `b` [H],
 * `W_out` [H, O], `b_out` [O], initialised by `init` from `seed`.
 */
export function createRnn(options: CreateRnnOptions): RnnModel {
  const config = resolveRnnConfig(options);
  const impl = resolveImplementation(options.implementation);
  const weights = initialRnnWeights(config.init, config, config.seed, options.smartTanh);
  const variables = makeVariables(uniqueModelName('rnn', options.name), weights);
  return new Rnn(Object.freeze(config), variables, impl, options.carryState ?? false);
}
