// Loss functions of the chapter: the distances used as losses, then the MNIST losses built up step by
// step (probabilities, then logits through sigmoid), and the stable forms a real model trains with.
import { tf } from "./tf";
import { fastPaths } from "./fast-paths";
import { checkBinary, checkClasses, checkProbabilities, checkRegression, warnIfProbabilities } from "./checks";

/**
 * fastai's (and PyTorch's) `reduction`: "mean" (the default) averages the items' losses into the one
 * number SGD needs; "none" returns each item's loss, e.g. `crossEntropy(logits, targets, { reduction: "none" })`.
 */
export interface LossOptions {
  reduction?: "mean" | "none";
}
type Mean = { reduction?: "mean" };
type PerItem = { reduction: "none" };

/** Each item's loss [N] for reduction "none", else their mean. */
function reduce(losses: tf.Tensor, { reduction = "mean" }: LossOptions): tf.Tensor {
  if (reduction === "none") return losses.reshape([-1]);
  if (reduction !== "mean") throw new Error(`reduction must be "mean" or "none"; got ${JSON.stringify(reduction)}.`);
  return tf.mean(losses);
}

/**
 * Brings predictions and targets to the same shape. A model's head gives [N,1] while labels are
 * often [N]; left alone, broadcasting would silently compare every prediction with every target
 * ([N,N]). Same element count (checked before, by checks.ts) -> both flattened.
 */
function aligned(preds: tf.Tensor, targets: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (preds.shape.length === targets.shape.length && preds.shape.every((d, i) => d === targets.shape[i])) {
    return [preds, targets];
  }
  return [preds.reshape([-1]), targets.reshape([-1])];
}

/** Mean absolute error. */
export function l1Loss(preds: tf.Tensor, targets: tf.Tensor, opts?: Mean): tf.Scalar;
export function l1Loss(preds: tf.Tensor, targets: tf.Tensor, opts: PerItem): tf.Tensor1D;
export function l1Loss(preds: tf.Tensor, targets: tf.Tensor, opts: LossOptions = {}): tf.Tensor {
  checkRegression("l1Loss", preds, targets);
  return tf.tidy(() => {
    const [p, t] = aligned(preds, targets);
    return reduce(tf.abs(tf.sub(p, t)), opts);
  });
}

/** Mean squared error. */
export function mseLoss(preds: tf.Tensor, targets: tf.Tensor, opts?: Mean): tf.Scalar;
export function mseLoss(preds: tf.Tensor, targets: tf.Tensor, opts: PerItem): tf.Tensor1D;
export function mseLoss(preds: tf.Tensor, targets: tf.Tensor, opts: LossOptions = {}): tf.Tensor {
  checkRegression("mseLoss", preds, targets);
  return tf.tidy(() => {
    const [p, t] = aligned(preds, targets);
    return reduce(tf.squaredDifference(p, t), opts);
  });
}

/** Root mean squared error: the square root of `mseLoss`, back in the units of the data. */
export function rmseLoss(preds: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  checkRegression("rmseLoss", preds, targets);
  return tf.tidy(() => tf.sqrt(mseLoss(preds, targets)) as tf.Scalar);
}

/**
 * 1 / (1 + e^-x), written out as the chapter defines it; squashes any number into (0, 1). For showing
 * the formula: its gradient turns NaN below x ≈ -88, where e^-x overflows float32, so the losses use
 * tf.sigmoid, as the chapter's mnist_loss uses torch's built-in.
 */
export function sigmoid<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.div(1, tf.add(1, tf.exp(tf.neg(x)))) as T);
}

/**
 * The chapter's first MNIST loss, on predictions already in [0,1]: how far each prediction is from
 * its target (1 - p where the target is 1, p where it is 0), averaged.
 */
export function mnistLossOnProbabilities(preds: tf.Tensor, targets: tf.Tensor, opts?: Mean): tf.Scalar;
export function mnistLossOnProbabilities(preds: tf.Tensor, targets: tf.Tensor, opts: PerItem): tf.Tensor1D;
export function mnistLossOnProbabilities(preds: tf.Tensor, targets: tf.Tensor, opts: LossOptions = {}): tf.Tensor {
  checkBinary("mnistLossOnProbabilities", preds, targets, "predictions");
  checkProbabilities("mnistLossOnProbabilities", preds, targets);
  return tf.tidy(() => {
    const [p, t] = aligned(preds, targets);
    return reduce(distanceFromTargets(p, t), opts);
  });
}

function distanceFromTargets(p: tf.Tensor, t: tf.Tensor): tf.Tensor {
  return tf.where(tf.equal(t, 1), tf.sub(1, p), p);
}

/** The chapter's final MNIST loss: the model gives any number (a logit); sigmoid maps it to [0,1] first. */
export function mnistLoss(logits: tf.Tensor, targets: tf.Tensor, opts?: Mean): tf.Scalar;
export function mnistLoss(logits: tf.Tensor, targets: tf.Tensor, opts: PerItem): tf.Tensor1D;
export function mnistLoss(logits: tf.Tensor, targets: tf.Tensor, opts: LossOptions = {}): tf.Tensor {
  checkBinary("mnistLoss", logits, targets);
  return tf.tidy(() => {
    const [x, t] = aligned(logits, targets);
    const fast = (opts.reduction ?? "mean") === "mean" ? fastPaths.mnistLoss?.(x, t) : undefined;
    return fast ?? reduce(distanceFromTargets(tf.sigmoid(x), t), opts);
  });
}

/**
 * Binary cross-entropy on logits, averaged: -[y log σ(x) + (1-y) log(1-σ(x))], which simplifies to
 * softplus(x) - x·y. softplus(x) = log(1 + e^x) is computed stably by TF.js (about x for large x,
 * e^x for very negative x), so no log of 0 and no overflow; its gradient, σ(x) - y, is exact everywhere.
 */
export function binaryCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, opts?: Mean): tf.Scalar;
export function binaryCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, opts: PerItem): tf.Tensor1D;
export function binaryCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, opts: LossOptions = {}): tf.Tensor {
  checkBinary("binaryCrossEntropy", logits, targets);
  return tf.tidy(() => {
    const [x, y] = aligned(logits, tf.cast(targets, "float32"));
    return reduce(tf.sub(tf.softplus(x), tf.mul(x, y)), opts);
  });
}

/**
 * Softmax cross-entropy for N items over C classes: the mean of -log softmax(logits)[target].
 * logSoftmax subtracts the row maximum before exponentiating, so large logits stay finite.
 * `targets` are class indices (int32, shape [N] or [N,1]).
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, opts?: Mean): tf.Scalar;
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, opts: PerItem): tf.Tensor1D;
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, opts: LossOptions = {}): tf.Tensor {
  checkClasses("crossEntropy", logits, targets);
  warnIfProbabilities("crossEntropy", logits);
  const classes = logits.shape[1]!;
  return tf.tidy(() => {
    const flat = targets.rank === 1 ? targets : targets.reshape([-1]);
    const labels = (flat.dtype === "int32" ? flat : tf.cast(flat, "int32")) as tf.Tensor1D;
    const fast = (opts.reduction ?? "mean") === "mean" ? fastPaths.crossEntropy?.(logits, labels) : undefined;
    if (fast) return fast;
    const onehot = tf.oneHot(labels, classes);
    // Picking each row's target entry as a dot product with its one-hot row keeps it one batched op.
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), onehot), -1);
    return reduce(tf.neg(picked), opts);
  });
}
