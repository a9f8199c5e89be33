// The README's first example: the paper's temporal-order model trained with the fused kernels.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@cliffguard/fused'; // registers the kernels and the 'fused' implementation
import { withGradientClipping } from '@cliffguard/clip';
import { isRelaxedSimd, kernelInfo } from '@cliffguard/fused';
import { createRnn, trainStep } from '@cliffguard/rnn';

await tf.setBackend('wasm');
const model = createRnn({
  inputSize: 6,
  hiddenSize: 50,
  outputSize: 4,
  head: 'last-softmax',
  implementation: 'fused',
});
const optimizer = withGradientClipping(tf.train.sgd(0.01), { maxNorm: 1 }); // SGD-C
// one batch of 20 one-hot sequences of length 100 and their classes
const symbols = tf.randomUniformInt([20, 100], 0, 6);
const inputs = tf.cast(tf.oneHot(symbols, 6), 'float32');
const targets = tf.randomUniformInt([20], 0, 4);
const record = await trainStep(model, { inputs, targets }, optimizer, {
  omega: { alpha: 2, variant: 'code' },
}); // SGD-CR
console.log(record.loss, record.norm, record.omega, record.clipped);
console.log(isRelaxedSimd(), kernelInfo().engines);
