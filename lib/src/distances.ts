// How far apart two images (or batches of images) are: the chapter's pixel-similarity baseline.
import { tf } from "./tf";

/** Mean absolute difference over all elements (L1 norm, averaged). */
export function l1Distance(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))) as tf.Scalar);
}

/** Root of the mean squared difference over all elements (RMSE, the L2 norm averaged). */
export function rmseDistance(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.mean(tf.square(tf.sub(a, b)))) as tf.Scalar);
}

/**
 * Mean absolute difference over the last two axes (height, width). With broadcasting, a batch
 * [N,28,28] against one image [28,28] gives N distances.
 */
export function mnistDistance(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b)), [-2, -1]));
}
