// What a callback is, the events the Learner's loop announces, and how a callback stops training. The
// Learner imports no callback: it starts with `defaults.callbacks`, to which the Recorder and the progress
// table add themselves (as fastai's do), plus whatever it is given.
import type { tf } from "../tf";
import type { Learner } from "../learner";

/**
 * The loop's stages, in the order they happen within one epoch. `afterCancelFit` fires only when a fit
 * stops early (CancelFit, an interrupt, divergence or an error; `learn.stopped` says which), just
 * before `afterFit`, which always fires.
 */
export const EVENTS = [
  "beforeFit", "beforeEpoch", "beforeTrain", "beforeBatch", "afterPred", "afterLoss", "afterBackward",
  "afterStep", "afterBatch", "afterTrain", "beforeValidate", "afterValidate", "afterEpoch", "afterCancelFit", "afterFit",
] as const;
export type EventName = (typeof EVENTS)[number];

/** A callback implements any of the events; `learn` gives it the Learner's whole state. */
export type Callback = { name?: string; order?: number } & Partial<Record<EventName, (learn: Learner) => void>>;

/** Thrown by a callback to stop training early; the Learner still runs afterFit. */
export class CancelFit extends Error {}

/** A metric's column name: the function's own name, or metric1, metric2, ... for anonymous ones. */
export function metricName(metric: (preds: tf.Tensor, targets: tf.Tensor) => tf.Scalar, i: number): string {
  return metric.name || `metric${i + 1}`;
}

/** Callbacks every new Learner gets, each made fresh for it. */
export const defaults = { callbacks: [] as (() => Callback)[] };
