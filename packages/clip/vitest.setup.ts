// tfjs-core alone registers no gradients (tfjs-layers and the @tensorflow/tfjs union do), and
// the tests call optimizer.minimize without tfjs-layers. Load tfjs-core's Node build first, so
// the engine is made by it, then register the gradients.
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
