// DataLoaders for labelled images in one call (fastai's ImageDataLoaders): from a folder of class
// sub-folders, or from a pair of IDX files per split. The images stay in plain arrays (ImageDataset), as
// float32 pixels / 255, optionally normalised by the training set's mean and standard deviation, and
// become tensors batch by batch; labels are class indices into `vocab`, the class names.
import { inspect } from "node:util";
import { tf } from "../tf";
import { DataLoader, DataLoaders } from "../dataloader";
import { showBatch, type ShowBatchOptions } from "../display";
import { bytesToUnit, readImageValues, type ImageValues } from "./images";
import { getImageFiles, grandparentSplitter, IMAGE_EXTENSIONS, parentLabel, randomSplitter } from "./folders";
import { idxFilesIn, readIdx, type IdxFiles } from "./idx";
import { ImageDataset, normalizeInPlace, pixelStats, type PixelStats } from "./image-dataset";
import {
  checkClassesTrained, checkIdxImages, checkImagePlaces, checkSameSize, checkStats, checkVocab, idxLabels, type FolderLayout,
} from "./checks";

export { ImageDataset, type PixelStats } from "./image-dataset";

/** Options of every `ImageDataLoaders` constructor. */
export interface ImageDataLoadersOptions {
  /** Items per batch (default 64). */
  bs?: number;
  /** Shuffle the training set every epoch (default true; validation keeps its order). */
  shuffle?: boolean;
  /** Makes the training shuffles (and a random split) reproducible. */
  seed?: number;
  /**
   * Subtract the mean and divide by the standard deviation of all training pixels, for both sets:
   * `true` computes them, `{ mean, std }` uses these. Default false: pixels stay in [0, 1].
   */
  normalize?: boolean | PixelStats;
  /**
   * The shape of each item. false (default): images [N, height, width, 1], as convolutions take them;
   * true: rows [N, height·width], as a linear model or an MLP takes them.
   */
  flatten?: boolean;
  /** The class names in label order. Default: the class folders sorted by name (IDX: "0", "1", ...). */
  vocab?: readonly string[];
}

/** Options of `ImageDataLoaders.fromFolder`. */
export interface FromFolderOptions extends ImageDataLoadersOptions {
  /** The training folder's name, above the class folders (default "train"; full MNIST: "training"). */
  train?: string;
  /** The validation folder's name (default "valid"; full MNIST: "testing"). */
  valid?: string;
  /** Instead of train/valid folders: put this random fraction of all images in the validation set (uses `seed`). */
  validPct?: number;
  /** Keep the decoded pixels in the data folder's cache (default true; see stackImages). */
  cache?: boolean;
}

/** Where a split's images came from: the files (a folder) or an IDX file. */
export interface ImageSource {
  train: readonly string[];
  valid: readonly string[];
}

/** One split before it becomes a dataset: its pixels / 255 and its labels. */
interface Split {
  images: ImageValues;
  labels: Int32Array;
}

interface Parts {
  train: ImageDataset;
  valid: ImageDataset;
  vocab: string[];
  stats?: PixelStats;
  items: ImageSource;
  bs: number;
  shuffle: boolean;
  seed?: number;
}

/**
 * Training and validation loaders over labelled images, with what a classifier needs to know about
 * them: `vocab` (class names; label i is `vocab[i]`), `c` (number of classes), the datasets `trainDs`
 * and `validDs`, and `stats` when normalised. The images stay in plain arrays outside the backend's memory,
 * so building the loaders again costs nothing lasting; each batch is a pair of new tensors the caller
 * disposes, as with any DataLoader. `dispose()` frees the whole-set tensors `trainDs.x`/`.y` (made only
 * when asked for) and ends the loaders' use.
 */
export class ImageDataLoaders extends DataLoaders<[tf.Tensor, tf.Tensor]> {
  readonly vocab: string[];
  /** The training images: `trainDs.x` float32 (as the batches), `trainDs.y` int32 class indices. */
  readonly trainDs: ImageDataset;
  readonly validDs: ImageDataset;
  /** The training pixels' mean and standard deviation, when the images were normalised by them. */
  readonly stats?: PixelStats;
  /** The files behind each item (a folder), or the IDX file for every item of a split. */
  readonly items: ImageSource;

  protected constructor(p: Parts) {
    super(
      new DataLoader(p.train, { bs: p.bs, shuffle: p.shuffle, seed: p.seed }),
      new DataLoader(p.valid, { bs: p.bs }),
    );
    this.trainDs = p.train;
    this.validDs = p.valid;
    this.vocab = p.vocab;
    this.stats = p.stats;
    this.items = p.items;
  }

