/** Copies out of the packed buffers. */
import { type FusedWebGPUProgram, flat } from './common.js';

/** Copies out of a packed buffer: mode 0 a time-major [T][B][H] block (at offset) to [B][T][H]; mode 1 a plain range. */
export function copyProgram(outputShape: number[]): FusedWebGPUProgram {
  return flat(
    'rnn_copy',
    ['src'],
    outputShape,
    `
  fn main(index : i32) {
    if (index >= uniforms.size) { return; }
    if (uniforms.mode == 1) {
      result[index] = f32(src[uniforms.offset + index]);
      return;
    }
    let B = uniforms.B; let T = uniforms.T; let H = uniforms.H;
    let b = index / (T * H);
    let t = (index / H) % T;
    let j = index % H;
    result[index] = f32(src[uniforms.offset + t * B * H + b * H + j]);
  }`,
  );
}
