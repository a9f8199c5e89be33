export { availableBackends, type BackendInfo, describeBackends } from './backends.js';
export { dataDir } from './data.js';
export { expectNoLeak, withNoLeak } from './leaks.js';
