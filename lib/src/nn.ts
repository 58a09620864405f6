// Layers as small objects: a forward function and the variables it learns. Nothing more.
import { tf } from "./tf";
import { fastPaths } from "./fast-paths";

export interface Module {
  forward(x: tf.Tensor): tf.Tensor;
  /** The variables an optimizer updates. */
  parameters(): tf.Variable[];
  /** Training (true) or evaluation (false) mode, for layers that differ (the Learner sets it before each pass). */
  train?(mode: boolean): void;
}

/** Uniform in ±sqrt(6 / (fanIn + fanOut)): tf.layers' default (Glorot) initializer for kernels. */
function glorotUniform(shape: number[], fanIn: number, fanOut: number, seed?: number): tf.Tensor {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return tf.randomUniform(shape, -limit, limit, "float32", seed);
}

/**
 * A fully connected layer, x·W + b, initialised as tf.layers.dense does (Glorot-uniform weights,
 * zero bias). The weight is [inFeatures, outFeatures] (PyTorch stores the transpose).
 */
export class Linear implements Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { seed?: number } = {}) {
    // A variable shares its initial tensor's data but not its handle: tidy drops the handle.
    this.weight = tf.tidy(() => tf.variable(glorotUniform([inFeatures, outFeatures], inFeatures, outFeatures, opts.seed)));
    this.bias = tf.tidy(() => tf.variable(tf.zeros([outFeatures])));
  }
  forward(x: tf.Tensor): tf.Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new Error(`Linear(${this.inFeatures}, ${this.outFeatures}) takes rows of ${this.inFeatures} numbers, [N, ${this.inFeatures}]; ` +
        `got [${x.shape}].` + (x.rank > 2 ? " Flatten images into rows first: the loaders' option flatten: true, or new Reshape() before it." : ""));
    }
    return tf.add(tf.matMul(x as tf.Tensor2D, this.weight as tf.Tensor2D), this.bias);
  }
  parameters(): tf.Variable[] {
    return [this.weight, this.bias];
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

/** Runs layers one after another. */
export class Sequential implements Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    this.layers = layers;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return this.layers.reduce((h, layer) => layer.forward(h), x);
  }
  parameters(): tf.Variable[] {
    return this.layers.flatMap((l) => l.parameters());
  }
}

/**
 * A 2-D convolution over NHWC images ([batch, height, width, channels], TensorFlow's layout), with
 * Glorot-uniform filters and zero bias, like tf.layers.conv2d.
 */
export class Conv2d implements Module {
  readonly filter: tf.Variable;
  readonly bias: tf.Variable;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number,
              readonly opts: { stride?: number; padding?: "same" | "valid"; seed?: number } = {}) {
    const k = kernelSize;
    this.filter = tf.tidy(() => tf.variable(glorotUniform([k, k, inChannels, outChannels], k * k * inChannels, k * k * outChannels, opts.seed)));
    this.bias = tf.tidy(() => tf.variable(tf.zeros([outChannels])));
  }
  forward(x: tf.Tensor): tf.Tensor {
    const s = this.opts.stride ?? 1, pad = this.opts.padding ?? "same";
    const [f, b] = [this.filter as tf.Tensor4D, this.bias as tf.Tensor1D];
    return fastPaths.conv2dWithBias?.(x as tf.Tensor4D, f, b, s, pad) ?? tf.add(tf.conv2d(x as tf.Tensor4D, f, s, pad), b);
  }
  parameters(): tf.Variable[] {
    return [this.filter, this.bias];
  }
}

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

/** How many numbers a model learns. */
export function countParameters(m: Module): number {
  return m.parameters().reduce((n, p) => n + p.size, 0);
}
