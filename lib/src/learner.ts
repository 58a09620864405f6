// A Learner in the manner of fastai's: a short training loop that announces each stage by name, and
// callbacks that listen. Recording, progress display, the divergence guard, schedules and the learning
// rate finder plug in without touching the loop.
import { tf } from "./tf";
import type { Module } from "./nn";
import { backward, SGD, type Optimizer } from "./optim";
import { checkEpochs, checkLearningRate, checkScalarLoss, setValueChecks } from "./checks";
import type { BatchSource, LearnerOptions, Loaders, LossFunc, Metric, OptFunc } from "./learner-types";
import { CancelBatch, CancelEpoch, CancelFit, CancelTrain, CancelValidate, defaults, describeStop, metricName, type Callback, type EventName, type StopInfo } from "./callbacks/core";
import { DivergenceGuard } from "./callbacks/divergence";
import { Recorder } from "./callbacks/recorder";
import { ProgressTable } from "./callbacks/progress-table";
import { fitOneCycle, type OneCycleOptions } from "./callbacks/schedule";
import { lrFind, type LrFindOptions, type LrFindResult } from "./callbacks/lr-find";
import { getPreds, type Preds } from "./interpret";
import { Interrupted, OneAtATime, type InterruptWatch } from "./interrupt";
export { CancelFit, EVENTS, type Callback, type EventName, type StopInfo } from "./callbacks/core";
export type { BatchSource, LearnerOptions, Loaders, LossFunc, Metric, OptFunc } from "./learner-types";

type Stage = "Fit" | "Epoch" | "Train" | "Validate" | "Batch";
const CANCELS = { Fit: CancelFit, Epoch: CancelEpoch, Train: CancelTrain, Validate: CancelValidate, Batch: CancelBatch };
// Each stage's event names, made once: a name built per call is a new string that every callback lookup hashes again.
type StageEvents = { before: EventName; after: EventName; cancel: EventName };
const NAMES = Object.fromEntries((Object.keys(CANCELS) as Stage[]).map((stage) =>
  [stage, { before: `before${stage}`, after: `after${stage}`, cancel: `afterCancel${stage}` }])) as Record<Stage, StageEvents>;

/**
 * The training loop of the book's `Learner`: data loaders, a model, a loss, an optimizer and metrics;
 * `fit(nEpoch, lr)` trains, showing a progress table, and callbacks (`cbs`) join in at each stage.
 *
 * ```ts
 * const learn = new Learner(dls, new Sequential(new Linear(784, 30), new ReLU(), new Linear(30, 1)),
 *   { lossFunc: mnistLoss, optFunc: SGD, metrics: [batchAccuracy] });
 * await learn.fit(10, 0.1);
 * ```
 */
export class Learner {
  /** loss(predictions, targets) → a scalar: what training lowers. */
  readonly lossFunc: LossFunc;
  /** Makes the optimizer from the parameters and the learning rate, at the first fit. */
  readonly optFunc: OptFunc;
  /** Computed on the validation set after each epoch, one column each. */
  readonly metrics: Metric[];
  /** The callbacks, in the order they run. */
  readonly cbs: Callback[];
  /** The optimizer, once a fit has made it. */
  opt?: Optimizer;
  /** Set when the last fit stopped early: why, and where. */
  stopped?: StopInfo;

  // The state of the loop, for callbacks to read. iter: training batches so far in this fit; batchIndex:
  // the batch's place in the current pass.
  nEpoch = 0; epoch = 0; iter = 0; batchIndex = 0; training = false;
  xb?: tf.Tensor; yb?: tf.Tensor; pred?: tf.Tensor; loss?: tf.Scalar;

  private readonly fits = new OneAtATime("fit", "This Learner is already training: a fit started earlier has not " +
    "finished. Await it (`await learn.fit(...)`) before starting another, or stop it with Kernel > Interrupt.");
  private lossRead?: { of: tf.Tensor; value: number };

  constructor(readonly dls: Loaders, readonly model: Module, opts: LearnerOptions) {
    this.lossFunc = opts.lossFunc;
    this.optFunc = opts.optFunc ?? SGD;
    this.metrics = opts.metrics ?? [];
    const given = [...(opts.cbs ?? []), ...(opts.restoreOnDivergence ? [new DivergenceGuard({ restore: true })] : [])];
    const standard = defaults.callbacks.map((make) => make())
      .filter((cb) => !given.some((g) => g.constructor === cb.constructor) && (opts.progress !== false || !(cb instanceof ProgressTable)));
    this.cbs = [...standard, ...given].sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  }

  /** The Recorder among the callbacks: losses and metrics of every epoch. */
  get recorder(): Recorder {
    const found = this.cbs.find((cb): cb is Recorder => cb instanceof Recorder);
    if (!found) throw new Error("This Learner has no Recorder among its callbacks (learn.cbs).");
    return found;
  }

  /** The metrics' column names, as the Recorder and the progress table show them. */
  get metricNames(): string[] {
    return this.metrics.map(metricName);
  }

  /** The batch's loss as a number: read from the device once per batch, for every callback that asks. */
  get lossValue(): number {
    const loss = this.loss!;
    if (this.lossRead?.of !== loss) this.lossRead = { of: loss, value: loss.dataSync()[0]! };
    return this.lossRead.value;
  }

