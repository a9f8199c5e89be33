// The parts that run without Node (no fs, crypto or tar): for browser bundles.
export {
  CharBatches,
  type CharBatchOptions,
  type CharSegment,
  type CharSegmentArrays,
  createCharBatches,
} from './charBatches.js';
export {
  buildEvalSet,
  type ErrorCount,
  type EvalSet,
  type EvalSetOptions,
  REGRESSION_ERROR_THRESHOLD,
  type TargetsLike,
  type TaskErrorOptions,
  taskError,
  taskErrorOfTensor,
} from './evaluation.js';
export { Random, type RandomState } from './random.js';
export {
  type BatchArrays,
  createTask,
  SyntheticTask,
  TASK_NAMES,
  type TaskBatch,
  type TaskHead,
  type TaskLoss,
  type TaskName,
  type TaskOptions,
  type TaskState,
  toTensors,
} from './tasks.js';
