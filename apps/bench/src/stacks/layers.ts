/**
 * Stock TensorFlow.js: `tf.layers.simpleRNN` + `model.fit`, what a tfjs user writes today.
 * The same shapes and the same initial weights as cliffguard's model; plain SGD (tfjs has no
 * global-norm clipping), so its rows are method 'SGD'.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { BenchConfig } from '../configs.js';
import { type BatchData, type InitialWeights, oneHot } from '../data.js';
import type { RunningStack, StackFactory } from './stack.js';

/**
 * The model: SimpleRNN, then for a last-step head a Dense layer on h_T, for a per-step head a
 * TimeDistributed Dense. Losses are tfjs-layers' own; note that its binary cross-entropy is a
 * mean over the output units where cliffguard's 'sigmoid' head sums them (factor O).
 */
export function buildLayersModel(config: BenchConfig): tfl.Sequential {
  const { seqLen: T, inputSize: I, hiddenSize: H, outputSize: O } = config;
  const last = config.head.startsWith('last-');
  const outActivation =
    config.head === 'sigmoid' ? 'sigmoid' : config.head === 'last-linear' ? 'linear' : 'softmax';
  const model = tfl.sequential();
  // zeros: the weights are set from the shared initial weights; and tfjs-layers' default
  // orthogonal initializer calls chained ops (tensor.flatten()) that tfjs-core alone lacks
  model.add(
    tfl.layers.simpleRNN({
      units: H,
      activation: config.activation,
      returnSequences: !last,
      inputShape: [T, I],
      kernelInitializer: 'zeros',
      recurrentInitializer: 'zeros',
    }),
  );
  const dense = tfl.layers.dense({ units: O, activation: outActivation, kernelInitializer: 'zeros' });
  model.add(last ? dense : tfl.layers.timeDistributed({ layer: dense }));
  return model;
}

function layersLoss(config: BenchConfig): string {
  if (config.head === 'sigmoid') return 'binaryCrossentropy';
  if (config.head === 'last-linear') return 'meanSquaredError';
  return 'categoricalCrossentropy';
}

/** The batch's targets in the form tfjs-layers' losses take (one-hot rows for softmax heads). */
function layersTargets(config: BenchConfig, data: BatchData): tf.Tensor {
  if (data.targets instanceof Int32Array) {
    return tf.tensor(oneHot(data.targets, config.outputSize), [...data.targetShape, config.outputSize]);
  }
  return tf.tensor(data.targets, data.targetShape);
}

export const tfjsLayersStack: StackFactory = {
  impl: 'tfjs-layers',
  method: 'SGD',
  unavailable: () => null,
  async create(config: BenchConfig, data: BatchData, w: InitialWeights): Promise<RunningStack> {
    const { inputSize: I, hiddenSize: H, outputSize: O } = config;
    const model = buildLayersModel(config);
    const optimizer = tf.train.sgd(config.learningRate);
    model.compile({ optimizer, loss: layersLoss(config) });
    // SimpleRNN kernel [I,H], recurrent kernel [H,H], bias [H]: the same row-vector convention
    const init = [
      tf.tensor2d(w.W_in, [I, H]),
      tf.tensor2d(w.W_rec, [H, H]),
      tf.tensor1d(w.b),
      tf.tensor2d(w.W_out, [H, O]),
      tf.tensor1d(w.b_out),
    ];
    model.setWeights(init);
    tf.dispose(init);
    const x = tf.tensor3d(data.inputs, data.inputShape);
    const y = layersTargets(config, data);
    return {
      async step() {
        const history = await model.fit(x, y, {
          batchSize: config.batchSize,
          epochs: 1,
          shuffle: false,
          verbose: 0,
        });
        return history.history.loss[0] as number;
      },
      dispose() {
        model.dispose();
        optimizer.dispose();
        tf.dispose([x, y]);
      },
    };
  },
};
