/**
 * The persistent sequence program (issue 19): ONE dispatch runs, for every run of an ensemble and
 * every sequence of its batch, the whole forward pass over T, the head, BPTT, Ω's terms and the
 * sequence's share of every weight gradient. One workgroup per (sequence b, run r); the time loop
 * is inside the shader, with workgroup barriers between steps, and W_rec sits in workgroup memory
 * when it fits. Its output is a scratch buffer: per (r, b) the states, the back-propagated
 * signals and the gradient partials that the packed update (packed-update.ts) sums over b.
 *
 * Sizes, head, activation and the optional parts (mask, Ω) are compile-time constants: the
 * program is compiled once per shape (a sweep has a handful), and the loops have fixed bounds.
 * A `mixed` program instead reads each run's length T_r ≤ T and activation from the `shapes`
 * input [R, 2] (one program for a whole sweep of lengths and activations): its time loops run to
 * T_r, read at run time (uniform per workgroup), and the steps after T_r of the run's inputs,
 * per-step targets and mask are padding that nothing reads. Scratch stays sized for T.
 *
 * The arithmetic is that of the multi-dispatch programs (forward.ts, head.ts, backward.ts,
 * omega.ts, gradient.ts), only summed per sequence first and over the batch after.
 */
import { ENSEMBLE_RUN_COLUMNS } from '../../kernels/names.js';
import type { FusedWebGPUProgram } from './common.js';

/** Where each parameter of one run starts in the packed state (row-major, as the stacked tensors). */
export interface PackedLayout {
  W_in: number;
  W_rec: number;
  b: number;
  W_out: number;
  b_out: number;
  /** parameters per run */
  P: number;
}

export function packedLayout(I: number, H: number, O: number): PackedLayout {
  const W_rec = I * H;
  const b = W_rec + H * H;
  const W_out = b + H;
  const b_out = W_out + H * O;
  return { W_in: 0, W_rec, b, W_out, b_out, P: b_out + O };
}

/** The shape of one persistent step; every field is baked into the WGSL. */
export interface SequenceShape {
  R: number;
  B: number;
  T: number;
  I: number;
  H: number;
  O: number;
  /** HEAD_CODE: 0 last-softmax, 1 softmax, 2 last-linear, 3 sigmoid */
  head: number;
  /** 0 tanh, 1 sigmoid */
  act: number;
  /** a mask is given (per-step heads read it) */
  masked: boolean;
  /** some run uses Ω: its terms and its part of ∂W_rec are computed */
  omega: boolean;
  /** W_rec is copied into workgroup memory */
  sharedWrec: boolean;
  /**
   * runs of different lengths and activations: run r's length T_r (1 ≤ T_r ≤ T) and activation
   * code (0 tanh, 1 sigmoid) are read from the `shapes` input [R, 2]; `act` is then unused
   */
  mixed?: boolean;
}

/** Offsets (floats) of the blocks of one (run, sequence)'s scratch, and its size Q. */
export interface ScratchLayout {
  /** states S_0..S_T, [T+1][H] */
  S: number;
  /** a_t = δ_t ⊙ σ'(h_t), [T][H] */
  A: number;
  /** g_t = a_t W_recᵀ, [T][H] (Ω only) */
  G: number;
  /** Ω's s_t = 4(r_t − 1)/‖δ_t‖² (0 where ‖δ_t‖² < 1e-20), [T] (Ω only) */
  SR: number;
  /** the head's rows: logits, then ∂loss/∂z, [rows][O] */
  DZ: number;
  /** this sequence's share of the five gradients, packed as the parameters ([P]), then α·Σ s g aᵀ ([H·H], Ω only) */
  PART: number;
  /** [loss share, Σ(r − 1)², valid rows] */
  SC: number;
  Q: number;
}

