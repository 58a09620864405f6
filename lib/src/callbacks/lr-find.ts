// The learning rate finder (Leslie Smith's range test, as fastai's lr_find): train for a short while with
// a learning rate that grows by the same factor every batch, from far too small to far too large, and
// watch the loss. It falls slowly, then fast, then explodes; a good learning rate lies where it is still
// falling fast, well before the explosion. The model's weights and the optimizer are put back afterwards.
import { inspect } from "node:util";
import { tf } from "../tf";
import type { Learner } from "../learner";
import type { Optimizer } from "../optim";
import { CancelFit, CancelValidate, withCallbacks, type Callback } from "./core";
import { schedExp } from "./schedule";
import { DivergenceGuard } from "./divergence";
import { Recorder } from "./recorder";
import { ProgressTable } from "./progress-table";
import { linePlotHtml } from "../plot";
import { buffersOf } from "../nn";
import { showHtml } from "../jupyter";

/** Options of `learn.lrFind`. */
export interface LrFindOptions {
  /** The first learning rate (default 1e-7). */
  startLr?: number;
  /** The learning rate the run would reach after numIt batches (default 10). */
  endLr?: number;
  /** Training batches to run at most (default 100; the training set is gone through again if shorter). */
  numIt?: number;
  /** Stop once the smoothed loss exceeds 4 times its lowest value so far (default true). */
  stopDiv?: boolean;
  /** Plot loss against learning rate (default true). */
  show?: boolean;
}

/** Learning rates suggested by the curve. */
export interface LrSuggestions {
  /** Halfway down the longest stretch over which the loss keeps falling (fastai's "valley", its default). */
  valley: number;
  /** Where the loss falls fastest per step of log(lr) (fastai's "steep"). */
  steep: number;
  /** A tenth of the learning rate at the lowest loss (fastai's "minimum"). */
  minimum: number;
}

/**
 * What `learn.lrFind()` found: the loss at every learning rate tried and the suggested rate. As the
 * last value of a cell it shows itself (the plot and the suggestions).
 */
export interface LrFindResult {
  /** The learning rate of every batch run. */
  lrs: number[];
  /** The smoothed training loss after each of those batches. */
  losses: number[];
  /** The suggested learning rate: suggestions.valley. */
  suggestion: number;
  suggestions: LrSuggestions;
}

/**
 * fastai's LRFinder: saves the weights (and running statistics) and sets a fresh optimizer in before the fit; sets the learning
 * rate of every training batch, records it with the smoothed loss, skips validation, stops at numIt
 * batches or when the loss explodes; afterwards puts back the weights and the Learner's optimizer.
 */
export class LRFinder implements Callback {
  readonly name = "lrFinder";
  readonly lrs: number[] = [];
  readonly losses: number[] = [];
  private readonly lrAt: (pos: number) => number;
  private avg = 0;
  private best = Infinity;
  private saved?: { weights: tf.Tensor[]; opt?: Optimizer; lr?: number };

  /** `keptLr`: the Learner's learning rate before lrFind, put back afterwards (fit sets it to startLr). */
  constructor(private readonly startLr: number, endLr: number, private readonly numIt: number, private readonly stopDiv: boolean,
              private readonly keptLr?: number) {
    this.lrAt = schedExp(startLr, endLr);
  }

  beforeFit(learn: Learner): void {
    const params = learn.model.parameters();
    // The weights and what the model keeps besides them (BatchNorm's running statistics), as fastai saves the model.
    const state = [...params, ...buffersOf(learn.model)];
    this.saved = { weights: state.map((p) => tf.keep(p.clone())), opt: learn.opt, lr: this.keptLr };
    learn.opt = learn.optFunc(params, this.startLr); // its own optimizer: the Learner's momentum stays as it was
  }

  beforeBatch(learn: Learner): void {
    if (learn.training) learn.opt!.lr = this.lrAt(learn.iter / this.numIt);
  }

  afterBatch(learn: Learner): void {
    if (!learn.training) return;
    const loss = learn.lossValue;
    if (!Number.isFinite(loss) && this.lrs.length === 0) {
      throw new Error(`lrFind: the loss is ${loss} at the first batch, before any step was taken: the model or the ` +
        "data give it from the start, whatever the learning rate. Check the inputs and targets for NaN or infinite " +
        "values, and the model's output on one batch (learn.predict(xb)).");
    }
    // A batch's loss is noisy; its exponential moving average, debiased as Adam's averages are, is not.
    const beta = 0.98;
    this.avg = beta * this.avg + (1 - beta) * loss;
    const smooth = this.avg / (1 - beta ** (this.lrs.length + 1));
    if (!Number.isFinite(smooth)) throw new CancelFit(); // the loss overflowed: nothing more to learn
    this.lrs.push(learn.opt!.lr);
    this.losses.push(smooth);
    this.best = Math.min(this.best, smooth);
    if (this.stopDiv && smooth > 4 * this.best) throw new CancelFit();
    if (this.lrs.length >= this.numIt) throw new CancelFit();
  }

  beforeValidate(): void {
    throw new CancelValidate();
  }

  afterFit(learn: Learner): void {
    if (!this.saved) return;
    const { weights, opt, lr } = this.saved;
    learn.opt?.zeroGrad();
    learn.opt?.dispose?.();
    learn.opt = opt;
    if (opt && lr !== undefined) opt.lr = lr;
    [...learn.model.parameters(), ...buffersOf(learn.model)].forEach((p, i) => p.assign(weights[i]!));
    tf.dispose(weights);
    this.saved = undefined;
  }
}

