export { SAFEGUARD_NORM, SAFEGUARD_SHRINK } from '@cliffguard/clip';
export {
  activationBound,
  type GradientConditions,
  gradientConditions,
  temporalContributions,
} from './diagnostics.js';
export {
  PARAM_NAMES,
  type PackedStackedTraining,
  RECORD_ROWS,
  type RunShapes,
  type StackedBatch,
  type StackedStepResult,
  type StackedTraining,
  type TrainableImplementation,
} from './ensemble-step.js';
export {
  HEADS,
  headInput,
  headLogits,
  headLoss,
  headLossAndGradients,
  headOutputs,
  isLastStepHead,
} from './heads.js';
export type {
  Activation,
  Batch,
  GradientRequest,
  GradientResult,
  Head,
  OmegaSpec,
  ParamName,
  RnnConfig,
  RnnImplementation,
  RnnParams,
} from './implementation.js';
export {
  gaussian,
  glorotUniform,
  INIT_NAMES,
  type InitName,
  initialRnnWeights,
  orthogonal,
  type RnnSizes,
  type SmartTanhOptions,
  smartTanhRecurrent,
  type WeightData,
} from './init.js';
export {
  type CreateLstmOptions,
  createLstm,
  type LstmInitName,
  type LstmModel,
  type LstmModelConfig,
  type LstmParamName,
} from './lstm.js';
export type {
  ForwardOptions,
  ModelGradientRequest,
  ModelGradientResult,
  RecurrentModel,
  Weights,
} from './model.js';
export type { StepOmega, StepRecord, TrainStepOptions } from './model-update.js';
export {
  type AlphaSchedule,
  type AlphaScheduleSpec,
  activationDerivative,
  alphaSchedule,
  OMEGA_BOUND,
  type OmegaOptions,
  type OmegaVariant,
  omega,
  omegaAndGradient,
} from './omega.js';
export {
  compilePaperMethod,
  methodOptimizer,
  PAPER_METHODS,
  type PaperMethodName,
  type PaperMethodOptions,
  type PaperMethodSettings,
  paperMethod,
  resolvePaperMethod,
  type TrainingMethod,
} from './paper-method.js';
export { Prng } from './prng.js';
export { referenceImplementation, runRecurrence } from './reference.js';
export {
  getImplementation,
  listImplementations,
  registerImplementation,
  resolveImplementation,
} from './registry.js';
export { type CreateRnnOptions, createRnn, type RnnModel, type RnnModelConfig } from './rnn.js';
export { largestSingularValue, type MatrixInput, spectralRadius } from './spectral.js';
export {
  type CreateTrainerOptions,
  createTrainer,
  type RunOptimizerState,
  runRecord,
  type Trainer,
  type TrainerEngine,
  type TrainerMember,
  type TrainerState,
  type TrainerStepOptions,
  type TrainerStepRecord,
  trainStep,
} from './trainer.js';
