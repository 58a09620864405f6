// What the OpenBLAS kernels (blas.ts, blas-conv.ts) share: the CBLAS calling convention and the bias that
// finishes a fused kernel's output (its relu is conv-loops.wat's reluInPlace, in blas-conv.ts).
import { tf } from "../tf";
import { heapView, type WasmBackend } from "./wasm-heap";

export const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

export type Sgemm = (order: number, ta: number, tb: number, m: number, n: number, k: number, alpha: number,
  a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number) => void;

/**
 * Products below this many multiply-adds run on one thread (blas.ts): waking a second one for a 256×784×30
 * product costs more than it saves (measured: a training step of the chapter's simple net is ~25% faster;
 * 36-42% slower epochs with two threads from 4 M, bench/README.md run 9).
 */
export const THREADED_FROM = 16e6;

export const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

let onesBuffer = new Float32Array(0);

/** A vector of at least `m` ones (grown once, reused), for sums and bias rows as products. */
export function ones(m: number): Float32Array {
  if (onesBuffer.length < m) onesBuffer = new Float32Array(m).fill(1);
  return onesBuffer;
}

/**
 * out[m, n] += bias (one row, repeated), as the rank-1 product ones[m, 1]·bias[1, n] added onto out:
 * one pass over the output, instead of a separate Add kernel.
 */
export function addBias(sgemm: Sgemm, backend: WasmBackend, bias: tf.TensorInfo | undefined, out: tf.TensorInfo, m: number, n: number): void {
  if (!bias || m * n === 0) return;
  sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, 1, 1, ones(m), 1, heapView(backend, bias) as Float32Array, n, 1, heapView(backend, out) as Float32Array, n);
}

/** Whether `bias` is one value per output column (shape [n] or [1, n]), the only form the fused kernels take here. */
export const isRowBias = (bias: tf.TensorInfo | undefined, n: number) =>
  !bias || (bias.dtype === "float32" && prod(bias.shape) === n && bias.shape.length <= 2 && bias.shape.at(-1) === n);
