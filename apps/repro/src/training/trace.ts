/**
 * A bounded training trace: statistics over windows of updates (loss, gradient norm, clipping
 * events, Ω), and at each window's end ρ(W_rec) and the temporal contributions ‖∂E/∂h_t‖.
 * When it holds more than `limit` windows, neighbours merge pairwise and the window doubles,
 * so a 5M-update run keeps as small a trace as a 5k one.
 */

export interface TracePoint {
  /** the update number at the window's end */
  step: number;
  /** updates in the window */
  n: number;
  lossMean: number;
  normMean: number;
  normMax: number;
  /** clipped updates in the window */
  clipped: number;
  /** skipped (non-finite) or safeguarded updates in the window */
  skipped: number;
  omegaMean: number | null;
  /** ρ(W_rec) at the window's end */
  rho: number;
  /** log10 ‖∂E/∂h_t‖ over t (binned), at the window's end */
  contributions: number[];
  /** error rate on the check set, when one was taken in this window */
  checkError: number | null;
}

export interface WindowStats {
  n: number;
  lossSum: number;
  normSum: number;
  normMax: number;
  clipped: number;
  skipped: number;
  omegaSum: number;
  omegaN: number;
}

export const emptyWindow = (): WindowStats => ({
  n: 0,
  lossSum: 0,
  normSum: 0,
  normMax: 0,
  clipped: 0,
  skipped: 0,
  omegaSum: 0,
  omegaN: 0,
});

export function addStep(
  w: WindowStats,
  r: {
    loss: number;
    norm: number;
    clipped: boolean;
    skipped: boolean;
    safeguarded?: boolean;
    omega: number | null;
  },
): void {
  w.n += 1;
  w.lossSum += r.loss;
  w.normSum += Number.isFinite(r.norm) ? r.norm : 0;
  w.normMax = Math.max(w.normMax, Number.isFinite(r.norm) ? r.norm : Number.MAX_VALUE);
  if (r.clipped) w.clipped += 1;
  if (r.skipped || r.safeguarded) w.skipped += 1;
  if (r.omega !== null && Number.isFinite(r.omega)) {
    w.omegaSum += r.omega;
    w.omegaN += 1;
  }
}

const round = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(5)) : v);

export function closeWindow(
  w: WindowStats,
  step: number,
  rho: number,
  contributions: number[],
  checkError: number | null,
): TracePoint {
  return {
    step,
    n: w.n,
    lossMean: round(w.lossSum / Math.max(1, w.n)),
    normMean: round(w.normSum / Math.max(1, w.n)),
    normMax: round(w.normMax),
    clipped: w.clipped,
    skipped: w.skipped,
    omegaMean: w.omegaN ? round(w.omegaSum / w.omegaN) : null,
    rho: round(rho),
    contributions: contributions.map(round),
    checkError,
  };
}

/** Merges neighbours pairwise (keeping the later point's end-of-window measurements). */
export function thin(trace: TracePoint[]): TracePoint[] {
  const out: TracePoint[] = [];
  for (let i = 0; i < trace.length; i += 2) {
    const a = trace[i];
    const b = trace[i + 1];
    if (!b) {
      out.push(a);
      continue;
    }
    const n = a.n + b.n;
    const omegas = [a.omegaMean, b.omegaMean].filter((x): x is number => x !== null);
    out.push({
      step: b.step,
      n,
      lossMean: round((a.lossMean * a.n + b.lossMean * b.n) / n),
      normMean: round((a.normMean * a.n + b.normMean * b.n) / n),
      normMax: Math.max(a.normMax, b.normMax),
      clipped: a.clipped + b.clipped,
      skipped: a.skipped + b.skipped,
      omegaMean: omegas.length ? round(omegas.reduce((s, x) => s + x, 0) / omegas.length) : null,
      rho: b.rho,
      contributions: b.contributions,
      checkError: b.checkError ?? a.checkError,
    });
  }
  return out;
}

/** log10 of the values averaged in `bins` equal groups over time (t = 1..T). */
export function binContributions(values: number[], bins = 40): number[] {
  const T = values.length;
  const k = Math.min(bins, T);
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const from = Math.floor((i * T) / k);
    const to = Math.floor(((i + 1) * T) / k);
    let s = 0;
    for (let t = from; t < to; t++) s += values[t];
    out.push(Math.log10(Math.max(1e-30, s / Math.max(1, to - from))));
  }
  return out;
}
