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
