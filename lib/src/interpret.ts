// What did the model get wrong? Predictions over a whole loader with each item's loss (getPreds), and for
// classifiers a confusion matrix (how often each actual class was predicted as each class), the pairs of
// classes most often confused, and the items with the highest losses: the model's worst mistakes, or
// mislabelled data.
import { tf } from "./tf";
import type { BatchSource, Learner, LossFunc } from "./learner";
import type { LossOptions } from "./losses";
import { setValueChecks } from "./checks";
import { heatmap, heatmapHtml } from "./plot";
import { showImages } from "./display";

/** What getPreds returns; the caller disposes the tensors (tf.dispose(Object.values(preds))). */
export interface Preds {
  /** Probabilities: softmax over the classes for outputs [N, C] (C > 1); sigmoid of a single output ([N]). */
  probs: tf.Tensor;
  /** The targets, as the loader gave them, concatenated. */
  targets: tf.Tensor;
  /** Each item's loss [N] (the Learner's loss with reduction "none"). Their mean is the loss over all. */
  losses: tf.Tensor1D;
  /** The predicted class [N] int32: the most probable one, or for a single output 1 where the probability > 0.5. */
  preds: tf.Tensor1D;
  /** The inputs, when asked for (withInput). */
  inputs?: tf.Tensor;
}

/**
 * Runs the model over every batch of `dl` (default: the validation loader) without training, and gathers
 * probabilities, targets, per-item losses and predicted classes, in the loader's order. Batches are
 * disposed as they are used, as the Learner does.
 */
export function getPreds(learn: Learner, dl: BatchSource = learn.dls.valid, { withInput = false } = {}): Preds {
  const parts: { out: tf.Tensor[]; targets: tf.Tensor[]; losses: tf.Tensor[]; inputs: tf.Tensor[] } = { out: [], targets: [], losses: [], inputs: [] };
  const all = () => [...parts.out, ...parts.targets, ...parts.losses, ...parts.inputs];
  learn.model.train?.(false);
  const checks = setValueChecks(true); // the first batch's values are checked, as in a fit
  try {
    for (const [xb, yb] of dl) {
      try {
        const out = tf.tidy(() => learn.model.forward(xb));
        parts.out.push(out);
        parts.targets.push(yb.clone());
        if (withInput) parts.inputs.push(xb.clone());
        parts.losses.push(itemLosses(learn.lossFunc, out, yb));
      } finally {
        tf.dispose([xb, yb]);
        setValueChecks(false);
      }
    }
    if (parts.out.length === 0) throw new Error("getPreds: the loader gave no batches.");
    return tf.tidy(() => {
      const out = tf.concat(parts.out);
      const multi = out.rank === 2 && out.shape[1]! > 1;
      if (!multi && out.size !== out.shape[0]) {
        throw new Error(`getPreds: the model's outputs have shape [${out.shape}]; expected [N, classes] or one number per item.`);
      }
      const probs = multi ? tf.softmax(out) : tf.sigmoid(out.reshape([-1]));
      const preds = (multi ? tf.argMax(probs, -1) : tf.cast(tf.greater(probs, 0.5), "int32")) as tf.Tensor1D;
      return {
        probs, preds, targets: tf.concat(parts.targets), losses: tf.concat(parts.losses) as tf.Tensor1D,
        ...(withInput ? { inputs: tf.concat(parts.inputs) } : {}),
      };
    });
  } finally {
    setValueChecks(checks);
    tf.dispose(all());
  }
}

/**
 * Each item's loss [N]: one call with fastai's `reduction: "none"`, which the library's losses take; a
 * loss that ignores it (it returns one number) is called item by item, on batches of one.
 */
function itemLosses(lossFunc: LossFunc, out: tf.Tensor, yb: tf.Tensor): tf.Tensor1D {
  const n = out.shape[0]!;
  return tf.tidy(() => {
    const perItem: tf.Tensor = (lossFunc as ItemLossFunc)(out, yb, { reduction: "none" });
    if (perItem.rank > 0 && perItem.size % n === 0) return tf.mean(perItem.reshape([n, -1]), 1) as tf.Tensor1D;
    return tf.stack(Array.from({ length: n }, (_, i) => lossFunc(tf.slice(out, i, 1), tf.slice(yb, i, 1)))) as tf.Tensor1D;
  });
}
type ItemLossFunc = (preds: tf.Tensor, targets: tf.Tensor, opts: LossOptions) => tf.Tensor;

