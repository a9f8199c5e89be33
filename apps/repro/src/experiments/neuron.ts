/**
 * The one-neuron recurrent model of the paper's Fig. 6 (section 2 of paper.md):
 *   x_t = w σ(x_{t-1}) + b,  x_0 = 0.5,  E = (σ(x_50) − 0.7)²,  σ the logistic sigmoid.
 * Plain JS in float64: the model has two parameters, so the exact gradient is cheap to carry
 * forward with the state (dx_t/dw, dx_t/db), which equals BPTT's result.
 */

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export const logit = (p: number) => Math.log(p / (1 - p));

export interface NeuronProblem {
  steps: number;
  x0: number;
  target: number;
}

export const FIG6: NeuronProblem = { steps: 50, x0: 0.5, target: 0.7 };

export interface NeuronEval {
  error: number;
  gradW: number;
  gradB: number;
  xT: number;
}

/** E(w, b) and its exact gradient: dx_t = σ(x_{t-1}) dw + w σ'(x_{t-1}) dx_{t-1} (+1 for b). */
export function neuronError(w: number, b: number, p: NeuronProblem = FIG6): NeuronEval {
  let x = p.x0;
  let dw = 0;
  let db = 0;
  for (let t = 0; t < p.steps; t++) {
    const s = sigmoid(x);
    const slope = w * s * (1 - s);
    dw = s + slope * dw;
    db = 1 + slope * db;
    x = w * s + b;
  }
  const s = sigmoid(x);
  const dE = 2 * (s - p.target) * s * (1 - s);
  return { error: (s - p.target) ** 2, gradW: dE * dw, gradB: dE * db, xT: x };
}

export interface FixedPoint {
  x: number;
  /** |f'(x*)| = |w σ'(x*)| < 1 */
  stable: boolean;
}

/**
 * Fixed points of f(x) = w σ(x) + b: roots of f(x) − x, which all lie between b and b + w
 * (σ ∈ (0, 1)). Found by a sign scan then bisection.
 */
export function fixedPoints(w: number, b: number, samples = 4000): FixedPoint[] {
  const g = (x: number) => w * sigmoid(x) + b - x;
  const lo = Math.min(b, b + w) - 1;
  const hi = Math.max(b, b + w) + 1;
  const out: FixedPoint[] = [];
  let xa = lo;
  let ga = g(xa);
  for (let i = 1; i <= samples; i++) {
    const xb = lo + ((hi - lo) * i) / samples;
    const gb = g(xb);
    if (ga === 0 || ga * gb < 0) {
      let [a, c] = [xa, xb];
      for (let k = 0; k < 80; k++) {
        const m = (a + c) / 2;
        if (g(a) * g(m) <= 0) c = m;
        else a = m;
      }
      const x = (a + c) / 2;
      const s = sigmoid(x);
      out.push({ x, stable: Math.abs(w * s * (1 - s)) < 1 });
    }
    xa = xb;
    ga = gb;
  }
  return out;
}

/**
 * The bifurcation set of f: a saddle-node where f(x) = x and f'(x) = 1, parametrised by
 * s = σ(x) ∈ (0, 1): w = 1 / (s(1 − s)), b = logit(s) − w s. Its two branches meet in a cusp at
 * (w, b) = (4, −2); between them (w > 4) the map has three fixed points (two attractors).
 */
export function saddleNodeCurve(points = 200): { lower: [number, number][]; upper: [number, number][] } {
  const branch = (from: number, to: number) =>
    Array.from({ length: points }, (_, i) => {
      const s = from + ((to - from) * i) / (points - 1);
      const w = 1 / (s * (1 - s));
      return [w, logit(s) - w * s] as [number, number];
    });
  return { lower: branch(0.5, 0.995), upper: branch(0.5, 0.005) };
}

/**
 * The wall inside the bistable region: where x_0 sits on the unstable fixed point
 * (b = x_0 − w σ(x_0), unstable when w σ'(x_0) > 1). On one side the state falls to the lower
 * attractor, on the other to the upper one, so σ(x_50) — and E — jumps.
 */
export function basinWall(w: number, p: NeuronProblem = FIG6): number | undefined {
  const s = sigmoid(p.x0);
  if (w * s * (1 - s) <= 1) return undefined;
  return p.x0 - w * s;
}

export interface PathPoint {
  w: number;
  b: number;
  error: number;
  /** ‖∇E‖ before clipping */
  norm: number;
  clipped: boolean;
}

/**
 * Gradient descent from `start`; with `threshold`, Algorithm 1 of the paper: when ‖g‖ ≥ threshold,
 * g ← threshold · g / ‖g‖, so no step is longer than lr · threshold.
 */
export function descend(
  start: [number, number],
  lr: number,
  steps: number,
  threshold?: number,
  p: NeuronProblem = FIG6,
): PathPoint[] {
  let [w, b] = start;
  const path: PathPoint[] = [];
  for (let i = 0; i <= steps; i++) {
    const e = neuronError(w, b, p);
    let gw = e.gradW;
    let gb = e.gradB;
    const norm = Math.hypot(gw, gb);
    const clipped = threshold !== undefined && norm >= threshold;
    path.push({ w, b, error: e.error, norm, clipped });
    if (i === steps || !Number.isFinite(norm)) break;
    if (clipped) {
      gw *= threshold / norm;
      gb *= threshold / norm;
    }
    w -= lr * gw;
    b -= lr * gb;
  }
  return path;
}

/** Lengths of the parameter steps ‖θ_{i+1} − θ_i‖ of a path. */
export function stepLengths(path: PathPoint[]): number[] {
  return path.slice(1).map((q, i) => Math.hypot(q.w - path[i].w, q.b - path[i].b));
}
