// Packed, register-blocked GEMM: a 4x8 micro-kernel (8 f32x4 accumulators) over a packed panel of
// B ([K][8] contiguous) and four rows of A read as broadcasts. Packing B matters: unpacked rows a
// few KB apart fall into the same L1 sets and thrash. All pointers are byte addresses; leading
// dimensions (ld*) are in floats. N is always a multiple of 4 (callers pad to a multiple of 4).
import { madd } from './simd';

/** Rows of the A operand kept in L2 per pass of the transposed-A product. */
const KC: i32 = 256;

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
 * C[rows, 8 or 4] (+)= A[rows, K] · Bpanel[K, 8]. Row i of A is read at a_i + k * sa bytes (sa = 4
 * for a plain row, 16 for a packed panel). Rows past `rows` point at valid memory and are dropped.
 */
function micro(
  a0: usize,
  a1: usize,
  a2: usize,
  a3: usize,
  sa: usize,
  bp: usize,
  K: i32,
  c: usize,
  ldc: usize,
  rows: i32,
  wide: bool,
  acc: bool,
): void {
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
    let x = v128.load32_splat(a0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a1);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a2);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(a3);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    a0 += sa;
    a1 += sa;
    a2 += sa;
    a3 += sa;
    bp += 32;
  }
  storeRow(c, c00, c01, wide, acc);
  if (rows > 1) storeRow(c + ldc, c10, c11, wide, acc);
  if (rows > 2) storeRow(c + 2 * ldc, c20, c21, wide, acc);
  if (rows > 3) storeRow(c + 3 * ldc, c30, c31, wide, acc);
}

/**
 * C[M, N] (+)= A[M, K] · B with B packed by packB/packBT (K rows). Panel-outer order keeps one
 * packed panel (K x 8 floats) in L1 while the rows of A stream past it.
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
): void {
  const rowA = (<usize>lda) << 2;
  const rowC = (<usize>ldc) << 2;
  for (let p = 0; p < N; p += 8) {
    const bp = Bp + ((<usize>p * <usize>K) << 2);
    const wide = p + 8 <= N;
    const cp = C + ((<usize>p) << 2);
    for (let m = 0; m < M; m += 4) {
      const rows = min(4, M - m);
      const a0 = A + <usize>m * rowA;
      const a1 = rows > 1 ? a0 + rowA : a0;
      const a2 = rows > 2 ? a0 + 2 * rowA : a0;
      const a3 = rows > 3 ? a0 + 3 * rowA : a0;
      micro(a0, a1, a2, a3, 4, bp, K, cp + <usize>m * rowC, rowC, rows, wide, acc);
    }
  }
}

/** Scratch floats gemmTN needs for its packed A and B blocks. */
export function gemmTNScratch(M: i32, N: i32): i32 {
  return KC * (((M + 3) >> 2) << 2) + KC * (((N + 7) >> 3) << 3);
}

/**
 * C[M, N] (+)= (A + A2)ᵀ B with A, A2 [K, M] (row stride lda, M a multiple of 4; A2 = 0: none)
 * and B [K, N] (row stride ldb):
 * the weight-gradient products, batched over every time step (K = T·B). K is cut into blocks of
 * KC rows; each block of A and B is packed (scratch from gemmTNScratch) so both stay in cache.
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
  const bScratch = scratch + ((<usize>KC * <usize>(((M + 3) >> 2) << 2)) << 2);
  if (K === 0 && !acc) {
    for (let m = 0; m < M; m++) memory.fill(C + <usize>m * rowC, 0, (<usize>N) << 2);
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const aOff = (<usize>k0 * <usize>lda) << 2;
    packAT(A + aOff, A2 ? A2 + aOff : 0, lda, kc, M, scratch);
    packB(B + ((<usize>k0 * <usize>ldb) << 2), ldb, kc, N, bScratch);
    const accumulate = acc || k0 > 0;
    for (let p = 0; p < N; p += 8) {
      const bp = bScratch + ((<usize>p * <usize>kc) << 2);
      const wide = p + 8 <= N;
      const cp = C + ((<usize>p) << 2);
      for (let m = 0; m < M; m += 4) {
        const ap = scratch + ((<usize>m * <usize>kc) << 2);
        micro(ap, ap + 4, ap + 8, ap + 12, 16, bp, kc, cp + <usize>m * rowC, rowC, 4, wide, accumulate);
      }
    }
  }
}
