export { describeBackends, availableBackends, type BackendInfo } from './backends.js';
export { expectNoLeak, withNoLeak } from './leaks.js';
export { dataDir } from './data.js';
