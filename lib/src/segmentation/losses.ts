// Losses for masks: one logit per pixel against a 0/1 mask. Each loss is computed per image (the mean, or
// one number, over its pixels), then averaged over the images; `{ reduction: "none" }` returns the
// per-image values [N] instead (for finding the worst images).
import { tf } from "../tf";
import { checkBinary } from "../checks";

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

/**
 * Row by row, the entries of `t` [N, P] at `idx` [N, P]: tf.gather(t, idx, 1, 1), written as one flat gather
 * because the wasm backend's gather gets batchDims wrong (every row read from the first).
 */
function gatherInRows(t: tf.Tensor2D, idx: tf.Tensor2D): tf.Tensor2D {
  const [n, p] = t.shape;
  const rowStarts = tf.range(0, n * p, p, "int32").reshape([n, 1]);
  return tf.gather(t.reshape([-1]), tf.add(idx, rowStarts).reshape([-1])).reshape([n, p]) as tf.Tensor2D;
}

/**
 * For each image (a row of hinge errors, sorted largest first, with their 0/1 labels in the same order): the
 * gradient of the Lovász extension of the Jaccard loss, J(k) - J(k-1) where J(k) is 1 - IoU when the first
 * k pixels are predicted salt (Berman et al. 2018). Back in each pixel's original place.
 */
function lovaszWeights(errors: tf.Tensor2D, labels: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const pixels = errors.shape[1];
    const order = tf.topk(errors, pixels).indices; // descending errors
    const sortedLabels = gatherInRows(labels, order);
    const total = tf.sum(labels, 1, true);
    const intersection = tf.sub(total, tf.cumsum(sortedLabels, 1));
    const union = tf.add(total, tf.cumsum(tf.sub(1, sortedLabels), 1));
    const jaccard = tf.sub(1, tf.div(intersection, union));
    const previous = tf.pad(tf.slice(jaccard, [0, 0], [-1, pixels - 1]), [[0, 0], [1, 0]]);
    const weights = tf.sub(jaccard, previous);
    // Sorting the sorted positions gives the inverse permutation: where each pixel went.
    const back = tf.topk(tf.neg(tf.cast(order, "float32")), pixels).indices;
    return gatherInRows(weights as tf.Tensor2D, back);
  });
}

/**
 * The Lovász hinge loss (Berman, Rannen Triki and Blaschko, 2018): a smooth surrogate of 1 - IoU, computed per
 * image from the hinge errors 1 - x·(2y - 1), sorted, weighted by the Jaccard loss's gradient, and averaged over
 * the images. It optimises the IoU the competition scores. The sort is not differentiated: the gradient flows
 * through the errors with the weights held fixed, as in the reference implementation.
 */
export function lovaszHingeLoss(logits: tf.Tensor, targets: tf.Tensor, opts: ReductionOption = {}): tf.Scalar {
  return tf.tidy(() => {
    const [x, y] = imageRows("lovaszHingeLoss", logits, targets);
    const errors = tf.sub(1, tf.mul(x, tf.sub(tf.mul(y, 2), 1))) as tf.Tensor2D;
    // Ops inside customGrad's forward function are not recorded for gradients, so the sort stays out of them.
    const hinge = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [e, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      const w = lovaszWeights(e, y);
      save([e, w]);
      return {
        value: tf.sum(tf.mul(tf.relu(e), w), 1),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [e_, w_] = saved as [tf.Tensor, tf.Tensor];
          return tf.mul(tf.mul(tf.expandDims(dy, 1), w_), tf.step(e_));
        },
      };
    });
    return reduce(hinge(errors) as tf.Tensor1D, opts) as tf.Scalar;
  });
}
