// Metrics for masks, on logits (salt where the logit is above 0, i.e. the probability above 0.5) against 0/1
// masks: the foreground Dice and IoU, and the TGS competition's score.
import { tf } from "../tf";
import { imageRows, type ReductionOption } from "./losses";

/** The IoU thresholds of the TGS salt score: 0.50, 0.55, ..., 0.95. */
export const SALT_THRESHOLDS = Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i);

/** Per image (rows of [N, pixels]): the predicted salt (0/1) and the overlap and union with the truth. */
function overlaps(fn: string, logits: tf.Tensor, targets: tf.Tensor) {
  const [x, y] = imageRows(fn, logits, targets);
  const p = tf.cast(tf.greater(x, 0), "float32");
  const inter = tf.sum(tf.mul(p, y), 1), predicted = tf.sum(p, 1), actual = tf.sum(y, 1);
  return { inter, predicted, actual, union: tf.sub(tf.add(predicted, actual), inter) };
}

/** a / b, and 1 where b is 0 (nothing predicted and nothing there: a perfect answer). */
function ratioOrOne(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const safe = tf.maximum(b, 1);
  return tf.where(tf.greater(b, 0), tf.div(a, safe), tf.onesLike(a));
}

/**
 * Foreground Dice, 2|P∩T| / (|P| + |T|), over all the pixels of the batch together (fastai's `Dice` pools the
 * whole set the same way); 1 when neither prediction nor truth has salt. `{ reduction: "none" }`: per image.
 */
export function dice(logits: tf.Tensor, targets: tf.Tensor, opts: ReductionOption = {}): tf.Scalar {
  return tf.tidy(() => {
    const { inter, predicted, actual } = overlaps("dice", logits, targets);
    if (opts.reduction === "none") return ratioOrOne(tf.mul(inter, 2), tf.add(predicted, actual)) as tf.Scalar;
    return ratioOrOne(tf.mul(tf.sum(inter), 2), tf.add(tf.sum(predicted), tf.sum(actual))) as tf.Scalar;
  });
}

/**
 * Foreground IoU (Jaccard), |P∩T| / |P∪T|, over all the pixels of the batch together; 1 when neither has salt.
 * `{ reduction: "none" }`: per image.
 */
export function iou(logits: tf.Tensor, targets: tf.Tensor, opts: ReductionOption = {}): tf.Scalar {
  return tf.tidy(() => {
    const { inter, union } = overlaps("iou", logits, targets);
    if (opts.reduction === "none") return ratioOrOne(inter, union) as tf.Scalar;
    return ratioOrOne(tf.sum(inter), tf.sum(union)) as tf.Scalar;
  });
}

/**
 * The TGS salt competition's score: per image, the fraction of the IoU thresholds 0.50, 0.55, ..., 0.95 that the
 * prediction's IoU with the truth exceeds; averaged over the images. An image without salt scores 1 when
 * nothing is predicted and 0 otherwise; salt predicted as none scores 0. `{ reduction: "none" }`: per image.
 */
export function saltScore(logits: tf.Tensor, targets: tf.Tensor, opts: ReductionOption = {}): tf.Scalar {
  return tf.tidy(() => {
    const { inter, union } = overlaps("saltScore", logits, targets);
    // IoU > k/20 as 20·|P∩T| > k·|P∪T|: whole numbers, exact in float32, so no threshold is missed by rounding.
    const k = tf.tensor2d(SALT_THRESHOLDS.map((t) => Math.round(t * 20)), [1, SALT_THRESHOLDS.length]);
    const passed = tf.greater(tf.expandDims(tf.mul(inter, 20), 1), tf.mul(tf.expandDims(union, 1), k));
    const perImage = tf.where(tf.greater(union, 0), tf.mean(tf.cast(passed, "float32"), 1), tf.onesLike(union));
    return (opts.reduction === "none" ? perImage : tf.mean(perImage)) as tf.Scalar;
  });
}

/**
 * The logits with every image whose predicted salt covers fewer than `minPixels` pixels set to "no salt" (-10
 * everywhere). An image without salt scores 0 for a single predicted pixel, so small, scattered predictions
 * cost more than they can earn; dropping them is a common last step in the competition. The caller owns the
 * result.
 */
export function dropSmallMasks(logits: tf.Tensor, minPixels: number): tf.Tensor {
  return tf.tidy(() => {
    const n = logits.shape[0]!;
    const area = tf.sum(tf.cast(tf.greater(logits.reshape([n, -1]), 0), "float32"), 1);
    const keep = tf.greaterEqual(area, minPixels).reshape([n, ...logits.shape.slice(1).map(() => 1)]);
    return tf.where(tf.broadcastTo(keep, logits.shape), logits, tf.fill(logits.shape, -10));
  });
}
