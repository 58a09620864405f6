// Layers as small objects: a forward function and the variables it learns. Nothing more.
import { tf } from "./tf";
import { fastPaths } from "./fast-paths";
import { seededRandom } from "./dataloader";

/**
 * What every layer and model is: a function of a batch (`forward`) and the variables it learns
 * (`parameters`). Write your own by implementing these two, e.g.
 * `{ forward: (x) => tf.relu(x), parameters: () => [] }`; a Learner trains any Module.
 */
export interface Module {
  /** Computes the layer's output for a batch `x` (the first axis is the batch). */
  forward(x: tf.Tensor): tf.Tensor;
  /** The variables an optimizer updates. */
  parameters(): tf.Variable[];
  /** Variables kept but not learned (BatchNorm's running statistics); saved and restored with the parameters. */
  buffers?(): tf.Variable[];
  /** Training (true) or evaluation (false) mode, for layers that differ (the Learner sets it before each pass). */
  train?(mode: boolean): void;
}

/**
 * The variables a module keeps but does not learn (BatchNorm's running statistics), in order: with
 * `parameters()`, everything that makes up a trained model.
 */
export function buffersOf(m: Module): tf.Variable[] {
  return m.buffers?.() ?? [];
}

/** How a layer's weights start. */
export type Init = "glorot" | "kaimingFanIn" | "kaimingFanOut";

/** Uniform in ±sqrt(6 / (fanIn + fanOut)): tf.layers' default (Glorot) initializer for kernels. */
function glorotUniform(shape: number[], fanIn: number, fanOut: number, seed?: number): tf.Tensor {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return tf.randomUniform(shape, -limit, limit, "float32", seed);
}

/**
 * Random starting weights: "glorot" is uniform in ±sqrt(6 / (fanIn + fanOut)) (tf.layers' default);
 * "kaimingFanIn"/"kaimingFanOut" are normal with standard deviation sqrt(2 / fan) (He et al.'s, for
 * layers followed by ReLU: PyTorch's kaiming_normal_, which torchvision's ResNets use with fan_out).
 */
function initWeights(init: Init, shape: number[], fanIn: number, fanOut: number, seed?: number): tf.Tensor {
  if (init === "glorot") return glorotUniform(shape, fanIn, fanOut, seed);
  const fan = init === "kaimingFanIn" ? fanIn : fanOut;
  return tf.randomNormal(shape, 0, Math.sqrt(2 / fan), "float32", seed);
}

/** A learned variable made from a tensor built in a tidy (the variable keeps the data, tidy drops the handle). */
const learned = (make: () => tf.Tensor) => tf.tidy(() => tf.variable(make()));

/** `bias: false` leaves a layer without a bias, as PyTorch's `bias=False`. */
type MaybeBias<B extends boolean> = B extends false ? undefined : tf.Variable;

/**
 * A fully connected layer, x·W + b, initialised as tf.layers.dense does (Glorot-uniform weights,
 * zero bias). The weight is [inFeatures, outFeatures] (PyTorch stores the transpose). `bias: false`
 * leaves out b; `init` picks another starting distribution (see Init).
 */