/** An item of ClassificationInterpretation.topLosses. */
export interface TopLoss {
  /** Position in the loader's order (the row of the inputs). */
  index: number;
  predicted: string;
  actual: string;
  loss: number;
  /** The probability the model gave its prediction. */
  probability: number;
}

/**
 * A top loss's caption, one fact per line whatever the class names hold:
 * `"predicted Ankle boot\nactual T-shirt/top\nloss 12.78, prob 0.83"` (prob: of the prediction).
 */
export function topLossCaption(t: TopLoss): string {
  return `predicted ${t.predicted}\nactual ${t.actual}\nloss ${t.loss.toFixed(2)}, prob ${t.probability.toFixed(2)}`;
}

/** Options of `ClassificationInterpretation.fromLearner`. */
export interface InterpretationOptions {
  /** Class names, by class index (default: the loaders' vocab where they have one, else "0", "1", ...). */
  vocab?: string[];
  /** The loader to interpret (default: the validation loader). It should not be shuffled if you pass images later. */
  dl?: BatchSource;
}

/**
 * A classifier's results on a loader (fastai's ClassificationInterpretation). Holds the predictions and
 * the inputs as tensors: dispose() when done.
 */
export class ClassificationInterpretation {
  readonly vocab: string[];
  private readonly predicted: Int32Array;
  private readonly actual: Int32Array;
  private readonly lossValues: Float32Array;
  private readonly confidence: Float32Array;

  constructor(readonly preds: Preds, vocab?: string[]) {
    const { probs, targets, losses, preds: predicted } = preds;
    const classes = probs.rank === 2 ? probs.shape[1]! : 2;
    this.vocab = vocab ?? Array.from({ length: classes }, (_, i) => String(i));
    if (this.vocab.length !== classes) {
      throw new Error(`The model predicts ${classes} classes but the vocab has ${this.vocab.length} names (${this.vocab.join(", ")}): ` +
        "pass { vocab } with one name per class.");
    }
    this.predicted = predicted.dataSync() as Int32Array;
    const raw = targets.dataSync();
    this.actual = Int32Array.from(raw);
    if (this.actual.length !== this.predicted.length) {
      throw new Error(`${this.predicted.length} predictions but ${this.actual.length} targets: a classifier's targets are one class index per item.`);
    }
    const bad = this.actual.findIndex((t, i) => !(t >= 0 && t < classes) || t !== raw[i]);
    if (bad >= 0) throw new Error(`Target ${raw[bad]} (item ${bad}) is not a class index from 0 to ${classes - 1}.`);
    this.lossValues = losses.dataSync() as Float32Array;
    // The probability of the predicted class: the largest of a softmax, or p or 1 − p for a single output.
    const p = probs.dataSync();
    this.confidence = Float32Array.from(this.predicted, (c, i) => (probs.rank === 2 ? p[i * classes + c]! : c === 1 ? p[i]! : 1 - p[i]!));
  }

  /** Runs getPreds on the validation loader (or opts.dl), keeping the inputs for plotTopLosses. */
  static fromLearner(learn: Learner, opts: InterpretationOptions = {}): ClassificationInterpretation {
    const vocab = opts.vocab ?? learn.dls.vocab;
    const preds = getPreds(learn, opts.dl, { withInput: true });
    try {
      return new ClassificationInterpretation(preds, vocab && [...vocab]);
    } catch (e) {
      tf.dispose(Object.values(preds));
      throw e;
    }
  }

  /** counts[actual][predicted]: how many items of each class were predicted as each class. */
  confusionMatrix(): number[][] {
    const n = this.vocab.length;
    const counts = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    this.actual.forEach((a, i) => counts[a]![this.predicted[i]!]!++);
    return counts;
  }

