// The plan: a block of i32 fields in linear memory, written by the JavaScript side, that gives the
// shape of one model-and-batch and the byte address of every buffer. Field numbers must match
// src/engines/wasm/plan.ts. Layouts (Hp, Ip, Op = hidden, input, output sizes rounded up to 4):
//   S [T+1][B][Hp] states, S_0 = h0      DELTA, A, G [T][B][Hp]: δ_t, a_t = δ_t ⊙ σ'(h_t), a_t W_recᵀ
//   Z [T or 1][B][Op] head logits, then probabilities, then ∂loss/∂z
export const F_B: i32 = 0;
export const F_T: i32 = 1;
export const F_I: i32 = 2;
export const F_H: i32 = 3;
export const F_O: i32 = 4;
export const F_HP: i32 = 5;
export const F_IP: i32 = 6;
export const F_OP: i32 = 7;
export const F_ACT: i32 = 8; // 0 tanh, 1 sigmoid
export const F_HEAD: i32 = 9; // 0 last-softmax, 1 softmax, 2 last-linear, 3 sigmoid
export const F_SPARSE: i32 = 10; // set by prepareInputs: 1 when the inputs are sparse (one-hot, piano roll)
export const F_OMEGA: i32 = 11; // 0 none, 1 paper, 2 code
export const F_MASK: i32 = 12; // 1 when a mask was given
export const F_COMBINE: i32 = 13; // 1: add α·∂Ω/∂W_rec into dW_rec in the same product (no separate ∂Ω/∂W_rec)
export const F_ALPHA: i32 = 14; // α as f32 bits, used with F_COMBINE
export const F_WIN: i32 = 16; // [Ip][Hp]
export const F_WREC: i32 = 17; // [Hp][Hp]
export const F_BIAS: i32 = 18; // [Hp]
export const F_WOUT: i32 = 19; // [Hp][Op]
export const F_BOUT: i32 = 20; // [Op]
export const F_WRECP: i32 = 21; // W_rec packed (K = Hp)
export const F_WRECTP: i32 = 22; // W_recᵀ packed (K = Hp)
export const F_WOUTP: i32 = 23; // W_out packed (K = Hp)
export const F_WOUTTP: i32 = 24; // W_outᵀ packed (K = Op)
export const F_WINP: i32 = 25; // W_in packed (K = Ip), dense inputs only
export const F_RAWIN: i32 = 26; // inputs as given, [B][T][I]
export const F_U: i32 = 27; // dense inputs, time-major [T][B][Ip]
export const F_IDX: i32 = 28; // sparse inputs: row starts [T·B + 1] into F_COLS / F_VALS (time-major rows)
export const F_TARGETS: i32 = 29; // targets as given (int32 or float32, batch-major)
export const F_MASKP: i32 = 30; // mask as given, [B][T]
export const F_S: i32 = 31;
export const F_Z: i32 = 32;
export const F_DELTA: i32 = 33;
export const F_A: i32 = 34;
export const F_G: i32 = 35;
export const F_DWIN: i32 = 36; // [Ip][Hp]
export const F_DWREC: i32 = 37; // [Hp][Hp]
export const F_DB: i32 = 38; // [Hp]
export const F_DWOUT: i32 = 39; // [Hp][Op]
export const F_DBOUT: i32 = 40; // [Op]
export const F_DOMEGA: i32 = 41; // [Hp][Hp]
export const F_DH0: i32 = 42; // [B][Hp]
export const F_SCRATCH: i32 = 43; // packing scratch (gemmTN blocks, gemmNN rows of A)
export const F_RESULT: i32 = 44; // f64 loss, f64 omega, f64 valid Ω rows
export const F_COLS: i32 = 45; // sparse inputs: column of each non-zero (i32)
export const F_VALS: i32 = 46; // sparse inputs: value of each non-zero (f32)
export const F_NNZMAX: i32 = 47; // capacity of F_COLS / F_VALS; denser inputs take the dense path
export const F_SCRATCH1: i32 = 48; // packing scratch of the second thread

export function field(plan: usize, f: i32): i32 {
  return load<i32>(plan + ((<usize>f) << 2));
}

export function ptr(plan: usize, f: i32): usize {
  return <usize>load<i32>(plan + ((<usize>f) << 2));
}