export class Linear<B extends boolean = true> implements Module {
  readonly weight: tf.Variable;
  readonly bias: MaybeBias<B>;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { seed?: number; bias?: B; init?: Init } = {}) {
    this.weight = learned(() => initWeights(opts.init ?? "glorot", [inFeatures, outFeatures], inFeatures, outFeatures, opts.seed));
    this.bias = (opts.bias === false ? undefined : learned(() => tf.zeros([outFeatures]))) as MaybeBias<B>;
  }
  forward(x: tf.Tensor): tf.Tensor {
    this.checkInput(x);
    const product = () => tf.matMul(x as tf.Tensor2D, this.weight as tf.Tensor2D);
    return this.oneKernel(x, false) ?? (this.bias ? tf.add(product(), this.bias) : product());
  }
  /** relu(forward(x)), as one kernel where the backend has one (Sequential uses it for a Linear then a ReLU). */
  forwardThenRelu(x: tf.Tensor): tf.Tensor {
    this.checkInput(x);
    return this.oneKernel(x, true) ?? tf.relu(this.forward(x));
  }
  /** x·W + b (then relu) as one kernel where the backend has one; undefined elsewhere and without a bias. */
  private oneKernel(x: tf.Tensor, relu: boolean): tf.Tensor | undefined {
    return this.bias ? fastPaths.linear?.(x, this.weight, this.bias, relu) : undefined;
  }
  private checkInput(x: tf.Tensor): void {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new Error(`Linear(${this.inFeatures}, ${this.outFeatures}) takes rows of ${this.inFeatures} numbers, [N, ${this.inFeatures}]; ` +
        `got [${x.shape}].` + (x.rank > 2 ? " Flatten images into rows first: the loaders' option flatten: true, or new Reshape() before it." : ""));
    }
  }
  parameters(): tf.Variable[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }
}

/** max(x, 0), element by element. */
export class ReLU implements Module {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }
  parameters(): tf.Variable[] {
    return [];
  }
}

/**
 * Runs layers one after another. A Linear or Conv2d followed by a ReLU runs as one step (`forwardThenRelu`):
 * the same values, with the ReLU applied to the layer's output while it is still in cache, where the backend
 * has such a kernel (wasm with OpenBLAS); elsewhere it is the two layers' forward passes.
 */
export class Sequential implements Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    this.layers = layers;
  }
  forward(x: tf.Tensor): tf.Tensor {
    const layers = this.layers;
    let h = x;
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      if (isPlainRelu(layers[i + 1]) && hasOwnForward(layer)) {
        h = layer.forwardThenRelu(h);
        i++; // the ReLU is done
      } else {
        h = layer.forward(h);
      }
    }
    return h;
  }
  parameters(): tf.Variable[] {
    return this.layers.flatMap((l) => l.parameters());
  }
  buffers(): tf.Variable[] {
    return this.layers.flatMap(buffersOf);
  }
  /** Puts every layer in training (true) or evaluation (false) mode. */
  train(mode: boolean): void {
    for (const l of this.layers) l.train?.(mode);
  }
}

/**
 * A 2-D convolution over NHWC images ([batch, height, width, channels], TensorFlow's layout), with
 * Glorot-uniform filters and zero bias, like tf.layers.conv2d. `padding`: "same" (the default: the output
 * is the input's size divided by the stride, rounded up), "valid" (none), or a number of zero rows and
 * columns on every side, as PyTorch's `padding` (output floor((size + 2·padding − k) / stride) + 1).
 * `bias: false` leaves out the bias; `init` picks another starting distribution (see Init).
 */
export class Conv2d<B extends boolean = true> implements Module {
  readonly filter: tf.Variable;
  readonly bias: MaybeBias<B>;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number,
              readonly opts: { stride?: number; padding?: "same" | "valid" | number; seed?: number; bias?: B; init?: Init } = {}) {
    const k = kernelSize;
    this.filter = learned(() => initWeights(opts.init ?? "glorot", [k, k, inChannels, outChannels], k * k * inChannels, k * k * outChannels, opts.seed));
    this.bias = (opts.bias === false ? undefined : learned(() => tf.zeros([outChannels]))) as MaybeBias<B>;
  }
  forward(x: tf.Tensor): tf.Tensor {
    const s = this.opts.stride ?? 1, pad = this.opts.padding ?? "same";
    const [f, b] = [this.filter as tf.Tensor4D, this.bias as tf.Tensor1D | undefined];
    // A numeric padding rounds the output size down, as PyTorch does.
    const conv = () => tf.conv2d(x as tf.Tensor4D, f, s, pad, "NHWC", 1, typeof pad === "number" ? "floor" : undefined);
    if (!b) return conv();
    return this.oneKernel(x, false) ?? tf.add(conv(), b);
  }
  /** relu(forward(x)), as one kernel where the backend has one (Sequential uses it for a Conv2d then a ReLU). */
  forwardThenRelu(x: tf.Tensor): tf.Tensor {
    return this.oneKernel(x, true) ?? tf.relu(this.forward(x));
  }
  /** conv2d + bias (then relu) as one kernel where the backend has one; undefined elsewhere, without a bias or with a numeric padding. */
  private oneKernel(x: tf.Tensor, relu: boolean): tf.Tensor | undefined {
    const s = this.opts.stride ?? 1, pad = this.opts.padding ?? "same";
    if (!this.bias || typeof pad !== "string") return undefined;
    return fastPaths.conv2dWithBias?.(x as tf.Tensor4D, this.filter as tf.Tensor4D, this.bias as tf.Tensor1D, s, pad, relu);
  }
  parameters(): tf.Variable[] {
    return this.bias ? [this.filter, this.bias] : [this.filter];
  }
}