  /** HTML for plotConfusionMatrix. */
  confusionMatrixHtml(title = "Confusion matrix"): string {
    return heatmapHtml(this.confusionMatrix(), { xTicks: this.vocab, yTicks: this.vocab, xLabel: "Predicted", yLabel: "Actual", title });
  }

  /** The confusion matrix as a heatmap: actual classes down, predicted across, counts in the cells. */
  plotConfusionMatrix(title = "Confusion matrix"): void {
    heatmap(this.confusionMatrix(), { xTicks: this.vocab, yTicks: this.vocab, xLabel: "Predicted", yLabel: "Actual", title });
  }

  /** [actual, predicted, count] for every mistake made at least minVal times, most frequent first. */
  mostConfused(minVal = 1): [string, string, number][] {
    const found: [string, string, number][] = [];
    this.confusionMatrix().forEach((row, a) => row.forEach((count, p) => {
      if (a !== p && count >= minVal) found.push([this.vocab[a]!, this.vocab[p]!, count]);
    }));
    return found.sort((x, y) => y[2] - x[2]); // stable: ties stay in row order
  }

  /** The k items with the highest losses, highest first (all of them when there are fewer). */
  topLosses(k = 9): TopLoss[] {
    if (!(Number.isInteger(k) && k >= 0)) throw new Error(`topLosses: k, the number of items, must be a whole number >= 0; got ${k}.`);
    const order = Array.from(this.lossValues.keys()).sort((i, j) => this.lossValues[j]! - this.lossValues[i]!);
    return order.slice(0, k).map((index) => ({
      index, predicted: this.vocab[this.predicted[index]!]!, actual: this.vocab[this.actual[index]!]!,
      loss: this.lossValues[index]!, probability: this.confidence[index]!,
    }));
  }

  /**
   * Shows the k highest-loss images, each captioned predicted/actual/loss/probability (the probability the
   * model gave its prediction). Images: the inputs kept by fromLearner, or `images` (one per item, in the
   * loader's order: [N, H, W], [N, H, W, 1], or flattened square images [N, H·W]).
   */
  async plotTopLosses(k = 9, { images, size }: { images?: tf.Tensor; size?: number } = {}): Promise<void> {
    const source = images ?? this.preds.inputs;
    if (!source) throw new Error("plotTopLosses needs the images: pass { images }, or make the interpretation with fromLearner, which keeps them.");
    if (source.shape[0] !== this.predicted.length) {
      throw new Error(`plotTopLosses: ${source.shape[0]} images for ${this.predicted.length} predictions; pass one image per item, in the loader's order.`);
    }
    if (!(Number.isInteger(k) && k >= 1 && k <= MAX_SHOWN)) {
      throw new Error(`plotTopLosses: k, the number of images, must be a whole number from 1 to ${MAX_SHOWN}; got ${k}. ` +
        "topLosses(k) lists any number of them without images.");
    }
    const top = this.topLosses(k);
    const pictures = top.map(({ index }) => tf.tidy(() => asImage(tf.slice(source, index, 1))));
    try {
      console.log(`The ${top.length} items with the highest losses, highest first:`);
      await showImages(pictures, { size, titles: top.map(topLossCaption), ncols: Math.ceil(Math.sqrt(top.length)) });
    } finally {
      tf.dispose(pictures);
    }
  }

  /** Frees the tensors held (predictions, targets, losses, inputs). */
  dispose(): void {
    tf.dispose(Object.values(this.preds));
  }
}

/** The most images plotTopLosses draws in one call (each is an embedded picture). */
const MAX_SHOWN = 100;

/** One item [1, ...] as a 2-D image. */
function asImage(item: tf.Tensor): tf.Tensor2D {
  const dims = item.shape.slice(1).filter((d) => d !== 1);
  if (dims.length === 2) return item.reshape(dims) as tf.Tensor2D;
  const side = Math.round(Math.sqrt(dims[0] ?? 0));
  if (dims.length === 1 && side * side === dims[0]) return item.reshape([side, side]) as tf.Tensor2D;
  throw new Error(`Cannot show an item of shape [${item.shape.slice(1)}] as an image: expected [H, W], [H, W, 1] or H·W values of a square image.`);
}