  /** The number of classes. */
  get c(): number {
    return this.vocab.length;
  }

  /** [height, width] of every image. */
  get imageSize(): [number, number] {
    return this.trainDs.imageSize;
  }

  /** True when items are rows [height·width], false when images [height, width, 1]. */
  get flatten(): boolean {
    return this.trainDs.flatten;
  }

  /**
   * Loads a folder of class sub-folders: `<path>/<train>/<class>/<image>` and `<path>/<valid>/<class>/<image>`,
   * or, with `validPct`, `<path>/<class>/<image>` split at random. Each image is labelled by its folder's
   * name (fastai's `ImageDataLoaders.from_folder`). All images must have one size; colour images become gray.
   */
  static async fromFolder(dir: string, opts: FromFolderOptions = {}): Promise<ImageDataLoaders> {
    const layout = folderLayout(opts);
    const files = imageFilesIn(dir);
    checkImagePlaces(dir, files, layout);
    const splitter = layout === "random" ? randomSplitter(opts.validPct, opts.seed) : grandparentSplitter(layout);
    const [trainIdx, validIdx] = splitter(files);
    const trainFiles = trainIdx.map((i) => files[i]!), validFiles = validIdx.map((i) => files[i]!);
    const trainNames = trainFiles.map(parentLabel), validNames = validFiles.map(parentLabel);
    checkClassesTrained(trainNames, validNames, layout);
    const vocab = checkVocab(opts.vocab, [...trainNames, ...validNames], (l) => `class folder "${l}"`, dir);
    const [trainImages, validImages] = layout === "random"
      ? takeImages(await readImageValues(files, { cache: opts.cache }), [trainIdx, validIdx]) // one cache entry, whatever the seed
      : [await readImageValues(trainFiles, { cache: opts.cache }), await readImageValues(validFiles, { cache: opts.cache })];
    return ImageDataLoaders.build(
      { images: trainImages!, labels: classIndices(trainNames, vocab) },
      { images: validImages!, labels: classIndices(validNames, vocab) },
      vocab, opts, { train: trainFiles, valid: validFiles });
  }

  /**
   * Loads images and labels from IDX files (MNIST's original format; readIdx): images [N, height, width]
   * of uint8, labels [N] of class indices. The default vocab names label i as "i"; give Fashion-MNIST's
   * names with `vocab: FASHION_MNIST_CLASSES`.
   */
  static async fromIdx(files: IdxFiles, opts: ImageDataLoadersOptions = {}): Promise<ImageDataLoaders> {
    const [tx, ty, vx, vy] = [files.trainImages, files.trainLabels, files.validImages, files.validLabels].map(readIdx);
    checkIdxImages(tx!, files.trainImages);
    checkIdxImages(vx!, files.validImages);
    const trainLabels = idxLabels(ty!, files.trainLabels, tx!.shape[0]!, files.trainImages);
    const validLabels = idxLabels(vy!, files.validLabels, vx!.shape[0]!, files.validImages);
    let max = 0;
    for (const l of [trainLabels, validLabels]) for (let i = 0; i < l.length; i++) if (l[i]! > max) max = l[i]!;
    const vocab = opts.vocab ? [...opts.vocab] : Array.from({ length: max + 1 }, (_, i) => String(i));
    if (max >= vocab.length) {
      const file = trainLabels.includes(max) ? files.trainLabels : files.validLabels;
      throw new Error(`${file} holds label ${max}, but the vocab has ${vocab.length} classes (labels 0 to ${vocab.length - 1}): ` +
        `the vocab does not fit these labels.`);
    }
    checkVocab(vocab, vocab, (l) => l, "the vocab");
    const images = (a: typeof tx) => ({ values: bytesToUnit(a!.data as Uint8Array), shape: a!.shape as [number, number, number] });
    return ImageDataLoaders.build({ images: images(tx), labels: trainLabels }, { images: images(vx), labels: validLabels }, vocab, opts,
      { train: Array(trainLabels.length).fill(files.trainImages), valid: Array(validLabels.length).fill(files.validImages) });
  }

  /**
   * `fromIdx` on the four standard files in a folder: train-images-idx3-ubyte, train-labels-idx1-ubyte,
   * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each possibly gzipped (.gz). The t10k pair is the
   * validation set. E.g. `fromIdxFolder(FASHION_MNIST_PATH, { vocab: FASHION_MNIST_CLASSES })`.
   */
  static async fromIdxFolder(dir: string, opts: ImageDataLoadersOptions = {}): Promise<ImageDataLoaders> {
    return ImageDataLoaders.fromIdx(idxFilesIn(dir), opts);
  }

