/**
 * What the drop-in page (page.ts) and its test (../dropin.browser.test.ts) say to each other:
 * the cases the page runs and what one run reports. Browser-safe, no imports.
 */

/** 'layers': tf.layers + withGradientClipping; 'fused-rnn': the paper's RNN on the fused kernels. */
export type DropinCase = 'layers' | 'fused-rnn';

export interface CaseRequest {
  case: DropinCase;
  backend: string;
  /** training steps */
  steps: number;
  /** SGD's learning rate */
  learningRate: number;
  /** the clip threshold (withGradientClipping's maxNorm; the paper method's, used by SGD-C) */
  maxNorm: number;
  /** 'fused-rnn': the paper method ('SGD', 'SGD-C'); ignored by 'layers' */
  method?: 'SGD' | 'SGD-C';
}

export interface CaseResult {
  backend: string;
  /** why the backend could not start here, or null when it ran */
  unavailable: string | null;
  /** what ran: the adapter, the fused engine and its threads, the clip optimizer's mode, ... */
  flags: Record<string, string | number | boolean>;
  /** the loss before each step (the loss each step reports) */
  losses: number[];
  /** wall time of each step in ms, the loss read back included */
  stepMs: number[];
  /** 'layers': the clip optimizer's last pre-clip global norm; 'fused-rnn': record.norm[0] per step */
  norms: number[];
  /** 'layers': the clip optimizer's `stats.steps` after training (read with readStats when it has it) */
  statsSteps: number | null;
  /** clipped steps: 'layers' the clip optimizer's clipCount; 'fused-rnn' the records' `clipped` */
  clipCount: number | null;
  /** tf.memory().numTensors before the case made anything and after it disposed all it made */
  tensorsBefore: number;
  tensorsAfter: number;
  /** the whole case in ms: backend start, model, training, disposal */
  wallMs: number;
  /** set when the case threw after the backend started */
  error: string | null;
}

/** What the README example's page (readme.html) records, see build.ts. */
export interface ReadmeResult {
  backend: string;
  /** console.log's arguments from the example, as JSON-safe values (NaN as the string 'NaN') */
  logged: unknown[][];
  /** the optimizer's pre-clip norm (readStats when the optimizer has it) and statistics */
  lastGlobalNorm: number;
  statsSteps: number;
  epochs: number;
  samples: number;
  /** the loss of each epoch of the example's `model.fit` (its History, recorded by the harness) */
  epochLosses: number[];
  tensorsBefore: number;
  tensorsAfter: number;
  wallMs: number;
  error: string | null;
}