export function scratchLayout(s: SequenceShape): ScratchLayout {
  const { T, H, O } = s;
  const rows = lastHead(s.head) ? 1 : T;
  const { P } = packedLayout(s.I, H, O);
  const S = 0;
  const A = S + (T + 1) * H;
  const G = A + T * H;
  const SR = G + (s.omega ? T * H : 0);
  const DZ = SR + (s.omega ? T : 0);
  const PART = DZ + rows * O;
  const SC = PART + P + (s.omega ? H * H : 0);
  return { S, A, G, SR, DZ, PART, SC, Q: SC + 4 };
}

/** The bits of the float32 nearest 1e-24, the engines' flush-to-zero threshold. */
const TINY_BITS = new Uint32Array(new Float32Array([1e-24]).buffer)[0];

export const lastHead = (head: number) => head === 0 || head === 2;

/** Invocations per workgroup: the hidden units rounded up to 64, 128 or 256 (a power of two, for the reductions). */
export function sequenceWorkgroupSize(H: number): number {
  if (H > 256)
    throw new RangeError(`the persistent sequence program takes at most 256 hidden units, got ${H}`);
  return H <= 64 ? 64 : H <= 128 ? 128 : 256;
}

/** Workgroup memory (bytes) the program needs, with and without W_rec in it (a mixed program: one word more, T_r). */
export function sequenceWorkgroupBytes(H: number, withWrec: boolean, mixed = false): number {
  const wgs = sequenceWorkgroupSize(H);
  return 4 * (4 * H + 2 * wgs + (withWrec ? H * H : 0) + (mixed ? 1 : 0));
}

export const RUN_COLUMNS = ENSEMBLE_RUN_COLUMNS.length;
export const runColumn = (name: (typeof ENSEMBLE_RUN_COLUMNS)[number], run = 'run') =>
  `f32(runs[${RUN_COLUMNS} * ${run} + ${ENSEMBLE_RUN_COLUMNS.indexOf(name)}])`;

/** A program of tfjs's shape for fixed-size WGSL: `dispatch` workgroups of `workgroupSize`. */
export function bakedProgram(
  key: string,
  variableNames: string[],
  outputSize: number,
  dispatch: [number, number, number],
  workgroupSize: number,
  code: string,
): FusedWebGPUProgram {
  return {
    variableNames,
    outputShape: [outputSize],
    shaderKey: `cliffguard_${key}`,
    dispatchLayout: { x: [0] },
    dispatch,
    workgroupSize: [workgroupSize, 1, 1],
    uniforms: '',
    getUserCode: () => withEveryBinding(code, variableNames),
  };
}

/**
 * The pipeline's layout is derived from the bindings the shader uses, while tfjs binds every
 * input and the uniforms: an unused one (the mask placeholder) would fail validation. A branch
 * no invocation takes uses them all.
 */
function withEveryBinding(code: string, names: string[]): string {
  const main = 'fn main(index0 : i32) {';
  if (!code.includes(main)) throw new Error(`a baked program needs \`${main}\``);
  const uses = [...names.map((n) => `f32(${n}[0])`), 'uniforms.NAN'].join(' + ');
  return code.replace(main, `${main}\n    if (localIndex == 0xffffffffu) { result[0] = ${uses}; }`);
}

/** Tree reduction of red[0..WGS) into red[0] (every invocation calls it: it has barriers). */
const reduceCode = (wgs: number) => `
  fn reduceSum(l : i32) {
    workgroupBarrier();
    for (var w = ${wgs / 2}; w > 0; w = w / 2) {
      if (l < w) { red[l] += red[l + w]; }
      workgroupBarrier();
    }
  }`;

/**
 * The persistent program: inputs W (the packed state), u [R,B,T,I], y (targets), mask (or any
 * placeholder), runs (the ensembles' table), and for a mixed program shapes [R, 2] (per run its
 * length T_r and activation code); output the scratch [R·B·Q].
 */
