// A U-Net (Ronneberger, Fischer and Brox, 2015) for one logit per pixel: an encoder of conv-BatchNorm-ReLU
// blocks that halves the image at each level, a decoder that doubles it back with transposed convolutions and
// joins the encoder's features of the same scale, then a 1x1 convolution. The output is cropped to the masks'
// size, so losses and metrics see exactly the original pixels.
import { tf } from "../tf";
import { BatchNorm2d, Conv2d, MaxPool2d, type Module } from "../nn";
import { Learner, type LearnerOptions, type LossFunc, type Metric } from "../learner";
import { adam, type OptFunc } from "../optim";
import { cropCenter, type MaskLoader, type SegmentationDataLoaders } from "./data";
import { lovaszHingeLoss, pixelBCE } from "./losses";
import { iou, saltScore } from "./metrics";
import type { Mask } from "./rle";
import { showMaskBatch, type ShowMasksOptions } from "./show";

/** A piece of the network: a Module without `forward` (its inputs are two tensors). */
type Part = Omit<Module, "forward">;

/** Conv (no bias: BatchNorm's shift replaces it), BatchNorm, ReLU. */
export class ConvBnRelu implements Module {
  readonly conv: Conv2d<false>;
  readonly bn: BatchNorm2d;
  constructor(inChannels: number, outChannels: number, seed?: number) {
    this.conv = new Conv2d(inChannels, outChannels, 3, { bias: false, seed, init: "kaimingFanIn" });
    this.bn = new BatchNorm2d(outChannels);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.relu(this.bn.forward(this.conv.forward(x)));
  }
  parameters(): tf.Variable[] {
    return [...this.conv.parameters(), ...this.bn.parameters()];
  }
  buffers(): tf.Variable[] {
    return this.bn.buffers();
  }
  train(mode: boolean): void {
    this.bn.train(mode);
  }
}

/**
 * The decoder's first block at a level: ConvBnRelu over the up-sampled features and the encoder's features
 * joined along the channels. A convolution over a channel concatenation [u, s] is the sum of a convolution of
 * u and one of s with the two halves of its filter; summing avoids copying both into a new tensor (a channel
 * concatenation is slow on the wasm backend), and the two filters together are the one filter PyTorch's
 * conv over torch.cat([u, s], 1) would hold.
 */
export class JoinConvBnRelu implements Part {
  readonly fromUp: Conv2d<false>;
  readonly fromSkip: Conv2d<false>;
  readonly bn: BatchNorm2d;
  constructor(upChannels: number, skipChannels: number, outChannels: number, seed?: number) {
    this.fromUp = new Conv2d(upChannels, outChannels, 3, { bias: false, seed, init: "kaimingFanIn" });
    this.fromSkip = new Conv2d(skipChannels, outChannels, 3, { bias: false, seed: seed === undefined ? undefined : seed + 7919, init: "kaimingFanIn" });
    this.bn = new BatchNorm2d(outChannels);
  }
  /** The block's output for the up-sampled features `up` and the encoder's `skip` of the same size. */
  join(up: tf.Tensor, skip: tf.Tensor): tf.Tensor {
    return tf.relu(this.bn.forward(tf.add(this.fromUp.forward(up), this.fromSkip.forward(skip))));
  }
  parameters(): tf.Variable[] {
    return [...this.fromUp.parameters(), ...this.fromSkip.parameters(), ...this.bn.parameters()];
  }
  buffers(): tf.Variable[] {
    return this.bn.buffers();
  }
  train(mode: boolean): void {
    this.bn.train(mode);
  }
}

