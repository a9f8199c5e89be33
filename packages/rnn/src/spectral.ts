/**
 * Spectral quantities of W_rec (paper section 2): the spectral radius ρ and the largest
 * singular value λ₁. Computed in float64 on the CPU with ml-matrix (a general real matrix
 * needs the nonsymmetric eigenvalue algorithm: Hessenberg reduction + shifted QR).
 */
import { Tensor } from '@tensorflow/tfjs-core';
import { EigenvalueDecomposition, Matrix, SingularValueDecomposition } from 'ml-matrix';

/** A square or rectangular matrix: a rank-2 tensor, rows of numbers, or row-major data with its shape. */
export type MatrixInput = Tensor | number[][] | { values: ArrayLike<number>; shape: readonly number[] };

/** Row-major values and shape of any {@link MatrixInput} (a tensor is read back synchronously). */
export function matrixData(
  m: MatrixInput,
  what = 'matrix',
): { values: ArrayLike<number>; rows: number; cols: number } {
  if (m instanceof Tensor) {
    if (m.rank !== 2) throw new RangeError(`${what} must be rank 2, got shape [${m.shape.join(', ')}]`);
    const [rows, cols] = m.shape as [number, number];
    let values: Float32Array;
    try {
      values = m.dataSync() as Float32Array;
    } catch (err) {
      throw new Error(
        `${what}: cannot read the tensor synchronously on this backend ` +
          `(${(err as Error).message}); pass its values instead, e.g. spectralRadius(await W.array())`,
      );
    }
    return { values, rows, cols };
  }
  if (Array.isArray(m)) {
    const rows = m.length;
    const cols = rows === 0 ? 0 : m[0].length;
    const values = new Float64Array(rows * cols);
    m.forEach((row, i) => {
      if (row.length !== cols) {
        throw new RangeError(`${what}: row ${i} has ${row.length} entries, expected ${cols} like row 0`);
      }
      values.set(row, i * cols);
    });
    return { values, rows, cols };
  }
  const { values, shape } = m;
  if (shape.length !== 2 || shape[0] * shape[1] !== values.length) {
    throw new RangeError(`${what}: shape [${shape.join(', ')}] does not fit ${values.length} values`);
  }
  return { values, rows: shape[0], cols: shape[1] };
}

function toMatrix(m: MatrixInput, what: string): Matrix {
  const { values, rows, cols } = matrixData(m, what);
  if (rows === 0 || cols === 0) throw new RangeError(`${what} is empty (shape [${rows}, ${cols}])`);
  const out = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out.set(i, j, values[i * cols + j]);
  return out;
}

/** ρ(W) = max |eigenvalue| of a square real matrix (complex eigenvalues included). */
export function spectralRadius(w: MatrixInput): number {
  const m = toMatrix(w, 'spectralRadius: W');
  if (!m.isSquare())
    throw new RangeError(`spectralRadius needs a square matrix, got [${m.rows}, ${m.columns}]`);
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: false });
  let rho = 0;
  evd.realEigenvalues.forEach((re, i) => {
    rho = Math.max(rho, Math.hypot(re, evd.imaginaryEigenvalues[i]));
  });
  return rho;
}

/** λ₁ = the largest singular value (the operator 2-norm) of W. */
export function largestSingularValue(w: MatrixInput): number {
  const m = toMatrix(w, 'largestSingularValue: W');
  return new SingularValueDecomposition(m, {
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
    autoTranspose: true,
  }).norm2;
}