export function sequenceProgram(s: SequenceShape): FusedWebGPUProgram {
  const { R, B, T, I, H, O } = s;
  const L = packedLayout(I, H, O);
  const X = scratchLayout(s);
  const wgs = sequenceWorkgroupSize(H);
  const last = lastHead(s.head);
  const rows = last ? 1 : T;
  const masked = s.masked && !last;
  const mixed = s.mixed === true;
  // the run's length: T, or T_r read at run time (mixed)
  const Tr = mixed ? 'Tr' : 'T';
  // the head's rows per sequence and the step of a last-step head
  const rowsCode = last ? '1' : mixed ? 'Tr' : `${rows}`;
  const lastStep = `${Tr} - 1`;
  const key = `seq_${[R, B, T, I, H, O, s.head, mixed ? 'mixed' : s.act, +masked, +s.omega, +s.sharedWrec].join('_')}`;
  const wrec = s.sharedWrec ? 'wrec[i * H + j]' : 'f32(W[pb + oWrec + i * H + j])';
  // the row's target and loss, as head.ts computes them (yb: this sequence's targets)
  const headLoss = [
    // last-softmax, softmax: cross-entropy of class y
    `let yi = i32(y[${s.head === 0 ? 'run * B + b' : '(run * B + b) * T + t'}]);
    var sum = 0.0;
    for (var k = 0; k < O; k++) { sum += exp(result[zrow + k] - mx); }
    loss = mx + log(sum) - result[zrow + yi];
    for (var k = 0; k < O; k++) {
      let p = exp(result[zrow + k] - mx) / sum;
      result[zrow + k] = (p - select(0.0, 1.0, k == yi)) * g;
    }`,
  ];
  headLoss[1] = headLoss[0];
  // last-linear: squared error
  headLoss[2] = `for (var k = 0; k < O; k++) {
      let d = result[zrow + k] - f32(y[(run * B + b) * O + k]);
      loss += d * d;
      result[zrow + k] = 2.0 * d * g;
    }`;
  // sigmoid: Bernoulli cross-entropy from the logits
  headLoss[3] = `for (var k = 0; k < O; k++) {
      let v = result[zrow + k];
      let e = exp(-abs(v));
      let p = select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
      let yy = f32(y[((run * B + b) * T + t) * O + k]);
      loss += max(v, 0.0) - yy * v + log(1.0 + e);
      result[zrow + k] = (p - yy) * g;
    }`;
  const code = `
  const B = ${B}; const T = ${T}; const I = ${I}; const H = ${H}; const O = ${O};
  const P = ${L.P}; const Q = ${X.Q};
  const oWin = ${L.W_in}; const oWrec = ${L.W_rec}; const ob = ${L.b}; const oWout = ${L.W_out}; const obout = ${L.b_out};
  const sS = ${X.S}; const sA = ${X.A}; const sG = ${X.G}; const sSR = ${X.SR}; const sDZ = ${X.DZ};
  const sPART = ${X.PART}; const sSC = ${X.SC};
  const WGS = ${wgs};
  var<workgroup> hbuf : array<f32, ${2 * H}>;
  var<workgroup> abuf : array<f32, ${H}>;
  var<workgroup> gbuf : array<f32, ${H}>;
  var<workgroup> red : array<f32, ${2 * wgs}>;
  ${s.sharedWrec ? `var<workgroup> wrec : array<f32, ${H * H}>;` : ''}${
    mixed
      ? `
  // the run's length, shared so that the time loops (with their barriers) stay uniform
  var<workgroup> runLength : i32;
  // the run's activation code (0 tanh, 1 sigmoid), the same in every invocation of a workgroup
  var<private> actCode : i32;`
      : ''
  }
  ${reduceCode(wgs)}
  fn activate(x : f32) -> f32 {
    ${
      mixed
        ? `if (actCode == 0) { return tanh(clamp(x, -15.0, 15.0)); }
    return 1.0 / (1.0 + exp(-x));`
        : s.act === 0
          ? 'return tanh(clamp(x, -15.0, 15.0));'
          : 'return 1.0 / (1.0 + exp(-x));'
    }
  }
  fn slope(h : f32) -> f32 { ${
    mixed
      ? 'if (actCode == 0) { return 1.0 - h * h; } return h * (1.0 - h);'
      : s.act === 0
        ? 'return 1.0 - h * h;'
        : 'return h * (1.0 - h);'
  } }
  // error signals below 1e-24 are set to 0, as in every other engine; tested on the bits, since
  // a compiler may assume no NaN in a comparison (a NaN must stay NaN)
  fn flushTiny(x : f32) -> f32 { return select(x, 0.0, (bitcast<u32>(x) & 0x7fffffffu) < ${TINY_BITS}u); }

  fn main(index0 : i32) {
    let b = i32(workgroupId.x);
    let run = i32(workgroupId.y);
    let l = i32(localIndex);
    let pb = run * P;
    let sb = (run * B + b) * Q;
    let ub = (run * B + b) * T * I;${
      mixed
        ? `
    // this run's length and activation (shapes [R, 2]); its steps after T_r are not read
    actCode = i32(f32(shapes[run * 2 + 1]));
    if (l == 0) { runLength = clamp(i32(f32(shapes[run * 2])), 1, T); }
    let Tr = workgroupUniformLoad(&runLength);`
        : ''
    }
    ${s.sharedWrec ? 'for (var e = l; e < H * H; e += WGS) { wrec[e] = f32(W[pb + oWrec + e]); }' : ''}

    // the forward pass: S_0 = 0, S_t = σ(S_{t-1} W_rec + u_t W_in + b), h in workgroup memory
    for (var j = l; j < H; j += WGS) { hbuf[j] = 0.0; result[sb + sS + j] = 0.0; }
    workgroupBarrier();
    for (var t = 1; t <= ${Tr}; t++) {
      let cur = (t % 2) * H;
      let prev = ((t + 1) % 2) * H;
      for (var j = l; j < H; j += WGS) {
        var z = f32(W[pb + ob + j]);
        for (var i = 0; i < H; i++) { z += hbuf[prev + i] * ${wrec}; }
        let row = ub + (t - 1) * I;
        for (var i = 0; i < I; i++) { z += f32(u[row + i]) * f32(W[pb + oWin + i * H + j]); }
        let h = activate(z);
        hbuf[cur + j] = h;
        result[sb + sS + t * H + j] = h;
      }
      workgroupBarrier();
    }
    storageBarrier();

    // the head, one invocation per row: logits, then ∂loss/∂z and the row's share of the loss
    var count = ${last ? 'f32(B)' : `f32(B * ${Tr})`};
    ${
      masked
        ? `var c = 0.0;
    ${
      mixed
        ? 'for (var q = l; q < B * Tr; q += WGS) { c += f32(mask[run * B * T + (q / Tr) * T + q % Tr]); }'
        : 'for (var q = l; q < B * T; q += WGS) { c += f32(mask[run * B * T + q]); }'
    }
    red[l] = c;
    reduceSum(l);
    count = max(red[0], 1.0);
    workgroupBarrier();`
        : ''
    }
    var lossPart = 0.0;
    for (var q = l; q < ${rowsCode}; q += WGS) {
      let t = ${last ? lastStep : 'q'};
      let hrow = sb + sS + (t + 1) * H;
      let zrow = sb + sDZ + q * O;
      var mx = -3.0e38;
      for (var k = 0; k < O; k++) {
        var z = f32(W[pb + obout + k]);
        for (var j = 0; j < H; j++) { z += result[hrow + j] * f32(W[pb + oWout + j * O + k]); }
        result[zrow + k] = z;
        mx = max(mx, z);
      }
      let m = ${masked ? 'f32(mask[run * B * T + b * T + t])' : '1.0'};
      let g = m / count;
      var loss = 0.0;
      ${headLoss[s.head]}
      lossPart += m * loss / count;
    }
    storageBarrier();

    // BPTT: δ_t = dz W_outᵀ + g_{t+1}, a_t = δ_t ⊙ σ'(h_t), g_t = a_t W_recᵀ (${s.omega ? "with Ω's terms" : 'no Ω'})
    var terms = 0.0;
    var valid = 0.0;
    for (var t = ${Tr}; t >= 1; t--) {
      for (var j = l; j < H; j += WGS) {
        var d = 0.0;
        if (${last ? `t == ${Tr}` : 'true'}) {
          let zr = sb + sDZ + ${last ? '0' : '(t - 1) * O'};
          for (var k = 0; k < O; k++) { d += result[zr + k] * f32(W[pb + oWout + j * O + k]); }
        }
        if (t < ${Tr}) { d += gbuf[j]; }
        d = flushTiny(d);
        let a = flushTiny(d * slope(result[sb + sS + t * H + j]));
        abuf[j] = a;
        result[sb + sA + (t - 1) * H + j] = a;
        ${s.omega ? 'red[j] = d * d;' : ''}
      }
      workgroupBarrier();
      for (var i = l; i < H; i += WGS) {
        var g = 0.0;
        for (var j = 0; j < H; j++) { g += abuf[j] * ${wrec}; }
        gbuf[i] = g;
        ${s.omega ? 'result[sb + sG + (t - 1) * H + i] = g;\n        red[WGS + i] = g * g;' : ''}
      }
      workgroupBarrier();
      ${
        s.omega
          ? `if (l == 0) {
        var nd = 0.0;
        var ng = 0.0;
        for (var j = 0; j < H; j++) { nd += red[j]; ng += red[WGS + j]; }
        var sr = 0.0;
        if (nd >= 1e-20) {
          let ratio = ng / nd;
          terms += (ratio - 1.0) * (ratio - 1.0);
          valid += 1.0;
          sr = 4.0 * (ratio - 1.0) / nd;
        }
        result[sb + sSR + t - 1] = sr;
      }
      workgroupBarrier();`
          : ''
      }
    }
    storageBarrier();

    // this sequence's share of every gradient, summed over its ${Tr} steps
    let alpha = ${runColumn('alpha')};
    let omegaOn = ${runColumn('omega')} != 0.0;
    for (var e = l; e < ${L.P + (s.omega ? H * H : 0)}; e += WGS) {
      var acc = 0.0;
      if (e < oWrec) {
        let i = e / H;
        let j = e % H;
        for (var t = 0; t < ${Tr}; t++) { acc += f32(u[ub + t * I + i]) * result[sb + sA + t * H + j]; }
      } else if (e < ob) {
        let i = (e - oWrec) / H;
        let j = (e - oWrec) % H;
        for (var t = 0; t < ${Tr}; t++) { acc += result[sb + sS + t * H + i] * result[sb + sA + t * H + j]; }
      } else if (e < oWout) {
        for (var t = 0; t < ${Tr}; t++) { acc += result[sb + sA + t * H + e - ob]; }
      } else if (e < obout) {
        let j = (e - oWout) / O;
        let k = (e - oWout) % O;
        for (var q = 0; q < ${rowsCode}; q++) {
          let t = ${last ? lastStep : 'q'};
          acc += result[sb + sS + (t + 1) * H + j] * result[sb + sDZ + q * O + k];
        }
      } else if (e < P) {
        for (var q = 0; q < ${rowsCode}; q++) { acc += result[sb + sDZ + q * O + e - obout]; }
      } else if (omegaOn) {
        // Ω's part of ∂W_rec before its normalisation: α Σ_t s_t g_t[i] a_t[j]
        let i = (e - P) / H;
        let j = (e - P) % H;
        for (var t = 0; t < ${Tr}; t++) {
          acc += alpha * result[sb + sSR + t] * result[sb + sG + t * H + i] * result[sb + sA + t * H + j];
        }
      }
      result[sb + sPART + e] = acc;
    }
    red[l] = lossPart;
    reduceSum(l);
    if (l == 0) {
      result[sb + sSC] = red[0];
      result[sb + sSC + 1] = terms;
      result[sb + sSC + 2] = valid;
      result[sb + sSC + 3] = 0.0;
    }
  }`;
  const inputs = ['W', 'u', 'y', 'mask', 'runs', ...(mixed ? ['shapes'] : [])];
  return bakedProgram(key, inputs, R * B * X.Q, [B, R, 1], wgs, code);
}
