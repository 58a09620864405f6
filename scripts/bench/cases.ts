// The benchmark's cases: the models and losses the notebooks train, the data both sides read, and the
// shared start (initial weights, batch orders) that makes the two sides' losses comparable.
import * as fs from "node:fs";
import * as path from "node:path";
import {
  tf, ls, stackImages, getImageFiles, parentLabel, Learner, Linear, ReLU, Sequential, Conv2d, Reshape, GlobalAvgPool, mnistLoss,
  binaryCrossEntropy, crossEntropy, seededRandom, shuffled, resnet18, createVisionModel, UNet, pixelBCE, SegmentationDataLoaders,
  tgsSalt, type BatchSource, type Callback, type LossFunc, type Module,
} from "fastbook-ts";
import { CACHE, COUNTS_GIVEN, FULL_EPOCHS, LIMIT, ONLY, QUICK } from "./config";

export type Arch = "linear" | "simple_net" | "mlp" | "cnn" | "cnn10" | "resnet18" | "unet";
export type LossName = "mnist" | "bce" | "ce" | "pixel_bce";

/**
 * The training arrays both sides use, as one file: n label bytes, then n·784 pixel bytes. The PyTorch
 * side reads these instead of decoding the PNGs itself, so both train on identical numbers.
 */
export function writeDataFile(file: string, x: tf.Tensor, labels: Uint8Array): string {
  const n = labels.length;
  const bytes = new Uint8Array(n * 785);
  bytes.set(labels);
  const px = x.dataSync();
  for (let i = 0; i < px.length; i++) bytes[n + i] = Math.round(px[i] * 255);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file + ".tmp", bytes);
  fs.renameSync(file + ".tmp", file);
  return file;
}

export interface TrainCase {
  key: string;
  name: string;
  data: "sample" | "mnist" | "salt";
  arch: Arch;
  loss: LossName;
  bs: number;
  lr: number;
  /** Batches timed per run; null = one whole epoch. */
  steps: number | null;
  /** How far the two sides' first-epoch losses may differ, relative (default LOSS_TOLERANCE, 0.1%). */
  lossTolerance?: number;
  /**
   * Compare the two sides' first batch loss instead of the first epoch's mean: where training is chaotic
   * early on (float32 against float64 in PyTorch itself differ by 6% after three steps of (h)).
   */
  firstBatchLoss?: boolean;
  /** Untimed and timed runs of this case (default WARMUP and RUNS). */
  warmup?: number;
  runs?: number;
  /** The U-Net's channels per level (case (i)). */
  channels?: number[];
}

/** The channels of notebook 04h's U-Net, level by level. */
export const SALT_UNET_CHANNELS = [4, 8, 16, 32];

// The notebooks' hyperparameters (04b: lr 1.0 linear, 0.1 simple net, 0.5 CNN); (c) has no notebook
// and takes the simple net's lr. Every case times whole epochs (49 batches, 235 for full MNIST).
export const CASES: TrainCase[] = ([
  { key: "a", name: "(a) linear 784-1, MNIST_SAMPLE", data: "sample", arch: "linear", loss: "mnist", bs: 256, lr: 1.0, steps: null },
  { key: "b", name: "(b) simple net 784-30-1, MNIST_SAMPLE", data: "sample", arch: "simple_net", loss: "mnist", bs: 256, lr: 0.1, steps: null },
  { key: "c", name: "(c) MLP 784-128-10, full MNIST", data: "mnist", arch: "mlp", loss: "ce", bs: 256, lr: 0.1, steps: null },
  { key: "d", name: "(d) CNN of 04b, MNIST_SAMPLE", data: "sample", arch: "cnn", loss: "bce", bs: 256, lr: 0.5, steps: null },
  // 04c trains this CNN with Adam and a one-cycle schedule; here both sides take plain SGD steps, so that
  // the comparison is of the same arithmetic. Its batch size is the notebook's. Over its 469 steps the two
  // sides' rounding (OpenBLAS's im2col products against PyTorch's convolutions) moves the epoch's mean loss
  // by about 0.1%; a 3-step run (--quick) agrees to 7 digits.
  { key: "f", name: "(f) CNN of 04c (16-32-64-64 convs, 256-10), full MNIST", data: "mnist", arch: "cnn10", loss: "ce", bs: 128, lr: 0.1, steps: null, lossTolerance: 3e-3 },
  // The book's last model: resnet18 from scratch with fastai's head, 2 classes (3 -> 1, 7 -> 0). Its dropout
  // is 0 here (the masks are random on each side, so the losses could not agree), and plain SGD as above.
  // An epoch is 194 steps of a 11-million-weight net, minutes per side on 2 cores: by default each run is
  // its first 30 batches (--full-epochs: whole epochs), one untimed run, three timed. From a fresh start at
  // lr 0.1 the loss jumps about for a few steps and rounding grows fast: the first batch's losses are compared.
  { key: "h", name: "(h) resnet18 + fastai head, MNIST_SAMPLE", data: "sample", arch: "resnet18", loss: "ce", bs: 64, lr: 0.1,
    steps: FULL_EPOCHS ? null : 30, firstBatchLoss: true, warmup: 1, runs: 3 },
  // 04h's U-Net and loss (per-pixel BCE) on its training images padded to 128x128, batch size 32; plain SGD on
  // both sides, as for (f). BatchNorm in training mode on both. An epoch is 100 steps of a network far larger
  // than the others, so one untimed epoch and the median of three.
  { key: "i", name: `(i) U-Net of 04h (${SALT_UNET_CHANNELS.join("-")} channels), synthetic TGS salt`, data: "salt", arch: "unet", loss: "pixel_bce",
    bs: 32, lr: 0.01, steps: null, lossTolerance: 3e-3, warmup: 1, runs: 3, channels: SALT_UNET_CHANNELS },
] as TrainCase[]).filter((c) => !ONLY || ONLY.includes(c.key)).map((c) => {
  const steps = QUICK ? 3 : c.steps;
  return { ...c, steps, ...(QUICK || COUNTS_GIVEN ? { warmup: undefined, runs: undefined } : {}), name: `${c.name}, ${steps ? `${steps} steps` : "1 epoch"}` };
});

