import type { CoreResult, ProgressEvent } from '../core.js';
import type { BackendReport } from '../report/results.js';

/** What a backend frame posts to the page. */
export type FrameMessage =
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'done'; start: BackendReport; result: CoreResult }
  | { type: 'error'; backend: string; message: string };

/** The page's request, as the frame's URL query. */
export interface PageRequest {
  configs: string[];
  backends: string[];
  impls: string[];
  methods: string[];
  steps?: number;
  ensembles: number[];
  warmup: number;
  budget: number;
  seed: number;
  /** threads of the wasm backend's threaded build (default: all cores) */
  wasmThreads?: number;
}

const list = (v: string | null, fallback: string[]) =>
  v === null || v.trim() === ''
    ? fallback
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

export function parseRequest(params: URLSearchParams): PageRequest {
  const steps = params.get('steps');
  return {
    configs: list(params.get('configs'), ['P100']),
    backends: list(params.get('backends'), ['webgpu', 'wasm', 'cpu']),
    impls: list(params.get('impls'), ['reference', 'fused', 'tfjs-layers']),
    methods: list(params.get('methods'), ['SGD', 'SGD-C', 'SGD-CR']),
    ensembles: list(params.get('ensembles'), []).map(Number),
    ...(steps ? { steps: Number(steps) } : {}),
    warmup: Number(params.get('warmup') ?? 2),
    budget: Number(params.get('budget') ?? 3),
    seed: Number(params.get('seed') ?? 1),
    ...(params.get('wasmThreads') ? { wasmThreads: Number(params.get('wasmThreads')) } : {}),
  };
}

export function requestQuery(r: PageRequest, backend?: string): string {
  const p = new URLSearchParams({
    configs: r.configs.join(','),
    backends: backend ?? r.backends.join(','),
    impls: r.impls.join(','),
    methods: r.methods.join(','),
    ensembles: r.ensembles.join(','),
    warmup: String(r.warmup),
    budget: String(r.budget),
    seed: String(r.seed),
  });
  if (r.steps !== undefined) p.set('steps', String(r.steps));
  if (r.wasmThreads !== undefined) p.set('wasmThreads', String(r.wasmThreads));
  return p.toString();
}
