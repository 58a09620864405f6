// What the losses and metrics check about their inputs, so that a wrong label or shape gives an error that
// names the function, the shapes and the offending value instead of a plausible number. Shapes and dtypes
// cost nothing. Values (label ranges, finite targets, probabilities) need a read from the device: called
// by hand, a loss reads them once per targets tensor (a metric given the batch a loss has checked reads
// nothing); in a fit, the Learner lets them run on its first batches only, since later batches come from
// the same loaders and each read stalls a GPU.
import { tf } from "./tf";

const checked = new WeakMap<tf.Tensor, Set<string>>();
let valueChecks = true;

/**
 * Turns the checks of values on or off (shapes and dtypes are always checked) and returns the previous
 * setting, to put back afterwards. The Learner turns them off after the first batch of a fit; a loop of
 * your own can do the same, since each check reads values back from the backend:
 * `const before = setValueChecks(false); ... ; setValueChecks(before)`.
 */
export function setValueChecks(on: boolean): boolean {
  const before = valueChecks;
  valueChecks = on;
  return before;
}

function shapes(preds: tf.Tensor, targets: tf.Tensor, predName = "predictions"): string {
  return `(${predName} [${preds.shape}], targets [${targets.shape}])`;
}

/** Runs `check` on `t`'s values unless it passed the same check before (tensors cannot change; variables can). */
function once(t: tf.Tensor, key: string, check: (values: ArrayLike<number>) => void): void {
  if (!valueChecks) return;
  if (t instanceof tf.Variable) return check(t.dataSync());
  const done = checked.get(t);
  if (done?.has(key)) return;
  check(t.dataSync());
  if (done) done.add(key);
  else checked.set(t, new Set([key]));
}

/** Where in a tensor of `shape` flat position `i` lies, e.g. [5, 0]. */
function position(shape: number[], i: number): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(i % shape[d]);
    i = Math.floor(i / shape[d]);
  }
  return `[${idx}]`;
}

function checkNumeric(fn: string, what: string, t: tf.Tensor, preds: tf.Tensor, targets: tf.Tensor, allowed: tf.DataType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new Error(`${fn}: ${what} must be ${allowed.join(" or ")}; got ${t.dtype} ${shapes(preds, targets)}.`);
  }
}

/** Predictions and targets with the same number of values, float predictions, numeric finite targets. */
export function checkRegression(fn: string, preds: tf.Tensor, targets: tf.Tensor): void {
  checkNumeric(fn, "predictions", preds, preds, targets, ["float32", "int32"]);
  checkNumeric(fn, "targets", targets, preds, targets, ["float32", "int32", "bool"]);
  checkSameSize(fn, preds, targets);
  once(targets, "finite", (v) => {
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) {
        throw new Error(`${fn}: the targets must be finite numbers; found ${v[i]} at ${position(targets.shape, i)} ${shapes(preds, targets)}.`);
      }
    }
  });
}

export function checkSameSize(fn: string, preds: tf.Tensor, targets: tf.Tensor): void {
  if (preds.size !== targets.size) {
    throw new Error(`${fn}: predictions [${preds.shape}] and targets [${targets.shape}] hold different numbers of ` +
      `values (${preds.size} and ${targets.size}); give one target per prediction.`);
  }
}

/** For the binary losses and metrics: one 0/1 target per float prediction. */
export function checkBinary(fn: string, preds: tf.Tensor, targets: tf.Tensor, predName = "logits"): void {
  checkNumeric(fn, predName, preds, preds, targets, ["float32"]);
  checkNumeric(fn, "targets", targets, preds, targets, ["float32", "int32", "bool"]);
  checkSameSize(fn, preds, targets);
  once(targets, "binary", (v) => {
    for (let i = 0; i < v.length; i++) {
      if (v[i] !== 0 && v[i] !== 1) {
        throw new Error(`${fn}: the targets must be 0 or 1 (is it the class or not); found ${v[i]} at ` +
          `${position(targets.shape, i)} ${shapes(preds, targets, predName)}. Make them from class labels with ` +
          "e.g. tf.cast(tf.equal(labels, 3), \"float32\") (1 for a 3, 0 otherwise).");
      }
    }
  });
}

/** For mnistLossOnProbabilities: predictions in [0, 1] (read each call: they change every batch). */
export function checkProbabilities(fn: string, preds: tf.Tensor, targets: tf.Tensor): void {
  if (!valueChecks) return;
  const v = preds.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (!(v[i] >= 0 && v[i] <= 1)) {
      throw new Error(`${fn}: the predictions must be probabilities in [0, 1]; found ${v[i]} at ${position(preds.shape, i)} ` +
        `${shapes(preds, targets)}. Apply sigmoid to logits first, or use mnistLoss, which does.`);
    }
  }
}