export const archs: Record<Arch, () => Module> = {
  linear: () => new Linear(784, 1, { seed: 6 }),
  simple_net: () => new Sequential(new Linear(784, 30, { seed: 21 }), new ReLU(), new Linear(30, 1, { seed: 22 })),
  mlp: () => new Sequential(new Linear(784, 128, { seed: 41 }), new ReLU(), new Linear(128, 10, { seed: 42 })),
  cnn: () => new Sequential(
    new Reshape([28, 28, 1]),
    new Conv2d(1, 8, 3, { stride: 2, seed: 31 }), new ReLU(),
    new Conv2d(8, 16, 3, { stride: 2, seed: 32 }), new ReLU(),
    new Conv2d(16, 32, 3, { stride: 2, seed: 33 }), new ReLU(),
    new Conv2d(32, 32, 3, { stride: 2, seed: 34 }), new ReLU(),
    new GlobalAvgPool(), new Linear(32, 1, { seed: 35 }),
  ),
  cnn10: () => new Sequential(
    new Reshape([28, 28, 1]),
    new Conv2d(1, 16, 3, { stride: 2, seed: 4 }), new ReLU(),
    new Conv2d(16, 32, 3, { stride: 2, seed: 5 }), new ReLU(),
    new Conv2d(32, 64, 3, { stride: 2, seed: 6 }), new ReLU(),
    new Conv2d(64, 64, 3, { stride: 2, seed: 7 }), new ReLU(),
    new Reshape(), new Linear(256, 10, { seed: 8 }),
  ),
  resnet18: () => new Sequential(new Reshape([28, 28, 1]), createVisionModel(resnet18, 1, 2, { ps: 0, seed: 9 })),
  unet: () => new UNet({ channels: SALT_UNET_CHANNELS, outputSize: [101, 101], seed: 1 }),
};
export const losses: Record<LossName, LossFunc> = { mnist: mnistLoss, bce: binaryCrossEntropy, ce: crossEntropy, pixel_bce: pixelBCE };

/**
 * Case (i)'s data, as notebook 04h prepares it: the synthetic salt set's training split (validPct 0.2, seed
 * 42), each image normalised by its own statistics and reflect-padded to 128x128, masks 101x101. Written for the PyTorch side as one
 * file: n·128·128 float32 pixels, then n·101·101 mask bytes.
 */
export function loadSaltTrain(): { x: tf.Tensor; y: tf.Tensor; file: string } {
  const dls = SegmentationDataLoaders.fromFolders(tgsSalt().path, { validPct: 0.2, seed: 42, flip: false, normalize: "image", limit: LIMIT ?? undefined });
  const [x, y] = dls.train.batch(Array.from({ length: dls.train.n }, (_, i) => i));
  const file = path.join(CACHE, "train_salt.bin");
  fs.mkdirSync(CACHE, { recursive: true });
  fs.writeFileSync(file + ".tmp", Buffer.concat([Buffer.from((x.dataSync() as Float32Array).buffer), Buffer.from(Uint8Array.from(y.dataSync()))]));
  fs.renameSync(file + ".tmp", file);
  return { x, y, file };
}

export const listDigit = (dir: string) => ls(dir).slice(0, LIMIT ?? undefined);
export const sampleTrainFiles = (sample: string) => [...listDigit(path.join(sample, "train", "3")), ...listDigit(path.join(sample, "train", "7"))];

/**
 * Case (e) on our side: list the training PNGs and stack them into one float tensor, as the notebook
 * does; `cache` false decodes every file (cold), true reads stackImages' decoded-pixel cache (warm).
 */
