// ResNet-18 as torchvision lays it out, on NHWC images: the layers of nn.ts put together.
import { tf } from "../tf";
import { AdaptiveAvgPool2d, BatchNorm2d, buffersOf, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, type Module } from "../nn";

/** Seeds for one layer after another: seed, seed + step, ... (none when no seed is given). */
function seeds(seed?: number, step = 1): () => number | undefined {
  let i = 0;
  return () => (seed === undefined ? undefined : seed + step * i++);
}

/** A k×k convolution without bias, padded by k / 2 (rounded down) as torchvision's, Kaiming-normal (fan-out) weights. */
function conv(inC: number, outC: number, k: number, stride: number, seed?: number): Conv2d<false> {
  return new Conv2d(inC, outC, k, { stride, padding: Math.floor(k / 2), bias: false, init: "kaimingFanOut", seed });
}

/**
 * ResNet's basic residual block: two 3×3 convolutions, each followed by batch normalisation, and the
 * block's input added back before the last ReLU:
 *   out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
 * The shortcut is x itself, or a strided 1×1 convolution and batch normalisation where the block changes
 * the size or the channels (torchvision's "downsample").
 */
export class BasicBlock implements Module {
  readonly residual: Sequential;
  readonly downsample?: Sequential;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly stride = 1, opts: { seed?: number } = {}) {
    const seed = seeds(opts.seed);
    this.residual = new Sequential(
      conv(inChannels, outChannels, 3, stride, seed()), new BatchNorm2d(outChannels), new ReLU(),
      conv(outChannels, outChannels, 3, 1, seed()), new BatchNorm2d(outChannels),
    );
    if (stride !== 1 || inChannels !== outChannels) {
      this.downsample = new Sequential(conv(inChannels, outChannels, 1, stride, seed()), new BatchNorm2d(outChannels));
    }
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.relu(tf.add(this.residual.forward(x), this.downsample ? this.downsample.forward(x) : x)));
  }
  parameters(): tf.Variable[] {
    return [...this.residual.parameters(), ...(this.downsample?.parameters() ?? [])];
  }
  buffers(): tf.Variable[] {
    return [...buffersOf(this.residual), ...(this.downsample ? buffersOf(this.downsample) : [])];
  }
  train(mode: boolean): void {
    this.residual.train(mode);
    this.downsample?.train(mode);
  }
}

/** A ResNet: its `body` (stem and residual stages) then average pooling, flattening and a linear classifier. */
export class ResNet extends Sequential {
  /** Channels the body puts out (512 for resnet18). */
  readonly numFeatures: number;
  constructor(readonly body: Sequential, numFeatures: number, numClasses: number, seed?: number) {
    super(body, new AdaptiveAvgPool2d(1), new Flatten(), new Linear(numFeatures, numClasses, { seed }));
    this.numFeatures = numFeatures;
  }
}

/** Options of `resnet18`. */
export interface ResNetOptions {
  /** Channels of the input images (default 3; 1 for gray images such as MNIST). */
  inChannels?: number;
  /** Outputs of the final linear layer (default 1000, ImageNet's classes). */
  numClasses?: number;
  /** Makes the starting weights repeatable. */
  seed?: number;
}

/**
 * ResNet-18 (He et al., 2015) in torchvision's layout: a 7×7 stride-2 convolution (no bias), batch norm,
 * ReLU and a 3×3 stride-2 max-pool; then four stages of two BasicBlocks with 64, 128, 256 and 512
 * channels, each stage after the first halving the size; then the classifier. Convolutions start
 * Kaiming-normal (fan-out), batch norms at weight 1 and bias 0, as torchvision's. Takes NHWC images.
 */
export function resnet18(opts: ResNetOptions = {}): ResNet {
  const { inChannels = 3, numClasses = 1000 } = opts;
  const seed = seeds(opts.seed, 3); // a BasicBlock takes up to three seeds from its own
  const stage = (inC: number, outC: number, stride: number) =>
    new Sequential(new BasicBlock(inC, outC, stride, { seed: seed() }), new BasicBlock(outC, outC, 1, { seed: seed() }));
  const body = new Sequential(
    conv(inChannels, 64, 7, 2, seed()), new BatchNorm2d(64), new ReLU(), new MaxPool2d(3, 2, 1),
    stage(64, 64, 1), stage(64, 128, 2), stage(128, 256, 2), stage(256, 512, 2),
  );
  return new ResNet(body, 512, numClasses, seed());
}
