// Records what happens during training: per-batch training losses, and per epoch the mean training
// loss, validation loss, metrics and time. A training batch's loss is the one number the Learner reads
// per batch (shared with the divergence guard and the progress bar); validation losses and metrics stay
// on the device until the epoch ends, then are read in one go.
import { tf } from "../tf";
import type { Learner } from "../learner";
import { defaults, type Callback, type StopInfo } from "./core";
import { linePlot, subplotsRow, type Panel } from "../plot";
/** One row of the progress table, as the Recorder keeps it (`learn.recorder.values`). */
export interface EpochRecord {
  /** 0-based. */
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  trainLoss: number;
  /** Mean validation loss. */
  validLoss: number;
  /** Each metric's mean over the validation batches, by name. */
  metrics: Record<string, number>;
  /** How long the epoch took. */
  seconds: number;
}

/**
 * Records what a fit did: every epoch's losses and metrics, every training batch's loss and learning
 * rate. Every Learner has one, as `learn.recorder`: `learn.recorder.plotLoss()` draws the losses.
 */
export class Recorder implements Callback {
  readonly name = "recorder";
  readonly order = 0;
  /** One row per epoch, across every fit of the Learner. */
  readonly values: EpochRecord[] = [];
  /** Training loss of every batch. */
  readonly batchLosses: number[] = [];
  /** Learning rate of every training batch, and momentum where the optimizer has one (as batchLosses). */
  readonly lrs: number[] = [];
  readonly moms: number[] = [];
  /** The metrics' names, as the columns of the progress table. */
  metricNames: string[] = [];
  /** Why and where the last fit stopped early (interrupted, diverged, cancelled, error); undefined if it completed. */
  stopped?: StopInfo;
  // batchLosses.length at the end of each epoch, to place the validation losses on the batch axis.
  private epochEnds: number[] = [];

  private start = 0;
  private trainLosses: number[] = [];
  private trainSizes: number[] = [];
  private epochHypers: { lr: number; mom?: number }[] = [];
  private validSums: tf.Tensor[] = []; // [loss·bs, metric1·bs, ...] summed over batches
  private validCount = 0;

  beforeFit(learn: Learner): void {
    this.metricNames = learn.metricNames;
    this.stopped = undefined;
  }

  beforeEpoch(): void {
    this.start = Date.now();
    this.trainSizes = [];
    this.epochHypers = [];
    this.validCount = 0;
  }

  afterBatch(learn: Learner): void {
    if (!learn.loss) return; // a batch cancelled before its loss
    const bs = learn.yb!.shape[0];
    if (learn.training) {
      this.trainLosses.push(learn.lossValue);
      this.trainSizes.push(bs);
      this.epochHypers.push({ lr: learn.opt!.lr, mom: learn.opt!.mom });
      return;
    }
    const batch = tf.tidy(() => [learn.loss!, ...learn.metrics.map((m) => m(learn.pred!, learn.yb!))].map((v) => v.mul(bs)));
    this.validSums = this.validSums.length ? this.validSums.map((s, i) => { const t = s.add(batch[i]); s.dispose(); return t; }) : batch;
    if (this.validSums !== batch) tf.dispose(batch);
    this.validCount += bs;
  }

  afterEpoch(learn: Learner): void {
    const stacked = this.validSums.length ? tf.stack(this.validSums) : undefined;
    const sums = stacked ? Array.from(stacked.dataSync()) : [];
    tf.dispose([stacked, ...this.validSums]);
    const losses = this.trainLosses;
    this.trainLosses = [];
    this.validSums = [];
    this.batchLosses.push(...losses);
    this.lrs.push(...this.epochHypers.map((h) => h.lr));
    this.moms.push(...this.epochHypers.flatMap((h) => (h.mom === undefined ? [] : [h.mom])));
    const n = this.trainSizes.reduce((a, b) => a + b, 0);
    const trainLoss = losses.reduce((acc, l, i) => acc + l * this.trainSizes[i], 0) / n;
    const [validLoss = NaN, ...metricValues] = sums.map((s) => s / this.validCount);
    this.epochEnds.push(this.batchLosses.length);
    const metrics = Object.fromEntries(this.metricNames.map((name, i) => [name, metricValues[i]]));
    this.values.push({ epoch: this.values.length, trainLoss, validLoss, metrics, seconds: (Date.now() - this.start) / 1000 });
  }

  afterCancelFit(learn: Learner): void {
    this.stopped = learn.stopped;
    // The unfinished epoch gets no row, but its batches' training losses join the history.
    this.batchLosses.push(...this.trainLosses);
  }

  afterFit(): void {
    // A fit stopped early may leave the sums of an unfinished epoch.
    tf.dispose(this.validSums);
    this.trainLosses = [];
    this.validSums = [];
  }

  /** Plots the training loss of every batch and the validation loss at the end of each epoch. */
  plotLoss(): void {
    linePlot([
      { x: this.batchLosses.map((_, i) => i), y: this.batchLosses, name: "train (per batch)" },
      { x: this.epochEnds.map((end) => end - 1), y: this.values.map((v) => v.validLoss), name: "valid (per epoch)", mode: "lines+markers" },
    ], { title: "Loss", xLabel: "batch", yLabel: "loss" });
  }

  /** Plots the learning rate (and momentum, where recorded) of every training batch, as a schedule set them. */
  plotSched(): void {
    const batches = this.lrs.map((_, i) => i);
    const panels: Panel[] = [{ title: "learning rate, per batch", series: [{ x: batches, y: this.lrs }] }];
    if (this.moms.length === this.lrs.length && this.moms.length > 0) panels.push({ title: "momentum, per batch", series: [{ x: batches, y: this.moms }] });
    subplotsRow(panels);
  }

  /** Plots a metric per epoch (the first metric by default). */
  plotMetric(name = this.metricNames[0]): void {
    if (!this.metricNames.includes(name)) throw new Error(`No metric "${name}" was recorded; recorded: ${this.metricNames.join(", ") || "none"}.`);
    linePlot([{ x: this.values.map((v) => v.epoch), y: this.values.map((v) => v.metrics[name]), name, mode: "lines+markers" }],
      { title: name, xLabel: "epoch", yLabel: name });
  }
}

defaults.callbacks.push(() => new Recorder());