/** A ReLU layer whose forward pass is ReLU's own (a subclass or a changed forward runs as written). */
const isPlainRelu = (m: Module | undefined): m is ReLU => m instanceof ReLU && m.forward === ReLU.prototype.forward;

/** A Linear or Conv2d whose forward pass is its class's own, so that forwardThenRelu computes relu(forward(x)). */
const hasOwnForward = (m: Module): m is Linear | Conv2d =>
  (m instanceof Linear && m.forward === Linear.prototype.forward) || (m instanceof Conv2d && m.forward === Conv2d.prototype.forward);

/** Reshapes [batch, ...] to [batch, features], or to [batch, ...shape] when a shape is given. */
export class Reshape implements Module {
  constructor(readonly shape: number[] = [-1]) {}
  forward(x: tf.Tensor): tf.Tensor {
    return tf.reshape(x, [x.shape[0], ...this.shape]);
  }
  parameters(): tf.Variable[] {
    return [];
  }
}

/** Averages each channel over height and width: [N,H,W,C] -> [N,C]. */
export class GlobalAvgPool implements Module {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.mean(x, [1, 2]);
  }
  parameters(): tf.Variable[] {
    return [];
  }
}

/** Flattens [batch, ...] to [batch, features] (on NHWC tensors, in height, width, channel order). */
export class Flatten extends Reshape {
  constructor() {
    super([-1]);
  }
}

/**
 * Batch normalisation over the last axis, the channels (NHWC). In training mode each channel is
 * normalised by the batch's own mean and (biased) variance, then scaled and shifted by learned weights:
 *   y = (x − mean) / √(var + eps) · weight + bias
 * and running averages of the statistics are kept, running ← (1 − momentum)·running + momentum·batch,
 * with the unbiased variance (n / (n − 1) times the batch's), as PyTorch does. In evaluation mode the
 * running averages stand in for the batch's. weight starts at 1, bias at 0; the running mean at 0 and
 * the running variance at 1. BatchNorm2d and BatchNorm1d fix the input's rank.
 */
