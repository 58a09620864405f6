// Stops a fit whose loss turns NaN or infinite, at that batch and before its step (so the weights stay
// finite), and warns once when the loss grows far above where it started. It reads the batch's loss that
// the Recorder reads too (one read per training batch between them); validation losses are summed on the
// device and read once per epoch.
import { tf } from "../tf";
import type { Learner } from "../learner";
import { defaults, TrainingDiverged, type Callback } from "./core";
export { TrainingDiverged } from "./core";

/** Options of `new DivergenceGuard(opts)`, given to a Learner in `cbs`. */
export interface DivergenceGuardOptions {
  /** Put back the weights from the start of the epoch when the loss diverges (default false). */
  restore?: boolean;
}

/** Stops training with `TrainingDiverged` when the loss becomes NaN or infinite. A default callback. */
export class DivergenceGuard implements Callback {
  readonly name = "divergence";
  readonly order = -10; // before the Recorder takes the batch's loss
  /** The training loss may grow to this multiple of its first value before a warning. */
  growthFactor = 1000;
  readonly restore: boolean;
  private first?: number;
  private warned = false;
  private snapshot?: tf.Tensor[];
  private startScale = 0;
  private validSum?: tf.Tensor;

  constructor({ restore = false }: DivergenceGuardOptions = {}) {
    this.restore = restore;
  }

  beforeFit(learn: Learner): void {
    this.first = undefined;
    this.warned = false;
    this.startScale = largestWeight(learn);
  }

  beforeEpoch(learn: Learner): void {
    if (!this.restore) return;
    tf.dispose(this.snapshot);
    this.snapshot = learn.model.parameters().map((p) => tf.keep(p.clone()));
  }

  // Training: after the gradients, before the step, so that a NaN gradient never reaches the weights.
  afterBackward(learn: Learner): void {
    const where = `epoch ${learn.epoch + 1}/${learn.nEpoch}, training batch ${learn.batchIndex + 1}/${learn.dls.train.length}`;
    const loss = learn.lossValue;
    this.stopIfNotFinite(learn, loss, where);
    if (this.first === undefined) this.first = loss;
    else if (!this.warned && this.first > 0 && loss > this.growthFactor * this.first) {
      this.warned = true;
      console.warn(`Warning: the training loss grew to ${loss.toPrecision(3)} in ${where}, over ${this.growthFactor} ` +
        `times its first value (${this.first.toPrecision(3)}). The learning rate (${learn.opt?.lr}) is probably too high: ` +
        "interrupt the fit (Kernel > Interrupt) and try one 10 times lower.");
    }
  }

  // Validation: each batch's loss, as the other callbacks may have left it, added up on the device.
  afterBatch(learn: Learner): void {
    if (learn.training || !learn.loss) return;
    const sum = this.validSum ? tf.add(this.validSum, learn.loss!) : learn.loss!.clone();
    this.validSum?.dispose();
    this.validSum = tf.keep(sum);
  }

  afterValidate(learn: Learner): void {
    if (!this.validSum) return;
    const sum = this.validSum.dataSync()[0]!;
    this.validSum.dispose();
    this.validSum = undefined;
    const n = learn.dls.valid.length;
    this.stopIfNotFinite(learn, sum, `epoch ${learn.epoch + 1}/${learn.nEpoch} (${n} validation batch${n === 1 ? "" : "es"})`);
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
    tf.dispose([...(this.snapshot ?? []), ...(this.validSum ? [this.validSum] : [])]);
    this.snapshot = this.validSum = undefined;
  }

  private stopIfNotFinite(learn: Learner, loss: number, where: string): void {
    if (Number.isFinite(loss)) return;
    const phase = learn.training ? "training" : "validation";
    let weights: string;
    if (this.snapshot) {
      learn.model.parameters().forEach((p, i) => p.assign(this.snapshot![i]!));
      weights = `The weights were restored to those at the start of epoch ${learn.epoch + 1}.`;
    } else {
      weights = (learn.training ? "Its step was not taken: the model keeps the weights of the step before. " : "") +
        "(The Learner option `restoreOnDivergence: true` restores the weights from the start of the epoch instead.)";
    }
    throw new TrainingDiverged(
      `Training diverged: the ${phase} loss became ${loss} in ${where}, at learning rate ${learn.opt?.lr}. ${weights} ` +
      "Try a learning rate 10 times lower; if the loss is not finite from the first batch on, check the " +
      "inputs and targets for NaN or infinite values.");
  }
}

/** The largest absolute value among the model's parameters. */
function largestWeight(learn: Learner): number {
  const params = learn.model.parameters();
  if (!params.length) return 0;
  const max = tf.tidy(() => tf.max(tf.stack(params.map((p) => tf.max(tf.abs(p))))));
  const value = max.dataSync()[0]!;
  max.dispose();
  return value;
}

defaults.callbacks.push(() => new DivergenceGuard());