export async function timedLoad(sample: string, cache: boolean): Promise<{ ms: number; x: tf.Tensor3D }> {
  const t0 = performance.now();
  const x = await stackImages(sampleTrainFiles(sample), { cache });
  return { ms: performance.now() - t0, x };
}

/**
 * Case (g) on our side: full MNIST's training PNGs listed, labelled by their folder and stacked into one
 * float tensor with no pixel cache, as ImageDataLoaders.fromFolder loads a split the first time.
 */
export async function timedMnistLoad(mnist: string): Promise<{ ms: number; n: number }> {
  const t0 = performance.now();
  const files = ls(path.join(mnist, "training")).flatMap((d) => getImageFiles(d).slice(0, LIMIT ?? undefined));
  const labels = Int32Array.from(files, (f) => Number(parentLabel(f)));
  const x = await stackImages(files, { cache: false });
  const ms = performance.now() - t0;
  x.dispose();
  return { ms, n: labels.length };
}

/**
 * Full MNIST's training set as [60000, 784] floats and int32 labels, and the data file (writeDataFile's
 * form) that holds them. Decoding 60,000 PNGs takes far longer than the steps timed on them, so that file
 * is kept in bench/cache, keyed by the file count and the folders' modification times (delete
 * bench/cache to force a rebuild).
 */
export async function loadMnistTrain(root: string): Promise<{ x: tf.Tensor; y: tf.Tensor; file: string }> {
  const dirs = Array.from({ length: 10 }, (_, d) => path.join(root, "training", String(d)));
  const files = dirs.map(listDigit);
  const n = files.reduce((s, f) => s + f.length, 0);
  const key = `${n}-${Math.floor(Math.max(...dirs.map((d) => fs.statSync(d).mtimeMs)) / 1000)}`;
  const file = path.join(CACHE, `train_mnist_${key}.u8`);
  if (!fs.existsSync(file)) {
    const stacks: tf.Tensor[] = [];
    for (const names of files) stacks.push(await stackImages(names, { cache: false }));
    const x = tf.concat(stacks);
    tf.dispose(stacks);
    writeDataFile(file, x, Uint8Array.from(files.flatMap((names, digit) => names.map(() => digit))));
    x.dispose();
  }
  const bytes = fs.readFileSync(file);
  const pixels = Float32Array.from(bytes.subarray(n), (v) => v / 255);
  return { x: tf.tensor2d(pixels, [n, 784]), y: tf.tensor1d(Int32Array.from(bytes.subarray(0, n)), "int32"), file };
}

/** The first `n` batches of each pass over `src`; later batches are never made (they would leak). */
export function firstBatches(src: BatchSource, n: number): BatchSource {
  return {
    length: Math.min(n, src.length),
    *[Symbol.iterator]() {
      const it = src[Symbol.iterator]();
      for (let i = 0; i < n; i++) {
        const r = it.next();
        if (r.done) return;
        yield r.value;
      }
      it.return?.();
    },
  };
}

/** Times each training pass of a fit. CPU backends run ops synchronously, so the work is done by afterTrain. */
export class TrainTimer implements Callback {
  readonly times: number[] = [];
  /** The first batch's loss of each training pass. */
  readonly firstLosses: number[] = [];
  private t0 = 0;
  beforeTrain(): void { this.t0 = performance.now(); }
  afterLoss(learn: Learner): void {
    if (learn.training && learn.batchIndex === 0) this.firstLosses.push(learn.loss!.dataSync()[0]);
  }
  afterTrain(learn: Learner): void {
    // A GPU backend queues work: wait for the last step's weights before reading the clock.
    if (!["wasm", "cpu"].includes(tf.getBackend())) learn.model.parameters()[0]?.dataSync();
    this.times.push(performance.now() - this.t0);
  }
}

export const SHUFFLE_SEED = 1;

/** What the PyTorch side needs to train exactly the same model: our initial weights and batch orders. */
export interface SharedStart { params: string; shapes: number[][]; orders: string }

/**
 * Writes the model's initial parameters (float32, in order) and the training loader's shuffles for every
 * epoch (int32; the DataLoader draws them from seededRandom(SHUFFLE_SEED) in turn) to bench/cache, so
 * that both sides start from the same weights and see the same batches: their losses must then agree.
 */
export function shareStart(c: TrainCase, model: Module, n: number, epochs: number): SharedStart {
  fs.mkdirSync(CACHE, { recursive: true });
  const params = model.parameters();
  const weights = Buffer.concat(params.map((p) => Buffer.from((p.dataSync() as Float32Array).slice().buffer)));
  const rand = seededRandom(SHUFFLE_SEED);
  const orders = Int32Array.from(Array.from({ length: epochs }, () => shuffled(n, rand)).flat());
  const files = { params: path.join(CACHE, `start_${c.key}_params.f32`), orders: path.join(CACHE, `start_${c.key}_orders.i32`) };
  fs.writeFileSync(files.params, weights);
  fs.writeFileSync(files.orders, Buffer.from(orders.buffer));
  return { ...files, shapes: params.map((p) => p.shape) };
}

