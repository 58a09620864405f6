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
}

export class Learner {
  readonly lossFunc: LossFunc;
  readonly optFunc: OptFunc;
  readonly metrics: Metric[];
  readonly cbs: Callback[];
  opt?: Optimizer;

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

  /** Trains for `nEpoch` epochs at learning rate `lr`, validating after each. Resolves when done. */
  async fit(nEpoch: number, lr: number): Promise<void> {
    if (!this.opt) this.opt = this.optFunc(this.model.parameters(), lr);
    this.opt.lr = lr;
    this.nEpoch = nEpoch;
    this.iter = 0;
    try {
      this.fire("beforeFit");
      for (this.epoch = 0; this.epoch < nEpoch; this.epoch++) {
        this.fire("beforeEpoch");
        await this.pass(true);
        await this.pass(false);
        this.fire("afterEpoch");
      }
    } catch (e) {
      if (!(e instanceof CancelFit)) throw e;
    } finally {
      this.fire("afterFit");
      this.opt.zeroGrad();
    }
  }

  private async pass(training: boolean): Promise<void> {
    this.training = training;
    this.fire(training ? "beforeTrain" : "beforeValidate");
    let lastYield = Date.now();
    this.batchIndex = 0;
    for (const [xb, yb] of training ? this.dls.train : this.dls.valid) {
      this.xb = xb;
      this.yb = yb;
      try {
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
      // Let the kernel send display updates (progress bar) while a long pass runs.
      if (Date.now() - lastYield > 100) { await new Promise((r) => setImmediate(r)); lastYield = Date.now(); }
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
