// What a callback is, the events the Learner's loop announces, and how a callback stops part of the
// loop. The Learner starts with `defaults.callbacks`, to which the Recorder, the divergence guard and the
// progress table add themselves (as fastai's do), plus whatever it is given.
import type { tf } from "../tf";
import type { Learner } from "../learner";
import { Interrupted } from "../interrupt";

/**
 * The loop's stages, in the order they happen within one epoch. Each stage fires before<Stage> and
 * after<Stage>; afterCancel<Stage> fires, just before after<Stage>, when the stage ended early: by its
 * Cancel<Stage> (CancelBatch, CancelTrain, ...) or, for the fit, by anything that stopped it (an interrupt,
 * a divergence, an error; `learn.stopped` says which).
 */
export const EVENTS = [
  "beforeFit", "beforeEpoch", "beforeTrain", "beforeBatch", "afterPred", "afterLoss", "afterBackward",
  "afterStep", "afterCancelBatch", "afterBatch", "afterCancelTrain", "afterTrain", "beforeValidate",
  "afterCancelValidate", "afterValidate", "afterCancelEpoch", "afterEpoch", "afterCancelFit", "afterFit",
] as const;

/** One of the loop's events, by name ("beforeFit", "afterBatch", ...). */
export type EventName = (typeof EVENTS)[number];

/**
 * Something that listens to the training loop: implement any of the events below; each receives the
 * Learner, whose whole state (`learn.epoch`, `learn.loss`, `learn.xb`, ...) it may read. Callbacks run in
 * `order` (lower first, default 0). Example: `{ afterEpoch: (learn) => console.log(learn.epoch) }`.
 */
export interface Callback {
  /** Shown in messages about this callback. */
  name?: string;
  /** Lower runs first (default 0). */
  order?: number;
  /** Once, before the first epoch. */
  beforeFit?(learn: Learner): void;
  /** At the start of every epoch. */
  beforeEpoch?(learn: Learner): void;
  /** Before the epoch's training pass. */
  beforeTrain?(learn: Learner): void;
  /** Before each batch, training or validation (`learn.xb`, `learn.yb` are set). */
  beforeBatch?(learn: Learner): void;
  /** After the model's forward pass (`learn.pred`). */
  afterPred?(learn: Learner): void;
  /** After the loss is computed (`learn.loss`). */
  afterLoss?(learn: Learner): void;
  /** After the gradients are computed, before the optimizer's step (training only). */
  afterBackward?(learn: Learner): void;
  /** After the optimizer's step (training only). */
  afterStep?(learn: Learner): void;
  /** When a batch ended early (CancelBatch), just before afterBatch. */
  afterCancelBatch?(learn: Learner): void;
  /** After each batch, training or validation. */
  afterBatch?(learn: Learner): void;
  /** When the training pass ended early (CancelTrain), just before afterTrain. */
  afterCancelTrain?(learn: Learner): void;
  /** After the epoch's training pass. */
  afterTrain?(learn: Learner): void;
  /** Before the epoch's validation pass. */
  beforeValidate?(learn: Learner): void;
  /** When validation ended early (CancelValidate), just before afterValidate. */
  afterCancelValidate?(learn: Learner): void;
  /** After the epoch's validation pass. */
  afterValidate?(learn: Learner): void;
  /** When the epoch ended early (CancelEpoch), just before afterEpoch. */
  afterCancelEpoch?(learn: Learner): void;
  /** At the end of every epoch. */
  afterEpoch?(learn: Learner): void;
  /** When the fit stopped early (cancelled, interrupted, diverged or failed), just before afterFit. */
  afterCancelFit?(learn: Learner): void;
  /** Once, when the fit ends, however it ended. */
  afterFit?(learn: Learner): void;
}

/** Thrown by a callback to stop training: the Learner still runs afterCancelFit and afterFit, and fit resolves. */
export class CancelFit extends Error {}
/** Thrown by a callback to end the current epoch: the next one starts. */
export class CancelEpoch extends Error {}
/** Thrown by a callback to end the training pass of this epoch: validation follows. */
export class CancelTrain extends Error {}
/** Thrown by a callback to skip (the rest of) this epoch's validation. */
export class CancelValidate extends Error {}
/** Thrown by a callback to end the current batch (before its step, if thrown before afterStep). */
export class CancelBatch extends Error {}

/** The error a fit rejects with when its loss became NaN or infinite. */
export class TrainingDiverged extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingDiverged";
  }
}

/** Why and where the last fit stopped before its end (`learn.stopped`; undefined after a complete fit). */
export interface StopInfo {
  reason: "cancelled" | "interrupted" | "diverged" | "error";
  /** 1-based, as the progress table shows it. */
  epoch: number;
  phase: "training" | "validation";
  /** Batches of that pass that were completed. */
  batchesDone: number;
  /** Batches in that pass. */
  batches: number;
  /** What the user is told. */
  message: string;
  error: unknown;
}

/** Where the Learner stands when `error` stopped its fit, and what to tell the user. */
export function describeStop(learn: Learner, error: unknown): StopInfo {
  const reason = error instanceof CancelFit ? "cancelled" : error instanceof Interrupted ? "interrupted"
    : error instanceof TrainingDiverged ? "diverged" : "error";
  const phase = learn.training ? "training" : "validation";
  const batches = (learn.training ? learn.dls.train : learn.dls.valid).length;
  const where = `in epoch ${learn.epoch + 1}/${learn.nEpoch}, after ${learn.batchIndex} of ${batches} ${phase} batches`;
  const done = learn.epoch === 1 ? "1 epoch" : `${learn.epoch} epochs`;
  const message = reason === "interrupted"
    ? `fit was interrupted ${where}. The Recorder holds the ${done} completed in this fit; the model keeps the ` +
      "weights of the last step taken."
    : reason === "cancelled" ? `fit was cancelled by a callback ${where}.`
    : error instanceof Error ? error.message : String(error);
  return { reason, epoch: learn.epoch + 1, phase, batchesDone: learn.batchIndex, batches, message, error };
}

/** A metric's column name: the function's own name, or metric1, metric2, ... for anonymous ones. */
export function metricName(metric: (preds: tf.Tensor, targets: tf.Tensor) => tf.Scalar, i: number): string {
  return metric.name || `metric${i + 1}`;
}

/** Callbacks every new Learner gets, each made fresh for it. */
export const defaults = { callbacks: [] as (() => Callback)[] };

/** A callback class, to name callbacks to leave out: `withCallbacks(learn, [], run, [ProgressTable])`. */
export type CallbackClass = abstract new (...args: never[]) => Callback;

/**
 * Runs `run` (a fit) with `cbs` among the Learner's callbacks, in order, and those of the classes in
 * `without` left out; the Learner's own list is restored afterwards, however the fit ends.
 */
export async function withCallbacks<T>(learn: Learner, cbs: Callback[], run: () => Promise<T>, without: CallbackClass[] = []): Promise<T> {
  const saved = [...learn.cbs];
  const during = [...saved.filter((cb) => !without.some((c) => cb instanceof c)), ...cbs].sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  learn.cbs.splice(0, learn.cbs.length, ...during);
  try {
    return await run();
  } finally {
    learn.cbs.splice(0, learn.cbs.length, ...saved);
  }
}
