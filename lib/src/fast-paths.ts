// The one door through which a faster equivalent may replace a whole function of the library.
//
// Layers, losses and optimizers are written as plain TensorFlow.js ops, and most speed-ups sit behind
// those ops as kernels (see engine/). A few functions are faster only as a whole: a loss and its
// gradient as one kernel instead of a dozen small ones, or conv2d and its bias in one pass. For those,
// the function first asks its entry here; an entry returns the same values as the plain formula, or
// undefined where it does not apply (another backend, another dtype), and the formula runs as written.
// Entries are filled in by initBackend (engine/install.ts); with none, everything runs as written.
import type { tf } from "./tf";

/** The functions that may be replaced whole; each entry returns undefined where it does not apply. */
export interface FastPaths {
  /** mnistLoss(logits, targets) for logits and targets of the same shape. */
  mnistLoss?(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar | undefined;
  /** crossEntropy(logits [N, C], class indices [N]). */
  crossEntropy?(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar | undefined;
  /** x·weight + bias for x [N, in], weight [in, out], bias [out] (Linear's forward pass); relu(x·weight + bias) with `relu`. */
  linear?(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, relu?: boolean): tf.Tensor | undefined;
  /** conv2d(x, filter, stride, pad) + bias, NHWC; relu of that with `relu`. */
  conv2dWithBias?(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, stride: number, pad: "same" | "valid", relu?: boolean): tf.Tensor4D | undefined;
  /** BatchNorm's training-mode formula (channels last), with its gradient; hands the batch's mean and biased variance to onStats. */
  batchNorm?(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number, onStats: (mean: tf.Tensor, variance: tf.Tensor) => void): tf.Tensor | undefined;
}

/** The entries in force (none until `initBackend` fills them in). */
export const fastPaths: FastPaths = {};