abstract class BatchNorm implements Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly eps: number;
  readonly momentum: number;
  training = true;
  protected abstract readonly ranks: number[];
  protected abstract readonly shapeName: string;

  constructor(readonly numFeatures: number, opts: { eps?: number; momentum?: number } = {}) {
    this.weight = learned(() => tf.ones([numFeatures]));
    this.bias = learned(() => tf.zeros([numFeatures]));
    // Not trainable: an optimizer never sees them; they change only through the averages above.
    this.runningMean = tf.tidy(() => tf.variable(tf.zeros([numFeatures]), false));
    this.runningVar = tf.tidy(() => tf.variable(tf.ones([numFeatures]), false));
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
  }

  forward(x: tf.Tensor): tf.Tensor {
    const name = this.constructor.name;
    if (!this.ranks.includes(x.rank) || x.shape[x.rank - 1] !== this.numFeatures) {
      throw new Error(`${name}(${this.numFeatures}) takes ${this.shapeName} with ${this.numFeatures} channels last; got [${x.shape}].`);
    }
    if (!this.training) return this.normalize(x, this.runningMean, this.runningVar);
    const axes = x.shape.slice(0, -1).map((_, i) => i); // all but the channels
    const n = x.size / this.numFeatures;
    if (n < 2) throw new Error(`${name} in training mode needs more than one value per channel; got [${x.shape}]. Use a batch of 2 or more, or call train(false) first.`);
    return fastPaths.batchNorm?.(x, this.weight, this.bias, this.eps, (mean, variance) => this.updateRunningStats(mean, variance, n)) ??
      this.normalizeBatch(x, axes, n);
  }

  /** (x − mean) · weight/√(var + eps) + bias, with the running statistics (evaluation mode). */
  private normalize(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor): tf.Tensor {
    return tf.add(tf.mul(tf.sub(x, mean), tf.mul(this.weight, tf.rsqrt(tf.add(variance, this.eps)))), this.bias);
  }

  /**
   * The formula with the batch's statistics (training mode), and its gradient written out as PyTorch's:
   *   dbias = Σ dy,  dweight = Σ dy·x̂,  dx = weight/√(var + eps) · (dy − dbias/n − x̂·dweight/n)
   * where x̂ = (x − mean)/√(var + eps) and the sums run over all but the channels. Left to automatic
   * differentiation, the same gradient comes as differences of large sums, which float32 rounds badly.
   */
  private normalizeBatch(x: tf.Tensor, axes: number[], n: number): tf.Tensor {
    const norm = tf.customGrad((...args: unknown[]) => {
      const [xs, weight, bias, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const mean = tf.div(tf.sum(xs, axes), n);
      const centred = tf.sub(xs, mean);
      const variance = tf.div(tf.sum(tf.square(centred), axes), n);
      this.updateRunningStats(mean, variance, n);
      const rstd = tf.rsqrt(tf.add(variance, this.eps));
      const xhat = tf.mul(centred, rstd);
      save([xhat, rstd, weight]);
      return {
        value: tf.add(tf.mul(xhat, weight), bias),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xh, r, w] = saved;
          const dbias = tf.sum(dy, axes), dweight = tf.sum(tf.mul(dy, xh), axes);
          const dx = tf.mul(tf.mul(w, r), tf.sub(dy, tf.add(tf.div(dbias, n), tf.mul(xh, tf.div(dweight, n)))));
          return [dx, dweight, dbias];
        },
      };
    });
    return norm(x, this.weight, this.bias);
  }

  private updateRunningStats(mean: tf.Tensor, variance: tf.Tensor, n: number): void {
    const m = this.momentum;
    tf.tidy(() => {
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(variance, (m * n) / (n - 1))));
    });
  }

  parameters(): tf.Variable[] {
    return [this.weight, this.bias];
  }
  buffers(): tf.Variable[] {
    return [this.runningMean, this.runningVar];
  }
  train(mode: boolean): void {
    this.training = mode;
  }
}

/** Batch normalisation of images [batch, height, width, channels], per channel (see BatchNorm). */
export class BatchNorm2d extends BatchNorm {
  protected readonly ranks = [4];
  protected readonly shapeName = "images [batch, height, width, channels]";
}

/** Batch normalisation of features [batch, features] (or [batch, length, features]), per feature. */
export class BatchNorm1d extends BatchNorm {
  protected readonly ranks = [2, 3];
  protected readonly shapeName = "[batch, features] or [batch, length, features]";
}

/**
 * Dropout: in training mode each value is zeroed with probability p and the survivors are divided by
 * 1 − p, so that the expected output is the input ("inverted" dropout). In evaluation mode it passes
 * its input through. A seed makes the sequence of masks repeatable.
 */
