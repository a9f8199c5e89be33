// Packed, register-blocked GEMM: a 4x8 micro-kernel (8 f32x4 accumulators) over a packed panel of
// B ([K][8] contiguous) and a packed panel of A ([K][4] contiguous, read as broadcasts). Packing B
// matters: unpacked rows a few KB apart fall into the same L1 sets and thrash. Packing A lets the
// micro-kernel walk ONE pointer with the four rows at immediate offsets: four unpacked row
// pointers cost four more additions per k, and the loop then issued too many instructions to
// keep the two FMA ports busy (55 against 62 GFLOP/s on the recurrence shapes, 97% of the peak).
// All pointers are byte addresses; leading dimensions (ld*) are in floats. N and K are always
// multiples of 4 (callers pad to a multiple of 4).
import { madd } from './simd';

/** Rows of the A operand kept in L2 per pass of the transposed-A product. */
const KC: i32 = 256;
/** Columns of the transposed A packed per slab: the slab (KC x MC floats, 64 KB) stays in L2 close to L1. */
const MC: i32 = 64;
/** Rows of A packed per block by gemmNN. */
const MB: i32 = 64;

/** Floats needed to pack a K x N operand into panels of 8 columns. */
export function packedSize(K: i32, N: i32): i32 {
  return K * (((N + 7) >> 3) << 3);
}

/** Packs B [K, N] (row stride ldb) into panels [ceil(N/8)][K][8]; columns past N are zero. */
export function packB(src: usize, ldb: i32, K: i32, N: i32, dst: usize): void {
  const zero = f32x4.splat(0);
  for (let p = 0; p < N; p += 8) {
    const wide = p + 8 <= N;
    let s = src + ((<usize>p) << 2);
    for (let k = 0; k < K; k++) {
      v128.store(dst, v128.load(s));
      v128.store(dst, wide ? v128.load(s, 16) : zero, 16);
      s += (<usize>ldb) << 2;
      dst += 32;
    }
  }
}

/** Packs the transpose of src [N, K] (row stride lds) as B = srcᵀ [K, N], panels of 8 columns. */
export function packBT(src: usize, lds: i32, K: i32, N: i32, dst: usize): void {
  for (let p = 0; p < N; p += 8) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < 8; j++) {
        const n = p + j;
        const v: f32 = n < N ? load<f32>(src + ((<usize>n * <usize>lds + <usize>k) << 2)) : 0;
        store<f32>(dst + ((<usize>j) << 2), v);
      }
      dst += 32;
    }
  }
}

/**
 * Packs the transpose of A [K, M] (row stride lda, M a multiple of 4) into panels [M/4][K][4];
 * when src2 is not 0 the packed operand is src + src2 (two operands of one product, summed).
 */
function packAT(src: usize, src2: usize, lda: i32, K: i32, M: i32, dst: usize): void {
  const row = (<usize>lda) << 2;
  for (let q = 0; q < M; q += 4) {
    const o = (<usize>q) << 2;
    let s = src + o;
    if (src2) {
      let s2 = src2 + o;
      for (let k = 0; k < K; k++) {
        v128.store(dst, f32x4.add(v128.load(s), v128.load(s2)));
        s += row;
        s2 += row;
        dst += 16;
      }
    } else {
      for (let k = 0; k < K; k++) {
        v128.store(dst, v128.load(s));
        s += row;
        dst += 16;
      }
    }
  }
}

function storeRow(c: usize, lo: v128, hi: v128, wide: bool, acc: bool): void {
  if (acc) {
    lo = f32x4.add(lo, v128.load(c));
    if (wide) hi = f32x4.add(hi, v128.load(c, 16));
  }
  v128.store(c, lo);
  if (wide) v128.store(c, hi, 16);
}

/**
 * C[rows, 8 or 4] (+)= Apanel[K, 4]ᵀ-as-rows · Bpanel[K, 8]: the panel holds, per k, the four
 * rows' values side by side, so one pointer walks it with the rows at offsets 0, 4, 8, 12. Rows
 * past `rows` are computed from valid memory and dropped.
 */
