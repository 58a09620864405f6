// Stops a fit whose loss turns NaN or infinite, at that batch and before its step (so the weights stay
// finite), and warns once when the loss grows far above where it started. Reads one number per batch.
import { tf } from "../tf";
import type { Learner } from "../learner";
import { defaults, type Callback } from "./core";

/** The error a fit rejects with when its loss became NaN or infinite. */
export class TrainingDiverged extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingDiverged";
  }
}

export class DivergenceGuard implements Callback {
  readonly name = "divergence";
  readonly order = -10; // before the Recorder takes the batch's loss
  /** The training loss may grow to this multiple of its first value before a warning. */
  growthFactor = 1000;
  private first?: number;
  private warned = false;
  private snapshot?: tf.Tensor[];
  private startScale = 0;

  beforeFit(learn: Learner): void {
    this.first = undefined;
    this.warned = false;
    this.startScale = largestWeight(learn);
  }

  beforeEpoch(learn: Learner): void {
    if (!learn.restoreOnDivergence) return;
    tf.dispose(this.snapshot);
    this.snapshot = learn.model.parameters().map((p) => tf.keep(p.clone()));
  }

  // Training: after the gradients, before the step, so that a NaN gradient never reaches the weights.
  afterBackward(learn: Learner): void {
    this.check(learn);
  }

  afterLoss(learn: Learner): void {
    if (!learn.training) this.check(learn);
  }

  // A bounded loss (mnistLoss) cannot grow: at too high a learning rate the weights do instead, until the
  // sigmoid saturates and nothing is learned. One read per epoch.
  afterEpoch(learn: Learner): void {
    const scale = largestWeight(learn);
    if (this.warned || !(this.startScale > 0) || scale <= this.growthFactor * this.startScale) return;
    this.warned = true;
    console.warn(`Warning: the largest weight grew from ${this.startScale.toPrecision(3)} to ${scale.toPrecision(3)} by the end ` +
      `of epoch ${learn.epoch + 1}/${learn.nEpoch}, over ${this.growthFactor} times. The learning rate (${learn.opt?.lr}) is ` +
      "probably too high: outputs that large saturate the sigmoid and stop the learning. Try one 10 times lower.");
  }

  afterFit(): void {
    tf.dispose(this.snapshot);
    this.snapshot = undefined;
  }

  private check(learn: Learner): void {
    const loss = learn.loss!.dataSync()[0];
    const phase = learn.training ? "training" : "validation";
    const batches = (learn.training ? learn.dls.train : learn.dls.valid).length;
    const where = `epoch ${learn.epoch + 1}/${learn.nEpoch}, ${phase} batch ${learn.batchIndex + 1}/${batches}`;
    const lr = learn.opt?.lr;
    if (!Number.isFinite(loss)) {
      let weights: string;
      if (this.snapshot) {
        learn.model.parameters().forEach((p, i) => p.assign(this.snapshot![i]));
        weights = `The weights were restored to those at the start of epoch ${learn.epoch + 1}.`;
      } else {
        weights = learn.training
          ? "Its step was not taken: the model keeps the weights of the step before. (The Learner option " +
            "`restoreOnDivergence: true` restores the weights from the start of the epoch instead.)"
          : "(The Learner option `restoreOnDivergence: true` restores the weights from the start of the epoch.)";
      }
      throw new TrainingDiverged(
        `Training diverged: the ${phase} loss became ${loss} in ${where}, at learning rate ${lr}. ${weights} ` +
        "Try a learning rate 10 times lower; if the loss is not finite from the first batch on, check the " +
        "inputs and targets for NaN or infinite values.");
    }
    if (!learn.training) return;
    if (this.first === undefined) this.first = loss;
    else if (!this.warned && this.first > 0 && loss > this.growthFactor * this.first) {
      this.warned = true;
      console.warn(`Warning: the training loss grew to ${loss.toPrecision(3)} in ${where}, over ${this.growthFactor} ` +
        `times its first value (${this.first.toPrecision(3)}). The learning rate (${lr}) is probably too high: ` +
        "interrupt the fit (Kernel > Interrupt) and try one 10 times lower.");
    }
  }
}

/** The largest absolute value among the model's parameters. */
function largestWeight(learn: Learner): number {
  const params = learn.model.parameters();
  if (!params.length) return 0;
  const max = tf.tidy(() => tf.max(tf.stack(params.map((p) => tf.max(tf.abs(p))))));
  const value = max.dataSync()[0];
  max.dispose();
  return value;
}

defaults.callbacks.push(() => new DivergenceGuard());
