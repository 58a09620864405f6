// A Learner in the manner of fastai's: a short training loop that announces each stage by name, and
// callbacks that listen. Recording, progress display and anything else plug in without touching the loop.
import { tf } from "./tf";
import type { Module } from "./nn";
import { backward, SGD, type Optimizer } from "./optim";
import { CancelFit, defaults, metricName, type Callback, type EventName } from "./callbacks/core";
import type { Recorder } from "./callbacks/recorder";
import { fitOneCycle, type OneCycleOptions } from "./callbacks/schedule";
import { lrFind, type LrFindOptions, type LrFindResult } from "./callbacks/lr-find";
import { getPreds, type Preds } from "./interpret";
import { Interrupted, InterruptWatch } from "./interrupt";
export { CancelFit, EVENTS, type Callback, type EventName } from "./callbacks/core";

export type LossFunc = (preds: tf.Tensor, targets: tf.Tensor) => tf.Scalar;
export type Metric = (preds: tf.Tensor, targets: tf.Tensor) => tf.Scalar;
export type OptFunc = (params: tf.Variable[], lr: number) => Optimizer;

/** Anything that yields [inputs, targets] batches the Learner may dispose after use. */
export interface BatchSource extends Iterable<[tf.Tensor, tf.Tensor]> {
  readonly length: number;
}

export interface Loaders {
  train: BatchSource;
  valid: BatchSource;
}

export interface LearnerOptions {
  lossFunc: LossFunc;
  optFunc?: OptFunc;
  metrics?: Metric[];
  /** Callbacks besides `defaults.callbacks` (a Recorder and the progress table). */
  cbs?: Callback[];
  /** false leaves out the progress table. */
  progress?: boolean;
  /** When the loss turns NaN or infinite, put back the weights from the start of that epoch (default false). */
  restoreOnDivergence?: boolean;
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

export class Learner {
  readonly lossFunc: LossFunc;
  readonly optFunc: OptFunc;
  readonly metrics: Metric[];
  readonly cbs: Callback[];
  readonly restoreOnDivergence: boolean;
  opt?: Optimizer;
  /** Set when the last fit stopped early: why, and where. */
  stopped?: StopInfo;
  // The fit in progress, so that a second one cannot run on the same state at the same time.
  private running?: { watch: InterruptWatch; done: Promise<void> };

  // The state of the loop, for callbacks to read.
  nEpoch = 0;
  epoch = 0;
  /** Batches seen in training, over the whole fit. */
  iter = 0;
  /** Index of the batch within the current pass. */
  batchIndex = 0;
  training = false;
  xb?: tf.Tensor;
  yb?: tf.Tensor;
  pred?: tf.Tensor;
  loss?: tf.Scalar;

  constructor(readonly dls: Loaders, readonly model: Module, opts: LearnerOptions) {
    this.lossFunc = opts.lossFunc;
    this.optFunc = opts.optFunc ?? SGD;
    this.metrics = opts.metrics ?? [];
    this.restoreOnDivergence = opts.restoreOnDivergence ?? false;
    const standard = defaults.callbacks.map((make) => make()).filter((cb) => opts.progress !== false || cb.name !== "progress");
    this.cbs = [...standard, ...(opts.cbs ?? [])].sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  }

  /** The Recorder among the callbacks: losses and metrics of every epoch. */
  get recorder(): Recorder {
    const found = this.cbs.find((cb) => cb.name === "recorder");
    if (!found) throw new Error("This Learner has no Recorder: import the Learner from \"fastbook-ts\", which registers it.");
    return found as Recorder;
  }

  /** The metrics' column names, as the Recorder and the progress table show them. */
  get metricNames(): string[] {
    return this.metrics.map(metricName);
  }

  /** Calls `event` on every callback, in order. */
  private fire(event: EventName): void {
    for (const cb of this.cbs) cb[event]?.(this);
  }

  /**
   * Trains for `nEpoch` epochs at learning rate `lr`, validating after each. Resolves when done. Kernel >
   * Interrupt (SIGINT) stops it before the next batch: the callbacks hear afterCancelFit and afterFit,
   * the Recorder keeps the completed epochs, and the promise rejects with `Interrupted`.
   */
  async fit(nEpoch: number, lr: number): Promise<void> {
    while (this.running) {
      // In Jupyter, an interrupted cell returns at once while its fit unwinds at its next batch: wait for
      // that. A fit that was not interrupted is a second loop on the same model and counters: refuse it.
      if (!this.running.watch.requested) {
        throw new Error("This Learner is already training: a fit started earlier has not finished. Await it " +
          "(`await learn.fit(...)`) before starting another, or stop it with Kernel > Interrupt.");
      }
      await this.running.done;
    }
    const watch = new InterruptWatch("fit");
    let finished!: () => void;
    this.running = { watch, done: new Promise<void>((resolve) => { finished = resolve; }) };
    try {
      await this.runFit(nEpoch, lr, watch);
    } finally {
      watch.close();
      this.running = undefined;
      finished();
    }
  }