/** A 2x2 transposed convolution with stride 2: doubles height and width (the U-Net's "up-convolution"). */
export class UpConv2x implements Module {
  readonly filter: tf.Variable;
  readonly bias: tf.Variable;
  constructor(readonly inChannels: number, readonly outChannels: number, seed?: number) {
    // Filter [2, 2, out, in] as tf.conv2dTranspose takes it; uniform in ±1/sqrt(fan), as PyTorch initialises it.
    const limit = 1 / Math.sqrt(outChannels * 4);
    this.filter = tf.tidy(() => tf.variable(tf.randomUniform([2, 2, outChannels, inChannels], -limit, limit, "float32", seed)));
    this.bias = tf.tidy(() => tf.variable(tf.zeros([outChannels])));
  }
  forward(x: tf.Tensor): tf.Tensor {
    const [n, h, w] = x.shape as [number, number, number, number];
    return tf.add(tf.conv2dTranspose(x as tf.Tensor4D, this.filter as tf.Tensor4D, [n, 2 * h, 2 * w, this.outChannels], 2, "same"), this.bias);
  }
  parameters(): tf.Variable[] {
    return [this.filter, this.bias];
  }
}

/** Options of `new UNet(opts)`. */
export interface UNetOptions {
  /** Channels at each level, from the full-size level down (default [8, 16, 32, 64]: four levels, three halvings). */
  channels?: number[];
  /** The input's channels (default 1: gray). */
  inChannels?: number;
  /** Crop the output to this [height, width], centred (the masks' size when the images were padded). */
  outputSize?: [number, number];
  /** Makes the starting weights reproducible. */
  seed?: number;
}

/**
 * A U-Net over images [N, side, side, inChannels] (side divisible by 2^(levels-1)), giving one logit per pixel
 * [N, side, side, 1], or [N, h, w, 1] with `outputSize`.
 */
export class UNet implements Module {
  readonly encoder: [ConvBnRelu, ConvBnRelu][];
  readonly pool = new MaxPool2d(2);
  readonly ups: UpConv2x[];
  readonly decoder: [JoinConvBnRelu, ConvBnRelu][];
  readonly head: Conv2d;
  readonly channels: number[];
  readonly outputSize?: [number, number];

  constructor(opts: UNetOptions = {}) {
    const ch = this.channels = opts.channels ?? [8, 16, 32, 64];
    if (ch.length < 2 || !ch.every((c) => Number.isInteger(c) && c > 0)) {
      throw new Error(`UNet: channels must list two or more positive whole numbers, one per level; got [${ch}].`);
    }
    this.outputSize = opts.outputSize;
    let seed = opts.seed;
    const next = () => (seed === undefined ? undefined : seed++);
    this.encoder = ch.map((c, i) => [new ConvBnRelu(i === 0 ? opts.inChannels ?? 1 : ch[i - 1]!, c, next()), new ConvBnRelu(c, c, next())]);
    this.ups = ch.slice(1).map((c, i) => new UpConv2x(c, ch[i]!, next()));
    this.decoder = ch.slice(0, -1).map((c) => [new JoinConvBnRelu(c, c, c, next()), new ConvBnRelu(c, c, next())]);
    this.head = new Conv2d(ch[0]!, 1, 1, { seed: next() });
  }

  forward(x: tf.Tensor): tf.Tensor {
    const levels = this.channels.length, factor = 2 ** (levels - 1);
    if (x.rank !== 4 || x.shape[1]! % factor !== 0 || x.shape[2]! % factor !== 0) {
      throw new Error(`UNet with ${levels} levels takes images [N, height, width, channels] whose height and width divide by ` +
        `${factor}; got [${x.shape}]. Pad them (SegmentationDataLoaders pads 101 to 128).`);
    }
    return tf.tidy(() => {
      const skips: tf.Tensor[] = [];
      let h = x;
      this.encoder.forEach(([a, b], i) => {
        h = b.forward(a.forward(h));
        if (i < levels - 1) {
          skips.push(h);
          h = this.pool.forward(h);
        }
      });
      for (let i = levels - 2; i >= 0; i--) {
        const [join, conv] = this.decoder[i]!;
        h = conv.forward(join.join(this.ups[i]!.forward(h), skips[i]!));
      }
      const logits = this.head.forward(h);
      return this.outputSize ? cropCenter(logits, ...this.outputSize) : logits;
    });
  }

  private parts(): Part[] {
    return [...this.encoder.flat(), ...this.ups, ...this.decoder.flat(), this.head];
  }

  parameters(): tf.Variable[] {
    return this.parts().flatMap((m) => m.parameters());
  }

