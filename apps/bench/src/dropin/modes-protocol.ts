/**
 * What the clip-modes page (modes-page.ts) and its driver (../../scripts/clip-modes-browser.mjs)
 * say to each other. Browser-safe, no imports.
 */

export interface ModesRequest {
  /** 'webgl' or 'webgpu' (any registered tfjs backend) */
  backend: string;
  /** timed blocks per arm (after the warm-up) */
  reps: number;
  /** `trainOnBatch` steps per block, closed by one awaited weight read */
  k: number;
  /** untimed blocks per arm before the timed ones */
  warmupBlocks: number;
  /** adam's learning rate */
  learningRate: number;
  /** withGradientClipping's maxNorm */
  maxNorm: number;
  /** the arms to run (both when absent; host only where tfjs can read synchronously) */
  modes?: Array<'host' | 'device'>;
}

export interface ArmResult {
  mode: 'host' | 'device';
  /** ms per step of each timed block, in the order run */
  msPerStep: number[];
  /** ms per step of each warm-up block (shader compilation is in the first) */
  warmupMsPerStep: number[];
  /** the loss the last `trainOnBatch` returned */
  lastLoss: number;
  /** the clip optimizer's statistics after the run (device mode: through `readStats()`) */
  steps: number;
  clipCount: number;
  lastGlobalNorm: number;
  /** the optimizer's `deviceMode` after the first step */
  deviceMode: boolean | null;
}

export interface ModesResult {
  backend: string;
  /** why the backend could not start here, or null when it ran */
  unavailable: string | null;
  /** the WebGL renderer / WebGPU adapter that ran, whether host mode can run, ... */
  flags: Record<string, string | number | boolean>;
  /** host first when it ran (it does not where tfjs cannot read synchronously), then device */
  arms: ArmResult[];
  tensorsBefore: number;
  tensorsAfter: number;
  /** the whole run in ms: backend start, models, warm-up, timed blocks, disposal */
  wallMs: number;
  /** set when the run threw after the backend started */
  error: string | null;
}
