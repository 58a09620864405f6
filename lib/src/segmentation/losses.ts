// Losses for masks: one logit per pixel against a 0/1 mask. Each loss is computed per image (the mean, or
// one number, over its pixels), then averaged over the images; `{ reduction: "none" }` returns the
// per-image values [N] instead (for finding the worst images).
import { tf } from "../tf";
import { checkBinary } from "../checks";

/** How a mask loss or metric combines the batch's images. */
export interface ReductionOption {
  /** "mean" (default): one number for the batch; "none": one number per image, [N]. */
  reduction?: "mean" | "none";
}

/**
 * Checks logits against masks as the other binary losses do (float logits, 0/1 targets, one per logit), and
 * that both are batches of the same number of images ([N, h, w, 1] against [N, h, w] is fine). Returns
 * both as [N, pixels].
 */
export function imageRows(fn: string, logits: tf.Tensor, targets: tf.Tensor): [tf.Tensor2D, tf.Tensor2D] {
  checkBinary(fn, logits, targets);
  if (logits.rank < 2 || targets.rank < 2 || logits.shape[0] !== targets.shape[0]) {
    throw new Error(`${fn}: logits [${logits.shape}] and masks [${targets.shape}] must be batches of the same images, ` +
      "[N, height, width, 1] or [N, height, width]. Crop padded predictions to the masks' size first (dls.crop).");
  }
  const n = logits.shape[0]!;
  return [logits.reshape([n, -1]) as tf.Tensor2D, tf.cast(targets, "float32").reshape([n, -1]) as tf.Tensor2D];
}

function reduce(perImage: tf.Tensor1D, opts: ReductionOption): tf.Tensor {
  return opts.reduction === "none" ? perImage : tf.mean(perImage);
}

/**
 * Binary cross-entropy on logits, pixel by pixel: softplus(x) - x·y (= -[y log σ(x) + (1-y) log(1-σ(x))],
 * stable for any x), averaged over each image's pixels, then over the images.
 */
export function pixelBCE(logits: tf.Tensor, targets: tf.Tensor, opts: ReductionOption = {}): tf.Scalar {
  return tf.tidy(() => {
    const [x, y] = imageRows("pixelBCE", logits, targets);
    return reduce(tf.mean(tf.sub(tf.softplus(x), tf.mul(x, y)), 1) as tf.Tensor1D, opts) as tf.Scalar;
  });
}

/**
 * Soft Dice loss: 1 - (2·Σ p·y + 1) / (Σ p + Σ y + 1) per image, with p = σ(logits). The 1s keep it defined
 * for an image without salt: predicting none there costs 0, predicting salt costs up to 1.
 */
export function softDiceLoss(logits: tf.Tensor, targets: tf.Tensor, opts: ReductionOption = {}): tf.Scalar {
  return tf.tidy(() => {
    const [x, y] = imageRows("softDiceLoss", logits, targets);
    const p = tf.sigmoid(x);
    const overlap = tf.sum(tf.mul(p, y), 1), sizes = tf.add(tf.sum(p, 1), tf.sum(y, 1));
    return reduce(tf.sub(1, tf.div(tf.add(tf.mul(overlap, 2), 1), tf.add(sizes, 1))) as tf.Tensor1D, opts) as tf.Scalar;
  });
}

// Float32 bits of a number, to order numbers by integer comparison (see sortKey).
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);

/** An unsigned integer whose order is the order of the float32 value v: flip all bits of negatives, the sign bit of others. */
function sortKey(v: number): number {
  f32[0] = v;
  const bits = u32[0]!;
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/**
 * For each image (a row of hinge errors with its 0/1 labels): the gradient of the Lovász extension of the
 * Jaccard loss at the errors sorted largest first, J(k) - J(k-1), where J(k) is 1 - IoU when the k pixels with
 * the largest errors are predicted salt (Berman et al. 2018), put back at each pixel's own place. Computed on
 * the host: sorting is what the loss needs, and a sort is no differentiable op.
 */
function lovaszWeights(errors: ArrayLike<number>, labels: ArrayLike<number>, n: number, pixels: number): Float32Array {
  const weights = new Float32Array(n * pixels);
  const keys = new Float64Array(pixels);
  for (let r = 0; r < n; r++) {
    const row = r * pixels;
    let total = 0;
    for (let i = 0; i < pixels; i++) total += labels[row + i]!;
    // One native numeric sort of (order key of -error) * 2^15 + index: largest error first, ties by index.
    for (let i = 0; i < pixels; i++) keys[i] = sortKey(-errors[row + i]!) * 32768 + i;
    keys.sort();
    let salt = 0, other = 0, previous = 0;
    for (let k = 0; k < pixels; k++) {
      const i = keys[k]! % 32768;
      if (labels[row + i]) salt++;
      else other++;
      const jaccard = 1 - (total - salt) / (total + other);
      weights[row + i] = jaccard - previous;
      previous = jaccard;
    }
  }
  return weights;
}

/**
 * The Lovász hinge loss (Berman, Rannen Triki and Blaschko, 2018): a smooth surrogate of 1 - IoU, computed per
 * image from the hinge errors 1 - x·(2y - 1), sorted, weighted by the Jaccard loss's gradient, and averaged over
 * the images. It optimises the IoU the competition scores. The weights depend only on the errors' order, so they
 * are held fixed and the gradient flows through the errors, as in the reference implementation.
 */
export function lovaszHingeLoss(logits: tf.Tensor, targets: tf.Tensor, opts: ReductionOption = {}): tf.Scalar {
  return tf.tidy(() => {
    const [x, y] = imageRows("lovaszHingeLoss", logits, targets);
    const [n, pixels] = x.shape;
    if (pixels > 32768) throw new Error(`lovaszHingeLoss takes images of at most 32768 pixels; got [${logits.shape}].`);
    const errors = tf.sub(1, tf.mul(x, tf.sub(tf.mul(y, 2), 1)));
    const weights = tf.tensor2d(lovaszWeights(errors.dataSync(), y.dataSync(), n, pixels), [n, pixels]);
    return reduce(tf.sum(tf.mul(tf.relu(errors), weights), 1) as tf.Tensor1D, opts) as tf.Scalar;
  });
}