  /** BatchNorm's running statistics, learned but not trained. */
  buffers(): tf.Variable[] {
    return this.parts().flatMap((m) => m.buffers?.() ?? []);
  }

  train(mode: boolean): void {
    for (const m of this.parts()) m.train?.(mode);
  }
}

/** Binary cross-entropy plus the Lovász hinge, per pixel: a common recipe of the competition's strong entries. */
export function bceLovaszLoss(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.add(pixelBCE(logits, targets), lovaszHingeLoss(logits, targets)) as tf.Scalar);
}

/** What SegmentationLearner.preds returns; the caller disposes both tensors. */
export interface MaskPreds {
  /** The model's logits [N, h, w, 1], at the masks' size. */
  logits: tf.Tensor4D;
  /** The masks [N, h, w, 1] (zeros for a test loader). */
  targets: tf.Tensor4D;
}

/** A Learner for masks, with predictions over whole loaders (the model in evaluation mode). */
export class SegmentationLearner extends Learner {
  declare readonly dls: SegmentationDataLoaders;

  /** Runs `f` with the model in evaluation mode (BatchNorm on its running statistics); a fit sets the mode again. */
  private evaluating<T>(f: () => T): T {
    this.model.train?.(false);
    return f();
  }

  /** The model's logits and the masks for every item of `dl` (default: the validation set), in its order. */
  preds(dl: MaskLoader = this.dls.valid): MaskPreds {
    return this.evaluating(() => {
      const logits: tf.Tensor[] = [], targets: tf.Tensor[] = [];
      try {
        for (const [xb, yb] of dl) {
          logits.push(tf.tidy(() => this.model.forward(xb)));
          targets.push(yb);
          xb.dispose();
        }
        return { logits: tf.concat(logits) as tf.Tensor4D, targets: tf.concat(targets) as tf.Tensor4D };
      } finally {
        tf.dispose([...logits, ...targets]);
      }
    });
  }

  /**
   * The smallest-mask size for dropSmallMasks and `predictMasks` that scores best on the first `n` items of
   * `dl` (default: 640 training images; choosing on the validation set would flatter its score). Each candidate
   * empties the predictions covering fewer pixels than it; the smallest of equally good candidates wins.
   */
  chooseMinPixels({ dl = this.dls.train, n = 640, candidates = MIN_PIXEL_CANDIDATES }: MinPixelsOptions = {}): MinPixelsChoice {
    if (!candidates.length || !candidates.every((m) => Number.isFinite(m) && m >= 0)) {
      throw new Error(`chooseMinPixels: candidates must be pixel counts >= 0; got [${candidates}].`);
    }
    const count = Math.min(Math.floor(n), dl.n);
    if (!(count > 0)) throw new Error(`chooseMinPixels: n must be at least 1 and the loader must have items; got n ${n}, ${dl.n} items.`);
    // One forward pass: per image, the predicted area, whether the truth is empty and the score as predicted.
    // Dropping a mask changes only that image's score, to 1 for an empty truth and 0 otherwise.
    const area: number[] = [], empty: boolean[] = [], score: number[] = [];
    this.evaluating(() => {
      for (let start = 0; start < count; start += dl.bs) {
        const idx = Array.from({ length: Math.min(dl.bs, count - start) }, (_, i) => start + i);
        const [xb, yb] = dl.batch(idx);
        const parts = tf.tidy(() => {
          const logits = this.model.forward(xb), k = idx.length;
          return [tf.sum(tf.greater(logits.reshape([k, -1]), 0).cast("float32"), 1), tf.sum(yb.reshape([k, -1]), 1),
            saltScore(logits, yb, { reduction: "none" })];
        });
        tf.dispose([xb, yb]);
        const [a, t, s] = parts.map((p) => p.dataSync());
        tf.dispose(parts);
        for (let i = 0; i < idx.length; i++) area.push(a![i]!), empty.push(t![i] === 0), score.push(s![i]!);
      }
    });
    const scores = candidates.map((m) => score.reduce((sum, s, i) => sum + (area[i]! < m ? (empty[i] ? 1 : 0) : s), 0) / count);
    const best = Math.max(...scores);
    const minPixels = Math.min(...candidates.filter((_, i) => scores[i] === best));
    return { minPixels, candidates: [...candidates], scores, items: count };
  }