  private async runFit(nEpoch: number, lr: number, watch: InterruptWatch): Promise<void> {
    if (!this.opt) this.opt = this.optFunc(this.model.parameters(), lr);
    this.opt.lr = lr;
    this.nEpoch = nEpoch;
    this.iter = this.epoch = this.batchIndex = 0;
    this.stopped = undefined;
    try {
      this.fire("beforeFit");
      for (this.epoch = 0; this.epoch < nEpoch; this.epoch++) {
        this.fire("beforeEpoch");
        await this.pass(true, watch);
        await this.pass(false, watch);
        this.fire("afterEpoch");
      }
    } catch (e) {
      this.stopped = this.stopInfo(e);
      this.fire("afterCancelFit");
      if (e instanceof Interrupted) throw new Interrupted(this.stopped.message);
      if (!(e instanceof CancelFit)) throw e;
    } finally {
      this.fire("afterFit");
      this.opt.zeroGrad();
    }
  }

  private stopInfo(e: unknown): StopInfo {
    const reason = e instanceof CancelFit ? "cancelled" : e instanceof Interrupted ? "interrupted"
      : (e as Error)?.name === "TrainingDiverged" ? "diverged" : "error";
    const phase = this.training ? "training" : "validation";
    const batches = (this.training ? this.dls.train : this.dls.valid).length;
    const where = `in epoch ${this.epoch + 1}/${this.nEpoch}, after ${this.batchIndex} of ${batches} ${phase} batches`;
    const done = this.epoch === 1 ? "1 epoch" : `${this.epoch} epochs`;
    const message = reason === "interrupted"
      ? `fit was interrupted ${where}. The Recorder holds the ${done} completed in this fit; the model keeps the ` +
        "weights of the last step taken."
      : reason === "cancelled" ? `fit was cancelled by a callback ${where}.`
      : e instanceof Error ? e.message : String(e);
    return { reason, epoch: this.epoch + 1, phase, batchesDone: this.batchIndex, batches, message, error: e };
  }

  private async pass(training: boolean, watch: InterruptWatch): Promise<void> {
    this.training = training;
    this.fire(training ? "beforeTrain" : "beforeValidate");
    this.batchIndex = 0;
    for (const [xb, yb] of training ? this.dls.train : this.dls.valid) {
      this.xb = xb;
      this.yb = yb;
      try {
        // Lets signals and display updates through now and then; stops here after an interrupt.
        await watch.checkpoint();
        this.fire("beforeBatch");
        if (training) this.trainBatch();
        else this.validBatch();
        this.fire("afterBatch");
      } finally {
        tf.dispose([this.xb, this.yb, this.pred, this.loss]);
        this.xb = this.yb = this.pred = this.loss = undefined;
      }
      this.batchIndex++;
      if (training) this.iter++;
    }
    this.fire(training ? "afterTrain" : "afterValidate");
  }

  private trainBatch(): void {
    const opt = this.opt!;
    this.loss = backward(() => {
      // Keep the predictions past the gradient computation, for callbacks (the Learner disposes them).
      this.pred = tf.keep(this.model.forward(this.xb!));
      this.fire("afterPred");
      this.loss = this.lossFunc(this.pred, this.yb!);
      this.fire("afterLoss"); // a callback may still change the loss: the gradients are of what it leaves
      return this.loss;
    }, opt.params, opt.grads);
    this.fire("afterBackward");
    opt.step();
    this.fire("afterStep");
    opt.zeroGrad();
  }

  private validBatch(): void {
    this.pred = tf.tidy(() => this.model.forward(this.xb!));
    this.fire("afterPred");
    this.loss = tf.tidy(() => this.lossFunc(this.pred!, this.yb!));
    this.fire("afterLoss");
  }

  /** Predictions for `x` without recording gradients. */
  predict(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.model.forward(x));
  }

  // Training tools, each built on fit (see their files).

  /** fitOneCycle(this, ...): fastai's one-cycle schedule (callbacks/schedule.ts). */
  fitOneCycle(nEpoch: number, lrMax: number, opts?: OneCycleOptions): Promise<void> {
    return fitOneCycle(this, nEpoch, lrMax, opts);
  }

  /** lrFind(this, ...): the learning rate finder (callbacks/lr-find.ts). */
  lrFind(opts?: LrFindOptions): Promise<LrFindResult> {
    return lrFind(this, opts);
  }

  /** getPreds(this, ...): predictions, targets and per-item losses over a loader (interpret.ts). */
  getPreds(dl?: BatchSource): Preds {
    return getPreds(this, dl);
  }
}