function micro(ap: usize, bp: usize, K: i32, c: usize, ldc: usize, rows: i32, wide: bool, acc: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let x = v128.load32_splat(ap);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(ap, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(ap, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(ap, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    ap += 16;
    bp += 32;
  }
  storeRow(c, c00, c01, wide, acc);
  if (rows > 1) storeRow(c + ldc, c10, c11, wide, acc);
  if (rows > 2) storeRow(c + 2 * ldc, c20, c21, wide, acc);
  if (rows > 3) storeRow(c + 3 * ldc, c30, c31, wide, acc);
}

/**
 * Packs rows of A [M, K] (row stride lda, K a multiple of 4) into panels [ceil(M/4)][K][4], four
 * rows interleaved (a 4x4 transpose per step); rows past M repeat row M - 1.
 */
function packA(src: usize, lda: i32, M: i32, K: i32, dst: usize): void {
  const row = (<usize>lda) << 2;
  for (let m = 0; m < M; m += 4) {
    const r0 = src + <usize>m * row;
    const r1 = m + 1 < M ? r0 + row : r0;
    const r2 = m + 2 < M ? r0 + 2 * row : r0;
    const r3 = m + 3 < M ? r0 + 3 * row : r0;
    for (let k = 0; k < K; k += 4) {
      const o = (<usize>k) << 2;
      const a = v128.load(r0 + o);
      const b = v128.load(r1 + o);
      const c = v128.load(r2 + o);
      const d = v128.load(r3 + o);
      const ab0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
      const ab1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
      const cd0 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
      const cd1 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
      v128.store(dst, v128.shuffle<f32>(ab0, cd0, 0, 1, 4, 5));
      v128.store(dst, v128.shuffle<f32>(ab0, cd0, 2, 3, 6, 7), 16);
      v128.store(dst, v128.shuffle<f32>(ab1, cd1, 0, 1, 4, 5), 32);
      v128.store(dst, v128.shuffle<f32>(ab1, cd1, 2, 3, 6, 7), 48);
      dst += 64;
    }
  }
}

/** Scratch floats gemmNN needs to pack A (blocks of MB rows of K floats). */
export function gemmNNScratch(K: i32): i32 {
  return MB * (((K + 3) >> 2) << 2);
}

/**
 * C[M, N] (+)= A[M, K] · B with B packed by packB/packBT (K rows). A is packed MB rows at a time
 * into `scratch` (gemmNNScratch(K) floats); per block, panel-outer order keeps one packed panel of
 * B (K x 8 floats) in L1 while the block's rows stream past it.
 */
export function gemmNN(
  A: usize,
  lda: i32,
  M: i32,
  K: i32,
  Bp: usize,
  N: i32,
  C: usize,
  ldc: i32,
  acc: bool,
  scratch: usize,
): void {
  const rowA = (<usize>lda) << 2;
  const rowC = (<usize>ldc) << 2;
  for (let m0 = 0; m0 < M; m0 += MB) {
    const mb = min(MB, M - m0);
    packA(A + <usize>m0 * rowA, lda, mb, K, scratch);
    for (let p = 0; p < N; p += 8) {
      const bp = Bp + ((<usize>p * <usize>K) << 2);
      const wide = p + 8 <= N;
      const cp = C + ((<usize>p) << 2) + <usize>m0 * rowC;
      for (let m = 0; m < mb; m += 4) {
        const ap = scratch + ((<usize>m * <usize>K) << 2);
        micro(ap, bp, K, cp + <usize>m * rowC, rowC, min(4, mb - m), wide, acc);
      }
    }
  }
}

/** Scratch floats gemmTN needs for its packed A and B blocks. */
export function gemmTNScratch(M: i32, N: i32): i32 {
  return KC * min(MC, ((M + 3) >> 2) << 2) + KC * (((N + 7) >> 3) << 3);
}

/**
 * C[M, N] (+)= (A + A2)ᵀ B with A, A2 [K, M] (row stride lda, M a multiple of 4; A2 = 0: none)
 * and B [K, N] (row stride ldb):
 * the weight-gradient products, batched over every time step (K = T·B). K is cut into blocks of
 * KC rows and A's columns into slabs of MC; each block of B and slab of A is packed (scratch from
 * gemmTNScratch) so both stay in cache.
 */
export function gemmTN(
  A: usize,
  A2: usize,
  lda: i32,
  M: i32,
  K: i32,
  B: usize,
  ldb: i32,
  N: i32,
  C: usize,
  ldc: i32,
  acc: bool,
  scratch: usize,
): void {
  const rowC = (<usize>ldc) << 2;
  const bScratch = scratch + ((<usize>KC * <usize>min(MC, ((M + 3) >> 2) << 2)) << 2);
  if (K === 0 && !acc) {
    for (let m = 0; m < M; m++) memory.fill(C + <usize>m * rowC, 0, (<usize>N) << 2);
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const aOff = (<usize>k0 * <usize>lda) << 2;
    packB(B + ((<usize>k0 * <usize>ldb) << 2), ldb, kc, N, bScratch);
    const accumulate = acc || k0 > 0;
    for (let m0 = 0; m0 < M; m0 += MC) {
      const mc = min(MC, M - m0);
      const o = aOff + ((<usize>m0) << 2);
      packAT(A + o, A2 ? A2 + o : 0, lda, kc, mc, scratch);
      for (let p = 0; p < N; p += 8) {
        const bp = bScratch + ((<usize>p * <usize>kc) << 2);
        const wide = p + 8 <= N;
        const cp = C + ((<usize>p) << 2) + <usize>m0 * rowC;
        for (let m = 0; m < mc; m += 4) {
          micro(
            scratch + ((<usize>m * <usize>kc) << 2),
            bp,
            kc,
            cp + <usize>m * rowC,
            rowC,
            4,
            wide,
            accumulate,
          );
        }
      }
    }
  }
}