  /**
   * Draws validation items (the first `n`, or `items`, e.g. the worst by score): image, true mask in orange,
   * predicted mask in cyan with the item's score.
   */
  showResults(opts: Omit<ShowMasksOptions, "learn" | "valid"> = {}): void {
    showMaskBatch(this.dls, { ...opts, valid: true, learn: this });
  }

  /**
   * Predicted masks (salt where the probability exceeds `threshold`, default 0.5) for every item of `dl`, batch
   * by batch on the host: for a test set of any size (Kaggle's has 18,000 images). Masks of fewer than
   * `minPixels` salt pixels become empty (see dropSmallMasks).
   */
  predictMasks(dl: MaskLoader, { threshold = 0.5, minPixels = 0 }: { threshold?: number; minPixels?: number } = {}): { ids: string[]; masks: Mask[] } {
    const [height, width] = this.dls.imageSize;
    const cut = Math.log(threshold / (1 - threshold)); // the logit of the threshold
    return this.evaluating(() => {
      const masks: Mask[] = [];
      for (const [xb, yb] of dl) {
        const logits = tf.tidy(() => this.model.forward(xb));
        tf.dispose([xb, yb]);
        const v = logits.dataSync();
        logits.dispose();
        for (let k = 0; k * height * width < v.length; k++) {
          const data = Uint8Array.from(v.subarray(k * height * width, (k + 1) * height * width), (z) => (z > cut ? 1 : 0));
          if (data.reduce((s, b) => s + b, 0) < minPixels) data.fill(0);
          masks.push({ height, width, data });
        }
      }
      return { ids: [...dl.pairs.ids], masks };
    });
  }
}

/** The sizes `chooseMinPixels` tries by default, in pixels. */
export const MIN_PIXEL_CANDIDATES: readonly number[] = [0, 10, 20, 40, 70, 100, 150, 200, 300, 400, 600, 800, 1000];

/** Options of `SegmentationLearner.chooseMinPixels`. */
export interface MinPixelsOptions {
  /** Where to choose (default the training loader, read in order without flips). */
  dl?: MaskLoader;
  /** How many of its first items (default 640). */
  n?: number;
  /** The sizes to try, in pixels (default MIN_PIXEL_CANDIDATES). */
  candidates?: readonly number[];
}

/** What `chooseMinPixels` found. */
export interface MinPixelsChoice {
  /** The best candidate. */
  minPixels: number;
  /** The candidates tried, and the mean score each gave. */
  candidates: number[];
  scores: number[];
  /** How many items were scored. */
  items: number;
}

/** Options of `unetLearner`: the U-Net's and the Learner's. */
export interface UNetLearnerOptions extends UNetOptions, Partial<Omit<LearnerOptions, "lossFunc" | "metrics">> {
  /** Default bceLovaszLoss. */
  lossFunc?: LossFunc;
  /** Default [saltScore, iou]. */
  metrics?: Metric[];
  /** Default Adam with fastai's settings. */
  optFunc?: OptFunc;
}

/**
 * A SegmentationLearner with a UNet sized for the loaders: input padded to `dls.side`, output cropped to the
 * masks' size. Defaults: BCE + Lovász loss, Adam, metrics saltScore and iou (fastai's `unet_learner` in spirit,
 * without a pretrained encoder).
 */
export function unetLearner(dls: SegmentationDataLoaders, opts: UNetLearnerOptions = {}): SegmentationLearner {
  const { channels, inChannels, seed, lossFunc, metrics, optFunc, ...rest } = opts;
  const model = new UNet({ channels, inChannels, seed, outputSize: dls.imageSize });
  return new SegmentationLearner(dls, model, {
    ...rest, lossFunc: lossFunc ?? bceLovaszLoss, metrics: metrics ?? [saltScore, iou], optFunc: optFunc ?? adam(),
  });
}
