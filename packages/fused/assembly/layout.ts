// Copies between the tensors' layouts ([B][T][n], dense rows) and the module's padded ones.
import { exp4, sigmoid4, tanh4 } from './simd';

/** dst [rows][ldd] ← src [rows][cols] (dense); padding columns set to 0. */
export function padRows(src: usize, rows: i32, cols: i32, dst: usize, ldd: i32): void {
  for (let r = 0; r < rows; r++) {
    const d = dst + ((<usize>r * <usize>ldd) << 2);
    memory.copy(d, src + ((<usize>r * <usize>cols) << 2), (<usize>cols) << 2);
    if (ldd > cols) memory.fill(d + ((<usize>cols) << 2), 0, (<usize>(ldd - cols)) << 2);
  }
}

/** dst [rows][cols] (dense) ← src [rows][lds]. */
export function unpadRows(src: usize, rows: i32, lds: i32, cols: i32, dst: usize): void {
  for (let r = 0; r < rows; r++) {
    memory.copy(
      dst + ((<usize>r * <usize>cols) << 2),
      src + ((<usize>r * <usize>lds) << 2),
      (<usize>cols) << 2,
    );
  }
}

/** dst [B][T][cols] (dense, batch-major) ← src [T][B][lds] (time-major, padded). */
export function timeToBatch(src: usize, T: i32, B: i32, lds: i32, cols: i32, dst: usize): void {
  const bytes = (<usize>cols) << 2;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      memory.copy(dst + <usize>(b * T + t) * bytes, src + ((<usize>(t * B + b) * <usize>lds) << 2), bytes);
    }
  }
}

/** tanh of n floats (n a multiple of 4), in place: lets the tests measure the rational tanh. */
export function tanhArray(p: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) v128.store(p + ((<usize>i) << 2), tanh4(v128.load(p + ((<usize>i) << 2))));
}

/** The logistic sigmoid of n floats (n a multiple of 4), in place. */
export function sigmoidArray(p: usize, n: i32): void {
  for (let i = 0; i < n; i += 4)
    v128.store(p + ((<usize>i) << 2), sigmoid4(v128.load(p + ((<usize>i) << 2))));
}

/** e^x of n floats (n a multiple of 4), in place: lets the tests measure the SIMD exp. */
export function expArray(p: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) v128.store(p + ((<usize>i) << 2), exp4(v128.load(p + ((<usize>i) << 2))));
}
