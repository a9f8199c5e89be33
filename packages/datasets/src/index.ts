export {
  CharBatches,
  type CharBatchOptions,
  type CharSegment,
  type CharSegmentArrays,
  createCharBatches,
} from './charBatches.js';
export {
  type ArchiveMember,
  type DownloadOptions,
  defaultCacheDir,
  downloadArchiveMembers,
  downloadVerified,
  sha256Hex,
  writeFileAtomic,
} from './download.js';
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
export {
  createPianoRoll,
  nllPerStep,
  PIANO_KEYS,
  PianoRoll,
  type PianoRollArrays,
  type PianoRollBatch,
  type PianoRollWindow,
} from './pianoRoll.js';
export { ALLOWED_PICKLE_GLOBALS, PICKLE_LIMITS, PickleError, readPickle } from './pickle.js';
export {
  decodeMusicCache,
  encodeMusicCache,
  HIGHEST_NOTE,
  LOWEST_NOTE,
  loadPolyphonic,
  MUSIC_SET_NAMES,
  type MusicSetName,
  type MusicSplit,
  type Piece,
  type PolyphonicOptions,
  type PolyphonicSet,
  validateMusic,
} from './polyphonic.js';
export {
  bitsPerChar,
  loadPtbChars,
  type PtbChars,
  type PtbOptions,
  type PtbSplit,
  parsePtbCharFile,
  UNKNOWN_SYMBOL,
} from './ptb.js';
export { Random, type RandomState } from './random.js';
export { MUSIC_SOURCES, PTB_SOURCE, type SourceFile } from './sources.js';
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
