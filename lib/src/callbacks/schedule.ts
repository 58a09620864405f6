// Changing hyperparameters while training. A schedule is a function of how far training has got (0 at the
// first batch, 1 at the end); a ParamScheduler callback sets the optimizer's learning rate (and momentum,
// weight decay) from its schedules before every training batch. One-cycle training is two cosine phases:
// the learning rate warms up from low to high, then anneals to almost nothing, while momentum does the
// opposite (high momentum while the steps are small, less while they are large).
import type { Learner } from "../learner";
import { withCallbacks, type Callback } from "./core";
import { checkEpochs, checkLearningRate } from "../checks";

/** The value of a hyperparameter at `pos`, from 0 (start of training) to 1 (end). */
export type Schedule = (pos: number) => number;

/** Straight from `start` to `end`. */
export function schedLin(start: number, end: number): Schedule {
  return (pos) => start + pos * (end - start);
}

/** From `start` to `end` along half a cosine: slow to leave `start`, slow to arrive (fastai's SchedCos). */
export function schedCos(start: number, end: number): Schedule {
  return (pos) => start + ((1 + Math.cos(Math.PI * (1 - pos))) * (end - start)) / 2;
}

/** From `start` to `end` by a constant factor per step: even steps on a log scale (fastai's SchedExp). */
export function schedExp(start: number, end: number): Schedule {
  return (pos) => start * (end / start) ** pos;
}

/** Runs `scheds` one after another, the i-th for the fraction `pcts[i]` of training (fractions sum to 1). */
export function combineScheds(pcts: number[], scheds: Schedule[]): Schedule {
  if (pcts.length !== scheds.length || pcts.length === 0) {
    throw new Error(`combineScheds needs one fraction per schedule; got ${pcts.length} fractions and ${scheds.length} schedules.`);
  }
  if (pcts.some((p) => !(p >= 0)) || Math.abs(pcts.reduce((a, b) => a + b, 0) - 1) > 1e-9) {
    throw new Error(`combineScheds: the fractions must be >= 0 and add up to 1; got [${pcts}].`);
  }
  const starts = pcts.map((_, i) => pcts.slice(0, i).reduce((a, b) => a + b, 0));
  return (pos) => {
    // The phase pos falls in: the last one that has started (a phase of length 0 never has its turn).
    let i = 0;
    while (i < scheds.length - 1 && pos >= starts[i + 1]!) i++;
    return scheds[i]!(pcts[i]! > 0 ? (pos - starts[i]!) / pcts[i]! : 1);
  };
}

/** Cosine from `start` to `middle` over the first `pct` of training, then cosine from `middle` to `end`. */
export function combinedCos(pct: number, start: number, middle: number, end: number): Schedule {
  return combineScheds([pct, 1 - pct], [schedCos(start, middle), schedCos(middle, end)]);
}

/** The optimizer settings a ParamScheduler can set. */
export type Hyper = "lr" | "mom" | "wd";

/**
 * Sets the optimizer's hyperparameters from schedules before each training batch, at position
 * (batches trained so far) / (batches in the whole fit). Momentum is left alone on optimizers that have
 * none (plain SGD); scheduling weight decay needs an optimizer that has it.
 */
export class ParamScheduler implements Callback {
  readonly name = "paramScheduler";
  private total = 1;

  constructor(readonly scheds: Partial<Record<Hyper, Schedule>>) {}

  beforeFit(learn: Learner): void {
    this.total = learn.nEpoch * learn.dls.train.length;
    if (this.scheds.wd && learn.opt!.wd === undefined) {
      throw new Error("This optimizer has no weight decay to set. Give the Learner one that has: optFunc: sgd() or adam() (from fastbook-ts).");
    }
  }

  beforeBatch(learn: Learner): void {
    if (!learn.training) return;
    const opt = learn.opt!;
    const pos = learn.iter / this.total;
    for (const [name, sched] of Object.entries(this.scheds) as [Hyper, Schedule][]) {
      if (name === "mom" && opt.mom === undefined) continue;
      opt[name] = sched(pos);
    }
  }
}

/** Options of `fitOneCycle`. */
export interface OneCycleOptions {
  /** The learning rate starts at lrMax/div (default 25). */
  div?: number;
  /** ... and ends at lrMax/divFinal (default 1e5). */
  divFinal?: number;
  /** The fraction of training spent warming up to lrMax (default 0.25). */
  pctStart?: number;
  /** Momentum at the start, at the peak of the learning rate, and at the end (default [0.95, 0.85, 0.95]). */
  moms?: [number, number, number];
  /** Weight decay for this fit (default: the optimizer's own). */
  wd?: number;
}

/**
 * Trains for `nEpoch` epochs with fastai's one-cycle schedule: the learning rate follows a cosine from
 * lrMax/div up to lrMax over the first pctStart of the batches, then a cosine down to lrMax/divFinal;
 * momentum (where the optimizer has it) goes the other way, moms[0] → moms[1] → moms[2].
 */
export async function fitOneCycle(learn: Learner, nEpoch: number, lrMax: number, opts: OneCycleOptions = {}): Promise<void> {
  const { div = 25, divFinal = 1e5, pctStart = 0.25, moms = [0.95, 0.85, 0.95], wd } = opts;
  checkEpochs("fitOneCycle", nEpoch);
  checkLearningRate("fitOneCycle", lrMax, "lrMax");
  if (!(pctStart >= 0 && pctStart <= 1)) throw new Error(`fitOneCycle: pctStart is a fraction of training, between 0 and 1; got ${pctStart}.`);
  if (!(div > 0 && divFinal > 0)) throw new Error(`fitOneCycle: div and divFinal must be positive; got ${div} and ${divFinal}.`);
  const scheds: Partial<Record<Hyper, Schedule>> = {
    lr: combinedCos(pctStart, lrMax / div, lrMax, lrMax / divFinal),
    mom: combinedCos(pctStart, ...moms),
  };
  if (wd !== undefined) scheds.wd = () => wd;
  await withCallbacks(learn, [new ParamScheduler(scheds)], () => learn.fit(nEpoch, lrMax));
}