  /**
   * Trains for `nEpoch` epochs at learning rate `lr`, validating after each. Resolves when done. Kernel >
   * Interrupt (SIGINT) stops it before the next batch: the callbacks hear afterCancelFit and afterFit,
   * the Recorder keeps the completed epochs, and the promise rejects with `Interrupted`.
   */
  async fit(nEpoch: number, lr: number): Promise<void> {
    checkEpochs("fit", nEpoch);
    checkLearningRate("fit", lr);
    await this.fits.run(async (watch) => {
      (this.opt ??= this.optFunc(this.model.parameters(), lr)).lr = lr;
      this.nEpoch = nEpoch;
      this.iter = this.epoch = this.batchIndex = 0;
      this.stopped = undefined;
      // Whatever stops a fit (CancelFit, an interrupt, a divergence, an error), its callbacks hear the end.
      const stops = (e: unknown) => { this.stopped = describeStop(this, e); return true; };
      try {
        await this.withEvents("Fit", () => this.allEpochs(watch), stops);
      } catch (e) {
        throw e instanceof Interrupted ? new Interrupted(this.stopped!.message) : e;
      } finally {
        this.opt?.zeroGrad();
      }
    });
  }

  /**
   * fastai's _with_events: before<stage>, the body, after<stage>. A Cancel<stage> thrown inside ends the
   * stage early (callbacks hear afterCancel<stage>, then after<stage>) and the loop goes on; `ends` may
   * widen what ends the stage: anything else that does then goes on up.
   */
  private async withEvents(stage: Stage, body: () => unknown, ends = (e: unknown) => e instanceof CANCELS[stage]): Promise<void> {
    let failure: { error: unknown } | undefined;
    try {
      this.fire(NAMES[stage].before);
      await body();
    } catch (error) {
      failure = { error };
    }
    this.endStage(stage, failure, ends);
  }

  /** withEvents for a body with nothing to wait for (a batch): no promise, and no turn of the microtasks, per batch. */
  private withEventsNow(stage: Stage, body: () => void): void {
    let failure: { error: unknown } | undefined;
    try {
      this.fire(NAMES[stage].before);
      body();
    } catch (error) {
      failure = { error };
    }
    this.endStage(stage, failure, (e) => e instanceof CANCELS[stage]);
  }

  /** The end of a stage: afterCancel<stage> when the body threw what ends it, then after<stage>; anything else goes on up. */
  private endStage(stage: Stage, failure: { error: unknown } | undefined, ends: (e: unknown) => boolean): void {
    if (failure && !ends(failure.error)) throw failure.error;
    if (failure) this.fire(NAMES[stage].cancel);
    this.fire(NAMES[stage].after);
    if (failure && !(failure.error instanceof CANCELS[stage])) throw failure.error;
  }

  private fire(event: EventName): void {
    for (const cb of this.cbs) cb[event]?.(this);
  }

  private async allEpochs(watch: InterruptWatch): Promise<void> {
    for (this.epoch = 0; this.epoch < this.nEpoch; this.epoch++) {
      await this.withEvents("Epoch", async () => {
        await this.allBatches(true, watch);
        await this.allBatches(false, watch);
      });
    }
  }

  private async allBatches(training: boolean, watch: InterruptWatch): Promise<void> {
    this.training = training;
    this.batchIndex = 0;
    this.model.train?.(training);
    await this.withEvents(training ? "Train" : "Validate", async () => {
      for (const [xb, yb] of training ? this.dls.train : this.dls.valid) {
        [this.xb, this.yb] = [xb, yb];
        try {
          const due = watch.checkpoint(); // lets signals and display updates through now and then; stops after an interrupt
          if (due) await due;
          // The values of targets and predictions are checked on the first batches only: each check is a read.
          const checks = setValueChecks(this.epoch === 0 && this.batchIndex === 0);
          try {
            this.withEventsNow("Batch", () => this.oneBatch());
          } finally {
            setValueChecks(checks);
          }
        } finally {
          tf.dispose([this.xb, this.yb, this.pred, this.loss]);
          this.xb = this.yb = this.pred = this.loss = this.lossRead = undefined;
        }
        this.batchIndex++;
        if (training) this.iter++;
      }
    });
  }

  private oneBatch(): void {
    const opt = this.opt!;
    try {
      this.loss = this.training ? backward(() => this.predictAndLoss(), opt.params, opt.grads) : tf.tidy(() => this.predictAndLoss());
    } catch (e) {
      this.loss = undefined; // freed with the forward pass that threw (a CancelBatch in afterLoss, an error)
      throw e;
    }
    if (!this.training) return;
    this.fire("afterBackward");
    opt.step();
    this.fire("afterStep");
    opt.zeroGrad();
  }

  /** The batch's predictions and loss (in training, on the gradient tape), with their events. */
  private predictAndLoss(): tf.Scalar {
    this.pred = tf.keep(this.model.forward(this.xb!)); // kept for callbacks, disposed after the batch
    this.fire("afterPred");
    this.loss = checkScalarLoss(this.lossFunc, this.lossFunc(this.pred, this.yb!));
    this.fire("afterLoss"); // a callback may still change the loss: the gradients are of what it leaves
    return this.loss;
  }

  /** Predictions for `x` without recording gradients, the model in evaluation mode. */
  predict(x: tf.Tensor): tf.Tensor {
    this.model.train?.(false);
    return tf.tidy(() => this.model.forward(x));
  }

  /** fastai's one-cycle schedule: warms up to `lrMax`, then anneals; see `fitOneCycle`. */
  fitOneCycle(nEpoch: number, lrMax: number, opts?: OneCycleOptions): Promise<void> {
    return fitOneCycle(this, nEpoch, lrMax, opts);
  }

  /** The learning rate finder: loss against a growing learning rate, with suggestions; see `lrFind`. */
  lrFind(opts?: LrFindOptions): Promise<LrFindResult> {
    return lrFind(this, opts);
  }

  /** Probabilities, targets, predicted classes and each item's loss over a loader; see `getPreds`. */
  getPreds(dl?: BatchSource): Preds {
    return getPreds(this, dl);
  }
}
