// SIMD helpers shared by every kernel. The same source builds twice: with `--enable relaxed-simd`
// the multiply-add is one fused instruction (f32x4.relaxed_madd), otherwise a mul then an add.

/** a * b + c, lane-wise. */
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

export function splat(x: f32): v128 {
  return f32x4.splat(x);
}

/** Sum of the four lanes. */
export function hsum(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) +
    f32x4.extract_lane(v, 1) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3))
  );
}

/**
 * tanh as a rational function (odd degree-13 numerator over even degree-6 denominator, the
 * coefficients Eigen uses for float), clamped where float32 tanh is ±1 to within 3e-7.
 * Absolute error about 2 ulp inside the clamp; |x| < 4e-4 returns x itself.
 */
export function tanh4(x: v128): v128 {
  const c = splat(7.905311107635498);
  const xc = f32x4.min(f32x4.max(x, f32x4.neg(c)), c);
  const x2 = f32x4.mul(xc, xc);
  let p = splat(-2.76076847742355e-16);
  p = madd(x2, p, splat(2.00018790482477e-13));
  p = madd(x2, p, splat(-8.60467152213735e-11));
  p = madd(x2, p, splat(5.12229709037114e-8));
  p = madd(x2, p, splat(1.48572235717979e-5));
  p = madd(x2, p, splat(6.37261928875436e-4));
  p = madd(x2, p, splat(4.89352455891786e-3));
  p = f32x4.mul(xc, p);
  let q = splat(1.19825839466702e-6);
  q = madd(x2, q, splat(1.18534705686654e-4));
  q = madd(x2, q, splat(2.268434632439e-3));
  q = madd(x2, q, splat(4.89352518554385e-3));
  const r = f32x4.div(p, q);
  const tiny = f32x4.lt(f32x4.abs(x), splat(0.0004));
  return v128.bitselect(x, r, tiny);
}

/** The logistic sigmoid through tanh: σ(x) = (1 + tanh(x/2)) / 2. */
export function sigmoid4(x: v128): v128 {
  const half = splat(0.5);
  return madd(tanh4(f32x4.mul(x, half)), half, half);
}

/**
 * e^x, lane-wise (Cephes' expf: x = n ln2 + r, a degree-5 polynomial in r, then 2^n from the
 * exponent bits). Relative error about 1e-7; x is clamped to [-87.3, 88.3].
 */
export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, splat(-87.3)), splat(88.3));
  const n = f32x4.floor(madd(x, splat(<f32>Math.LOG2E), splat(0.5)));
  let r = madd(n, splat(-0.693359375), x);
  r = madd(n, splat(2.1219444e-4), r);
  let y = splat(1.98756915e-4);
  y = madd(y, r, splat(1.3981999507e-3));
  y = madd(y, r, splat(8.3334519073e-3));
  y = madd(y, r, splat(4.1665795894e-2));
  y = madd(y, r, splat(1.6666665459e-1));
  y = madd(y, r, splat(5.0000001201e-1));
  y = madd(y, f32x4.mul(r, r), f32x4.add(r, splat(1)));
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2);
}

/**
 * log(1 + e) for e in [0, 1], lane-wise: 2·atanh(s) with s = e / (2 + e) ≤ 1/3, seven terms of
 * the odd series (truncation below 2e-8 relative).
 */
export function log1pUnit4(e: v128): v128 {
  const s = f32x4.div(e, f32x4.add(e, splat(2)));
  const s2 = f32x4.mul(s, s);
  let p = splat(1.0 / 13.0);
  p = madd(p, s2, splat(1.0 / 11.0));
  p = madd(p, s2, splat(1.0 / 9.0));
  p = madd(p, s2, splat(1.0 / 7.0));
  p = madd(p, s2, splat(1.0 / 5.0));
  p = madd(p, s2, splat(1.0 / 3.0));
  p = madd(p, s2, splat(1));
  return f32x4.mul(f32x4.add(s, s), p);
}

/**
 * Magnitudes below which error signals are set to 0. WebAssembly has no flush-to-zero mode, and
 * on x86 every operation on a subnormal float costs a microcode assist (about 100x): vanishing
 * gradients (the paper's subject) drift through the subnormal range and made a T = 200 pass 20x
 * slower. 1e-24 keeps every product with a weight or a state far above the subnormal range, and is
 * 17 orders of magnitude below float32's resolution of any gradient that matters.
 */
export const TINY: f32 = 1e-24;

/** v with lanes of magnitude below TINY set to 0 (NaN and ±Inf pass unchanged). */
export function flushTiny(v: v128): v128 {
  return v128.andnot(v, f32x4.lt(f32x4.abs(v), splat(TINY)));
}

/** Σ of squares of 4 floats, in float64 (squares of error signals are often below float32's range). */
export function squares64(v: v128, acc: v128): v128 {
  const lo = f64x2.promote_low_f32x4(v);
  const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f64x2.add(acc, f64x2.add(f64x2.mul(lo, lo), f64x2.mul(hi, hi)));
}