/** For multi-class losses and metrics: logits [N, C] and N integer class indices in 0..C-1. */
export function checkClasses(fn: string, logits: tf.Tensor, targets: tf.Tensor): void {
  const s = () => shapes(logits, targets, "logits"); // made for a message only: this runs every batch
  if (logits.rank !== 2 || logits.shape[1]! < 2) {
    throw new Error(`${fn}: logits must have shape [N, classes], one row of scores per item (2 classes or more); got ` +
      `[${logits.shape}] ${s()}.` + (logits.rank === 1 || logits.shape[logits.rank - 1] === 1
      ? " For one output per item, use a binary loss (mnistLoss, binaryCrossEntropy) and metric (batchAccuracy)." : ""));
  }
  checkNumeric(fn, "logits", logits, logits, targets, ["float32"]);
  const [n, classes] = logits.shape as [number, number];
  if (targets.rank === 2 && targets.shape[0] === n && targets.shape[1] === classes && classes > 1) {
    throw new Error(`${fn}: the targets look one-hot ${s()}; give one class index per item instead, shape [${n}], ` +
      "e.g. tf.argMax(targets, 1).");
  }
  if (!(targets.rank === 1 || (targets.rank === 2 && targets.shape[1] === 1)) || targets.shape[0] !== n) {
    throw new Error(`${fn}: the targets must be ${n} class indices, shape [${n}] (or [${n}, 1]), one per row of logits ${s()}.`);
  }
  checkNumeric(fn, "targets", targets, logits, targets, ["int32", "float32"]);
  if (valueChecks) once(targets, `classes<${classes}`, (v) => {
    for (let i = 0; i < v.length; i++) {
      const c = v[i];
      if (!Number.isInteger(c)) {
        throw new Error(`${fn}: the targets must be whole class indices; found ${c} at [${i}] ${s()}.`);
      }
      if (c < 0 || c >= classes) {
        throw new Error(`${fn}: class ${c} at [${i}] is out of range: logits with ${classes} columns take classes 0..${classes - 1} ${s()}.`);
      }
    }
  });
}

let warnedProbabilities = false;

/**
 * Warns once when every row of `logits` lies in [0, 1] and sums to 1: that is a softmax's output, and a
 * loss that applies logSoftmax itself would then learn slowly and report wrong numbers.
 */
export function warnIfProbabilities(fn: string, logits: tf.Tensor): void {
  if (!valueChecks || warnedProbabilities || logits.rank !== 2 || logits.shape[1]! < 2 || logits.shape[0] === 0) return;
  const [n, c] = logits.shape as [number, number];
  const v = logits.dataSync();
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let j = r * c; j < (r + 1) * c; j++) {
      if (!(v[j] >= 0 && v[j] <= 1)) return;
      sum += v[j];
    }
    if (Math.abs(sum - 1) > 1e-4) return;
  }
  warnedProbabilities = true;
  console.warn(`Warning: ${fn} expects logits (the last layer's raw scores) but every row of [${logits.shape}] lies ` +
    `in [0, 1] and sums to 1, as probabilities do. ${fn} applies softmax itself: remove the softmax at the end of ` +
    "the model.");
}

/** For fit and the tools built on it: a whole number of epochs, at least 1. */
export function checkEpochs(fn: string, nEpoch: number): void {
  if (!(Number.isInteger(nEpoch) && nEpoch >= 1)) {
    throw new Error(`${fn}: nEpoch, the number of epochs, must be a whole number of at least 1; got ${nEpoch}.`);
  }
}

/** A learning rate: a positive, finite number. */
export function checkLearningRate(fn: string, lr: number, name = "lr"): void {
  if (!(typeof lr === "number" && lr > 0 && Number.isFinite(lr))) {
    throw new Error(`${fn}: ${name}, the learning rate, must be a positive finite number (such as 0.1, or one lrFind ` +
      `suggests); got ${lr}.`);
  }
}

/** A loss must give one number: says so, naming the loss, when it gives one per item. */
export function checkScalarLoss<T extends tf.Tensor>(lossFunc: { name: string }, loss: T): T & tf.Scalar {
  if (loss.rank !== 0) {
    throw new Error(`The loss function ${lossFunc.name || "(anonymous)"} returned a tensor of shape [${loss.shape}]: ` +
      "a loss must reduce to one number (mean), e.g. tf.mean(...) over the batch's items.");
  }
  return loss as T & tf.Scalar;
}
