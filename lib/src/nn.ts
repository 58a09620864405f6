// Layers as small objects: a forward function and the variables it learns. Nothing more.
import { tf } from "./tf";

export interface Module {
  forward(x: tf.Tensor): tf.Tensor;
  /** The variables an optimizer updates. */
  parameters(): tf.Variable[];
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
    this.weight = tf.variable(glorotUniform([inFeatures, outFeatures], inFeatures, outFeatures, opts.seed));
    this.bias = tf.variable(tf.zeros([outFeatures]));
  }
  forward(x: tf.Tensor): tf.Tensor {
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

/** TensorFlow's "same"/"valid" padding for one spatial axis: [before, after]. */
function padding(size: number, k: number, stride: number, mode: "same" | "valid"): [number, number] {
  if (mode === "valid") return [0, 0];
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * conv2d with its gradients written out, so that training needs only forward convolutions and
 * conv2dTranspose. The wasm backend has no kernel for the filter gradient (Conv2DBackpropFilter); here it
 * is one more convolution: the padded input, batch and channels swapped, convolved with the output
 * gradient dilated by the stride.
 */
export function conv2dWithGrads(x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, mode: "same" | "valid"): tf.Tensor4D {
  // customGrad's typing takes the inputs as one rest list, ending with the save function.
  const f = tf.customGrad(((xIn: tf.Tensor, wIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const xt = xIn as tf.Tensor4D, wt = wIn as tf.Tensor4D;
    save([xt, wt]);
    return {
      value: tf.conv2d(xt, wt, stride, mode),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [k, , , ] = ws.shape;
        const [, h, w] = xs.shape;
        const dy4 = dy as tf.Tensor4D;
        const dx = tf.conv2dTranspose(dy4, ws, xs.shape, stride, mode);
        const [pt, pb] = padding(h, k, stride, mode), [pl, pr] = padding(w, k, stride, mode);
        const xp = tf.pad(xs, [[0, 0], [pt, pb], [pl, pr], [0, 0]]).transpose([3, 1, 2, 0]) as tf.Tensor4D; // [ci, H', W', n]
        const g = tf.conv2d(xp, dy4.transpose([1, 2, 0, 3]) as tf.Tensor4D, 1, "valid", "NHWC", stride); // [ci, >=k, >=k, co]
        const dw = g.slice([0, 0, 0, 0], [-1, k, k, -1]).transpose([1, 2, 0, 3]); // [k, k, ci, co]
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, filter) as tf.Tensor4D;
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
    this.filter = tf.variable(glorotUniform([k, k, inChannels, outChannels], k * k * inChannels, k * k * outChannels, opts.seed));
    this.bias = tf.variable(tf.zeros([outChannels]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    const s = this.opts.stride ?? 1;
    return tf.add(conv2dWithGrads(x as tf.Tensor4D, this.filter as tf.Tensor4D, s, this.opts.padding ?? "same"), this.bias);
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
