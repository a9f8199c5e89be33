// tfjs-core alone registers no gradients for its own ops (the @tensorflow/tfjs union and
// tfjs-layers do). The tests compose the fused op with tf.add, tf.mul and optimizers under
// tf.grad, so register them, after tfjs-core's Node build has made the engine.
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
