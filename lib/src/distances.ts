// How far apart two images (or batches of images) are: the chapter's pixel-similarity baseline.
import { tf } from "./tf";

/** How far apart two images are: the mean absolute difference over all pixels (L1 norm, averaged). `l1Distance(a3, mean3)`. */
export function l1Distance(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))) as tf.Scalar);
}

/** How far apart two images are: the root of the mean squared difference over all pixels (RMSE). `rmseDistance(a3, mean3)`. */
export function rmseDistance(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.mean(tf.square(tf.sub(a, b)))) as tf.Scalar);
}

/**
 * The distance of each image to another: the mean absolute difference over the last two axes (height,
 * width). With broadcasting, a batch [N, 28, 28] against one image [28, 28] gives N distances:
 * `mnistDistance(validThrees, mean3)`.
 */
export function mnistDistance(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b)), [-2, -1]));
}
