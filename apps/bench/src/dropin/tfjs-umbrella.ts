/**
 * What `import * as tf from '@tensorflow/tfjs'` gives in a browser, made of the tfjs packages this
 * app has: the union package is tfjs-core with all its gradients and chained ops (`x.flatten()`,
 * which tfjs-layers' initialisers call) + tfjs-layers (+ converter and data, which the README
 * example does not use), with the cpu and webgl backends registered. The drop-in test's bundler
 * resolves '@tensorflow/tfjs' to this module, so the README's example is bundled with its import
 * lines as written.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
// swapped for an empty module by the test's bundler when the package is not installed
import '@tensorflow/tfjs-backend-webgl';

export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
