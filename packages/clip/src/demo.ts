// Demo: the same small recurrent model trained with plain SGD and with SGD behind
// withGradientClipping. Its recurrent weights start slightly expanding (1.1 × identity), so
// error signals grow like 1.1^k going k steps back through the 40-step sequences: the
// gradient is huge, plain SGD jumps off the "cliff" (paper, Sec. 2 and Fig. 6) and ends in
// NaN, while the clipped step (paper, Algorithm 1) walks down it.
// Run it with `pnpm start` (repository root) or `node dist/demo.js` here.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { type ChainedOptimizer, withGradientClipping } from './index.js';

const STEPS = 40; // sequence length
const SAMPLES = 64;
const EPOCHS = 15;

/** Task: read a sequence of numbers, output their mean (the whole sequence must be remembered). */
function data(): { x: tf.Tensor3D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const x = tf.randomUniform([SAMPLES, STEPS, 1], -1, 1, 'float32', 42) as tf.Tensor3D;
    return { x, y: tf.mean(x, 1) as tf.Tensor2D };
  });
}

function model(optimizer: tf.Optimizer): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      tfl.layers.simpleRNN({
        units: 8,
        inputShape: [STEPS, 1],
        activation: 'linear',
        recurrentInitializer: tfl.initializers.identity({ gain: 1.1 }),
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  m.compile({ optimizer, loss: 'meanSquaredError' });
  return m;
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toPrecision(4).padStart(10) : String(v).padStart(10));

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const { x, y } = data();
  const lr = 0.05;
  const plain = model(tf.train.sgd(lr));
  let epochNorms: number[] = [];
  const clipping = withGradientClipping(tf.train.sgd(lr), {
    maxNorm: 1,
    onStep: (step) => epochNorms.push(step.globalNorm),
  });
  const clipped = model(clipping);

  console.log(
    `Sequence mean task: ${SAMPLES} sequences of ${STEPS} steps, linear RNN (8 units), SGD lr ${lr}`,
  );
  console.log('epoch   loss: plain SGD   loss: clipped   max norm (pre-clip)   steps clipped');
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    epochNorms = [];
    const before = clipping.stats.clipCount;
    const a = await plain.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const b = await clipped.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const clippedSteps = `${clipping.stats.clipCount - before}/${epochNorms.length}`;
    console.log(
      `${String(epoch).padStart(5)}   ${fmt(a.history.loss[0] as number)}        ${fmt(b.history.loss[0] as number)}` +
        `            ${fmt(Math.max(...epochNorms))}   ${clippedSteps.padStart(13)}`,
    );
  }
  const s = clipping.stats;
  console.log(
    `\nOver ${s.steps} steps: mean pre-clip norm ${s.meanNorm.toPrecision(4)}, largest ${s.largestNorm.toPrecision(4)}, ` +
      `${s.clipCount} clipped, ${s.skipCount} skipped.`,
  );
  console.log(
    `Last step: pre-clip norm ${clipping.lastGlobalNorm.toPrecision(4)}, clipped: ${clipping.lastClipped}. ` +
      'Plain SGD blew up; with clipping (maxNorm 1) the same model and learning rate trains.',
  );
  (clipped.optimizer as ChainedOptimizer).dispose();
  plain.optimizer.dispose();
  tf.dispose([x, y]);
  plain.dispose();
  clipped.dispose();
}

await main();