/** Suggestions from the curve, leaving out its first tenth and last 5 points (noise, and the explosion). */
export function suggestLrs(lrs: number[], losses: number[], numIt = lrs.length): LrSuggestions {
  let from = Math.floor(numIt / 10), to = lrs.length - 5;
  if (to - from < 2) { from = 0; to = lrs.length; }
  const x = lrs.slice(from, to), y = losses.slice(from, to);
  if (x.length < 2) {
    throw new Error(`lrFind stopped after ${lrs.length} batch${lrs.length === 1 ? "" : "es"} (the loss exploded, or training was ` +
      "interrupted): too few to suggest a learning rate. If the loss exploded, start lower (startLr) or check the model and data.");
  }
  // valley: the longest decreasing subsequence of the losses; longest[i] is the longest ending at i.
  const longest = y.map(() => 1);
  let end = 0;
  for (let i = 1; i < y.length; i++) {
    for (let j = 0; j < i; j++) if (y[i]! < y[j]!) longest[i] = Math.max(longest[i]!, longest[j]! + 1);
    if (longest[i]! > longest[end]!) end = i;
  }
  const start = end - longest[end]!;
  const third = (end - start) / 3;
  const valley = x[Math.max(0, start + Math.floor(third) + Math.floor(third / 2))]!;
  // steep: the segment with the most negative slope d(loss)/d(log lr); its left end.
  let steepest = 0, slope = Infinity;
  for (let i = 0; i + 1 < x.length; i++) {
    const s = (y[i + 1]! - y[i]!) / (Math.log(x[i + 1]!) - Math.log(x[i]!));
    if (s < slope) { slope = s; steepest = i; }
  }
  const lowest = y.indexOf(Math.min(...y));
  return displayable({ valley, steep: x[steepest]!, minimum: x[lowest]! / 10 });
}

/** Gives the suggestions a one-line display in a cell (fastai's `SuggestedLRs(valley=...)`), as a hidden property. */
function displayable(s: LrSuggestions): LrSuggestions {
  const e = (v: number) => v.toExponential(2);
  Object.defineProperty(s, inspect.custom, {
    value: () => `SuggestedLRs(valley ${e(s.valley)}, steep ${e(s.steep)}, minimum/10 ${e(s.minimum)})`,
  });
  return s;
}

/**
 * Runs the learning rate finder on `learn` (fastai's lr_find): up to numIt training batches at learning
 * rates growing exponentially from startLr towards endLr, with a fresh optimizer from the Learner's
 * optFunc, no validation, and nothing recorded by the Recorder. Afterwards the weights are exactly
 * what they were and the Learner's optimizer is the one it had. Plots loss against learning rate on a
 * log scale and returns the curve with suggested rates.
 */
export async function lrFind(learn: Learner, opts: LrFindOptions = {}): Promise<LrFindResult> {
  const { startLr = 1e-7, endLr = 10, numIt = 100, stopDiv = true, show = true } = opts;
  if (!(startLr > 0 && endLr > startLr && Number.isFinite(endLr))) {
    throw new Error(`lrFind needs 0 < startLr < endLr (finite); got startLr ${startLr}, endLr ${endLr}.`);
  }
  if (!Number.isInteger(numIt) || numIt < 2) throw new Error(`lrFind needs numIt, a number of batches, of at least 2; got ${numIt}.`);
  const perEpoch = learn.dls.train.length;
  if (!(perEpoch > 0)) throw new Error("lrFind: the training loader gives no batches.");
  const finder = new LRFinder(startLr, endLr, numIt, stopDiv, learn.opt?.lr);
  // As many epochs as numIt batches need (validation is skipped). The finder watches the losses itself: a
  // diverging loss is what it looks for, not an error to report, and this short run is no part of the
  // model's training history, so the guard, the Recorder and the progress table sit it out.
  await withCallbacks(learn, [finder], () => learn.fit(Math.ceil(numIt / perEpoch), startLr), [DivergenceGuard, Recorder, ProgressTable]);
  const suggestions = suggestLrs(finder.lrs, finder.losses, numIt);
  const result = { lrs: finder.lrs, losses: finder.losses, suggestion: suggestions.valley, suggestions };
  if (show) plotLrFind(result);
  return result;
}

/** HTML for plotLrFind. */
export function plotLrFindHtml({ lrs, losses, suggestions }: LrFindResult): string {
  const n = lrs.length > 10 ? lrs.length - 5 : lrs.length; // the explosion would squash the rest of the curve
  const valley = suggestions.valley;
  return linePlotHtml([
    { x: lrs.slice(0, n), y: losses.slice(0, n), name: "smoothed loss" },
    { x: [valley], y: [losses[lrs.indexOf(valley)] ?? NaN], name: `suggestion (valley): ${valley.toExponential(2)}`, mode: "markers", color: "#d62728" },
  ], { title: "Learning rate finder", xLabel: "learning rate (log scale)", yLabel: "loss", logX: true });
}

/** Plots the finder's smoothed loss against the learning rate (log scale), without its last 5 points, and the suggestions. */
export function plotLrFind(result: LrFindResult): void {
  const s = result.suggestions;
  showHtml(plotLrFindHtml(result), `[plot: learning rate finder, ${result.lrs.length} batches; suggestions: valley ${s.valley.toExponential(2)}, ` +
    `steep ${s.steep.toExponential(2)}, minimum/10 ${s.minimum.toExponential(2)}]`);
}