  private static build(train: Split, valid: Split, vocab: string[], opts: ImageDataLoadersOptions, items: ImageSource): ImageDataLoaders {
    const size = (s: Split): [number, number] => [s.images.shape[1], s.images.shape[2]];
    checkSameSize(size(train), size(valid), [items.train[0]!, items.valid[0]!]);
    const stats = opts.normalize === true ? pixelStats(train.images.values) : opts.normalize || undefined;
    if (stats) checkStats(stats, opts.normalize === true);
    const flatten = opts.flatten ?? false;
    const dataset = (s: Split) => {
      if (stats) normalizeInPlace(s.images.values, stats); // the arrays were made for these loaders
      return new ImageDataset({ values: s.images.values, labels: s.labels, imageSize: size(s), flatten });
    };
    return new ImageDataLoaders({
      train: dataset(train), valid: dataset(valid), vocab, stats, items,
      bs: opts.bs ?? 64, shuffle: opts.shuffle ?? true, seed: opts.seed,
    });
  }

  /**
   * A batch of items in the loaders' layout (flat rows or [N, h, w, 1]) back as images [N, height, width]
   * of pixel values in [0, 1], undoing the normalisation. The caller owns the result.
   */
  decode(x: tf.Tensor): tf.Tensor3D {
    const [h, w] = this.imageSize;
    const n = x.shape[0] ?? 0;
    if (x.size !== n * h * w) throw new Error(`decode: a batch of ${h}x${w} images has ${h * w} values per item; got shape [${x.shape}].`);
    return tf.tidy(() => {
      const images = x.reshape([n, h, w]);
      return (this.stats ? images.mul(this.stats.std).add(this.stats.mean) : images) as tf.Tensor3D;
    });
  }

  /** Draws a grid of images with their class names (see `showBatch`). */
  showBatch(opts: ShowBatchOptions = {}): Promise<void> {
    return showBatch(this, opts);
  }

  /** Frees the tensors `trainDs.x`/`.y` and `validDs.x`/`.y` if they were made; the loaders cannot be used afterwards. */
  dispose(): void {
    this.trainDs.dispose();
    this.validDs.dispose();
  }

  // A notebook cell ending in `dls` shows what the loaders hold, not their fields.
  [inspect.custom](): string {
    const names = this.c > 12 ? [...this.vocab.slice(0, 10), "..."] : this.vocab;
    const norm = this.stats ? `normalised by mean ${this.stats.mean.toFixed(4)}, std ${this.stats.std.toFixed(4)}` : "pixels in [0, 1]";
    return `ImageDataLoaders: ${this.c} classes (${names.join(", ")})\n` +
      `  train: x [${this.trainDs.xShape}], y [${this.trainDs.length}]; ${this.train.length} batches of ${this.train.bs}` +
      `${this.train.shuffle ? ", shuffled" : ""}\n` +
      `  valid: x [${this.validDs.xShape}], y [${this.validDs.length}]; ${this.valid.length} batches\n` +
      `  ${this.imageSize[1]}x${this.imageSize[0]} images as ${this.flatten ? "flat rows" : "[height, width, 1]"}, ${norm}`;
  }

  override toString(): string {
    return this[inspect.custom]();
  }
}

function folderLayout(opts: FromFolderOptions): FolderLayout {
  if (opts.validPct === undefined) return { train: opts.train ?? "train", valid: opts.valid ?? "valid" };
  if (opts.train !== undefined || opts.valid !== undefined) {
    throw new Error("fromFolder: give either validPct (a random split) or train/valid folder names, not both.");
  }
  return "random";
}

function imageFilesIn(dir: string): string[] {
  const files = getImageFiles(dir);
  if (files.length === 0) {
    throw new Error(`No image files (${IMAGE_EXTENSIONS.join(", ")}) under ${dir}. fromFolder expects ` +
      `${dir}/train/<class>/<image> and ${dir}/valid/<class>/<image>, or ${dir}/<class>/<image> with validPct.`);
  }
  return files;
}

/** Each name's index in the vocab. */
function classIndices(names: readonly string[], vocab: readonly string[]): Int32Array {
  const index = new Map(vocab.map((name, i) => [name, i]));
  return Int32Array.from(names, (n) => index.get(n)!);
}

/** The images at each list of indices, copied row by row. */
function takeImages({ values, shape: [, h, w] }: ImageValues, lists: number[][]): ImageValues[] {
  const size = h * w;
  return lists.map((idx) => {
    const out = new Float32Array(idx.length * size);
    idx.forEach((i, k) => out.set(values.subarray(i * size, (i + 1) * size), k * size));
    return { values: out, shape: [idx.length, h, w] };
  });
}