export class Dropout implements Module {
  training = true;
  private readonly rand: () => number;
  constructor(readonly p = 0.5, opts: { seed?: number } = {}) {
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout's probability p must be at least 0 and below 1; got ${p}.`);
    this.rand = opts.seed === undefined ? Math.random : seededRandom(opts.seed);
  }
  forward(x: tf.Tensor): tf.Tensor {
    if (!this.training || this.p === 0) return tf.clone(x);
    const seed = Math.floor(this.rand() * 2 ** 31);
    return tf.tidy(() => {
      const keep = tf.cast(tf.less(tf.randomUniform(x.shape, 0, 1, "float32", seed), 1 - this.p), "float32");
      return tf.mul(x, tf.div(keep, 1 - this.p));
    });
  }
  parameters(): tf.Variable[] {
    return [];
  }
  train(mode: boolean): void {
    this.training = mode;
  }
}

/**
 * The largest value in each kernelSize×kernelSize window, moving by `stride` (default kernelSize), over
 * images padded by `padding` on every side (padding never wins). Output size as PyTorch's:
 * floor((size + 2·padding − kernelSize) / stride) + 1.
 */
export class MaxPool2d implements Module {
  constructor(readonly kernelSize: number, readonly stride = kernelSize, readonly padding = 0) {
    if (padding > kernelSize / 2) throw new Error(`MaxPool2d: padding (${padding}) must be at most half the kernel size (${kernelSize}).`);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.maxPool(x as tf.Tensor4D, this.kernelSize, this.stride, this.padding, "floor");
  }
  parameters(): tf.Variable[] {
    return [];
  }
}

type Size2 = number | [number, number];
const pair = (s: Size2): [number, number] => (Array.isArray(s) ? s : [s, s]);

/** PyTorch's adaptive pooling windows along one axis: output i covers floor(i·size/out) up to ceil((i+1)·size/out). */
function adaptiveWindows(size: number, out: number): [number, number][] {
  return Array.from({ length: out }, (_, i) => [Math.floor((i * size) / out), Math.ceil(((i + 1) * size) / out)]);
}

/** Pools [N, h, w, C] to [N, oh, ow, C], each output cell over its adaptive window. */
function adaptivePool(x: tf.Tensor, size: Size2, pool: typeof tf.avgPool): tf.Tensor {
  const [, h, w] = x.shape, [oh, ow] = pair(size);
  if (x.rank !== 4) throw new Error(`Adaptive pooling takes images [batch, height, width, channels]; got [${x.shape}].`);
  if (h % oh === 0 && w % ow === 0) return pool(x as tf.Tensor4D, [h / oh, w / ow], [h / oh, w / ow], "valid");
  return tf.tidy(() => tf.concat(adaptiveWindows(h, oh).map(([r0, r1]) => tf.concat(adaptiveWindows(w, ow).map(([c0, c1]) =>
    pool(tf.slice(x, [0, r0, c0, 0], [-1, r1 - r0, c1 - c0, -1]) as tf.Tensor4D, [r1 - r0, c1 - c0], 1, "valid")), 2)), 1));
}

/** Averages each channel over windows chosen so that the output is `outputSize` (default 1: the mean of each channel). */
export class AdaptiveAvgPool2d implements Module {
  constructor(readonly outputSize: Size2 = 1) {}
  forward(x: tf.Tensor): tf.Tensor {
    return adaptivePool(x, this.outputSize, tf.avgPool);
  }
  parameters(): tf.Variable[] {
    return [];
  }
}

/**
 * fastai's AdaptiveConcatPool2d: the adaptive max-pool and average-pool of each channel side by side,
 * max first: [N, h, w, C] -> [N, oh, ow, 2C].
 */
export class AdaptiveConcatPool2d implements Module {
  constructor(readonly outputSize: Size2 = 1) {}
  forward(x: tf.Tensor): tf.Tensor {
    return tf.concat([adaptivePool(x, this.outputSize, tf.maxPool), adaptivePool(x, this.outputSize, tf.avgPool)], 3);
  }
  parameters(): tf.Variable[] {
    return [];
  }
}

/** How many numbers a model learns. */
export function countParameters(m: Module): number {
  return m.parameters().reduce((n, p) => n + p.size, 0);
}
