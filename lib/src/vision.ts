// fastai's vision_learner: a ResNet body, a fresh classifier head sized for the data, and a Learner.
import { tf } from "./tf";
import { AdaptiveConcatPool2d, BatchNorm1d, Dropout, Flatten, Linear, ReLU, Sequential } from "./nn";
import { Learner, type LearnerOptions, type Loaders } from "./learner";
import { Adam } from "./optim";
import type { ResNet, ResNetOptions } from "./models/resnet";

/**
 * fastai's create_head: concatenated max and average pooling, flattened, then twice batch norm, dropout
 * and a linear layer without bias (its batch norm shifts already), with a ReLU between:
 *   AdaptiveConcatPool2d, Flatten, BatchNorm1d(2·nf), Dropout(ps/2), Linear(2·nf, 512), ReLU,
 *   BatchNorm1d(512), Dropout(ps), Linear(512, nOut)
 * nf is the body's channel count. The linear layers start Kaiming-normal (fan-in), as fastai's.
 */
export function createHead(nf: number, nOut: number, opts: { ps?: number; hidden?: number; seed?: number } = {}): Sequential {
  const { ps = 0.5, hidden = 512, seed } = opts;
  const at = (i: number) => (seed === undefined ? undefined : seed + i);
  return new Sequential(
    new AdaptiveConcatPool2d(1), new Flatten(),
    new BatchNorm1d(2 * nf), new Dropout(ps / 2, { seed: at(0) }), new Linear(2 * nf, hidden, { bias: false, init: "kaimingFanIn", seed: at(1) }), new ReLU(),
    new BatchNorm1d(hidden), new Dropout(ps, { seed: at(2) }), new Linear(hidden, nOut, { bias: false, init: "kaimingFanIn", seed: at(3) }),
  );
}

/** A model maker such as resnet18. */
export type VisionArch = (opts: ResNetOptions) => ResNet;

/** Loaders of images, as ImageDataLoaders gives them: the classes' count, and the training images' shape. */
export type ImageLoaders = Loaders & { c: number; trainDs?: { x: tf.Tensor; xShape?: number[] } };

/** Options of `visionLearner`: the Learner's, plus the head's and the body's. */
export interface VisionLearnerOptions extends Omit<LearnerOptions, "optFunc"> {
  /** The optimizer (default Adam, as fastai's vision_learner). */
  optFunc?: LearnerOptions["optFunc"];
  /** Start from weights trained on ImageNet. None are available: true is an error (default false). */
  pretrained?: boolean;
  /** Channels of the images (default: the loaders' images' last axis). */
  nIn?: number;
  /** Outputs of the model (default: the loaders' number of classes, `dls.c`). */
  nOut?: number;
  /** The head's dropout: ps/2 before its first linear layer, ps before its last (default 0.5). */
  ps?: number;
  /** Makes the starting weights and the dropout masks repeatable. */
  seed?: number;
}

/**
 * fastai's create_vision_model: `arch`'s body for nIn-channel images, then createHead for nOut outputs,
 * as one Sequential(body, head).
 */
export function createVisionModel(arch: VisionArch, nIn: number, nOut: number, opts: { ps?: number; seed?: number } = {}): Sequential {
  const { seed } = opts;
  const net = arch({ inChannels: nIn, numClasses: nOut, seed });
  tf.dispose(net.layers.slice(1).flatMap((l) => l.parameters())); // the classifier the head replaces
  return new Sequential(net.body, createHead(net.numFeatures, nOut, { ps: opts.ps, seed: seed === undefined ? undefined : seed + 1000 }));
}

/** The channel count of the loaders' images [N, height, width, channels], with an error that says what to do otherwise. */
function imageChannels(dls: ImageLoaders): number {
  // ImageDataLoaders know the shape without making the whole set a tensor.
  const shape = dls.trainDs?.xShape ?? dls.trainDs?.x.shape;
  if (!shape) throw new Error("visionLearner cannot tell the images' channel count from these loaders: pass { nIn } (1 for gray images).");
  if (shape.length !== 4) {
    throw new Error(`visionLearner needs images [N, height, width, channels]; the loaders hold [${shape}]. ` +
      "Load them with flatten: false (ImageDataLoaders' default).");
  }
  return shape[3] as number;
}

/**
 * fastai's vision_learner (cnn_learner in the book): `arch`'s body (resnet18's, say) made for the
 * loaders' image channels, with a new head (createHead) for their `dls.c` classes, in a Learner.
 * Trains with Adam unless `optFunc` says otherwise, as fastai does. Training starts from random weights:
 * no pretrained weights ship with the library and none can be downloaded, so `pretrained: true` fails.
 *
 *   const learn = visionLearner(dls, resnet18, { pretrained: false, lossFunc: crossEntropy, metrics: [accuracy] });
 *   await learn.fitOneCycle(1, 0.1);
 */
export function visionLearner(dls: ImageLoaders, arch: VisionArch, opts: VisionLearnerOptions): Learner {
  if (opts.pretrained) {
    throw new Error("visionLearner: no pretrained weights are available (none ship with fastbook-ts, and none can be " +
      "downloaded); pass { pretrained: false } to train from random weights, as the book's chapter 4 does.");
  }
  const model = createVisionModel(arch, opts.nIn ?? imageChannels(dls), opts.nOut ?? dls.c, { ps: opts.ps, seed: opts.seed });
  return new Learner(dls, model, { ...opts, optFunc: opts.optFunc ?? Adam });
}
