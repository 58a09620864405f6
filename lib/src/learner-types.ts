// What a Learner is given: batches, a loss, metrics, an optimizer maker and callbacks.
import type { tf } from "./tf";
import type { Optimizer } from "./optim";
import type { Callback } from "./callbacks/core";

/** A loss: predictions and targets to one number, the mean over the batch's items. */
export type LossFunc = (preds: tf.Tensor, targets: tf.Tensor) => tf.Scalar;
/** A metric: predictions and targets to one number for people; its name heads its column. */
export type Metric = (preds: tf.Tensor, targets: tf.Tensor) => tf.Scalar;
/** Makes the optimizer of the model's parameters (SGD, sgd({ mom }), Adam, ...). */
export type OptFunc = (params: tf.Variable[], lr: number) => Optimizer;

/** Anything that yields [inputs, targets] batches the Learner may dispose after use. */
export interface BatchSource extends Iterable<[tf.Tensor, tf.Tensor]> {
  readonly length: number;
}

/** The training and validation batches (a DataLoaders). */
export interface Loaders {
  train: BatchSource;
  valid: BatchSource;
  /** Class names, where the loaders have them (label i is vocab[i]). */
  readonly vocab?: readonly string[];
}

export interface LearnerOptions {
  lossFunc: LossFunc;
  /** The optimizer (default SGD: p - lr * grad). */
  optFunc?: OptFunc;
  /** Shown per epoch on the validation set, e.g. [batchAccuracy]. */
  metrics?: Metric[];
  /** Callbacks besides `defaults.callbacks` (divergence guard, Recorder, progress table); one of a default's class replaces it. */
  cbs?: Callback[];
  /** false leaves out the progress table. */
  progress?: boolean;
  /** Shorthand for `cbs: [new DivergenceGuard({ restore: true })]`: on a NaN loss, back to the weights of the epoch's start. */
  restoreOnDivergence?: boolean;
}
