// DataLoaders for labelled images in one call (fastai's ImageDataLoaders): from a folder of class
// sub-folders, or from a pair of IDX files per split. The images become one float32 tensor per split
// (pixels / 255, optionally normalised by the training set's mean and standard deviation), the labels an
// int32 tensor of class indices into `vocab`, the class names.
import * as path from "node:path";
import { inspect } from "node:util";
import { tf } from "../tf";
import { DataLoader, DataLoaders, shuffled, seededRandom, tensorDataset, type TensorDataset } from "../dataloader";
import { escapeHtml, showHtml } from "../jupyter";
import { imagesHtml } from "../display";
import { bytesToUnitTensor, stackImages, type ColorMap } from "./images";
import { getImageFiles, grandparentSplitter, IMAGE_EXTENSIONS, parentLabel, randomSplitter } from "./folders";
import { idxFilesIn, readIdx, type IdxArray, type IdxFiles } from "./idx";

/** Mean and standard deviation of the training pixels (values in [0, 1]). */
export interface PixelStats {
  mean: number;
  std: number;
}

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

interface Parts {
  train: TensorDataset;
  valid: TensorDataset;
  vocab: string[];
  imageSize: [number, number];
  flatten: boolean;
  stats?: PixelStats;
  items: ImageSource;
  bs: number;
  shuffle: boolean;
  seed?: number;
}

/**
 * Training and validation loaders over labelled images, with what a classifier needs to know about
 * them: `vocab` (class names; label i is `vocab[i]`), `c` (number of classes), the datasets `trainDs`
 * and `validDs` (x float32, y int32 class indices), and `stats` when normalised. It owns its tensors:
 * `dispose()` frees them. Batches are the caller's to dispose, as with any DataLoader.
 */
export class ImageDataLoaders extends DataLoaders<[tf.Tensor, tf.Tensor]> {
  readonly vocab: string[];
  readonly trainDs: TensorDataset;
  readonly validDs: TensorDataset;
  /** [height, width] of every image. */
  readonly imageSize: [number, number];
  /** True when items are rows [height·width], false when images [height, width, 1]. */
  readonly flatten: boolean;
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
    this.imageSize = p.imageSize;
    this.flatten = p.flatten;
    this.stats = p.stats;
    this.items = p.items;
  }

  /** The number of classes. */
  get c(): number {
    return this.vocab.length;
  }

  /**
   * Loads a folder of class sub-folders: `<path>/<train>/<class>/<image>` and `<path>/<valid>/<class>/<image>`,
   * or, with `validPct`, `<path>/.../<class>/<image>` split at random. Each image is labelled by its folder's
   * name (fastai's `ImageDataLoaders.from_folder`). All images must have one size; colour images become gray.
   */
  static async fromFolder(dir: string, opts: FromFolderOptions = {}): Promise<ImageDataLoaders> {
    if (opts.validPct !== undefined && (opts.train !== undefined || opts.valid !== undefined)) {
      throw new Error("fromFolder: give either validPct (a random split) or train/valid folder names, not both.");
    }
    const files = getImageFiles(dir);
    if (files.length === 0) {
      throw new Error(`No image files (${IMAGE_EXTENSIONS.join(", ")}) under ${dir}. fromFolder expects ` +
        `${dir}/train/<class>/<image> and ${dir}/valid/<class>/<image>, or ${dir}/<class>/<image> with validPct.`);
    }
    const byFolders = opts.validPct === undefined;
    const train = opts.train ?? "train", valid = opts.valid ?? "valid";
    // Images that sit where a class folder should be would be labelled "train" or by the folder's own name.
    const homes = byFolders ? [path.join(dir, train), path.join(dir, valid)] : [path.resolve(dir)];
    const loose = files.filter((f) => homes.includes(byFolders ? path.dirname(f) : path.resolve(path.dirname(f))));
    if (loose.length > 0) {
      const where = [...new Set(loose.map((f) => path.dirname(f)))];
      throw new Error(`${loose.length} image(s) lie directly in ${where.join(" and ")} (e.g. ${path.basename(loose[0]!)}), not in a class folder. ` +
        `Each image must sit in a folder named by its class: ${where[0]}/<class>/<image>.`);
    }
    const [trainIdx, validIdx] = (byFolders ? grandparentSplitter({ train, valid }) : randomSplitter(opts.validPct, opts.seed))(files);
    const trainFiles = trainIdx.map((i) => files[i]!), validFiles = validIdx.map((i) => files[i]!);
    const vocab = checkVocab(opts.vocab, [...trainFiles, ...validFiles].map(parentLabel), (l) => `class folder "${l}"`, dir);
    const index = new Map(vocab.map((name, i) => [name, i]));
    const labels = (fs: string[]) => Int32Array.from(fs, (f) => index.get(parentLabel(f))!);

    let xTrain: tf.Tensor3D, xValid: tf.Tensor3D;
    if (byFolders) {
      xTrain = await stackImages(trainFiles, { cache: opts.cache });
      try {
        xValid = await stackImages(validFiles, { cache: opts.cache });
      } catch (e) {
        xTrain.dispose();
        throw e;
      }
    } else {
      // One stack (and one cache entry) for every file, whatever the seed, then each set's rows.
      const all = await stackImages(files, { cache: opts.cache });
      try {
        [xTrain, xValid] = takeRows(all, [trainIdx, validIdx]);
      } finally {
        all.dispose();
      }
    }
    return ImageDataLoaders.build(xTrain, labels(trainFiles), xValid, labels(validFiles), vocab, opts,
      { train: trainFiles, valid: validFiles }, [trainFiles[0]!, validFiles[0]!]);
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
    const xTrain = bytesToUnitTensor<tf.Rank.R3>(tx!.data as Uint8Array, tx!.shape);
    const xValid = bytesToUnitTensor<tf.Rank.R3>(vx!.data as Uint8Array, vx!.shape);
    return ImageDataLoaders.build(xTrain, trainLabels, xValid, validLabels, vocab, opts,
      { train: Array(trainLabels.length).fill(files.trainImages), valid: Array(validLabels.length).fill(files.validImages) },
      [files.trainImages, files.validImages]);
  }

  /**
   * `fromIdx` on the four standard files in a folder: train-images-idx3-ubyte, train-labels-idx1-ubyte,
   * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each possibly gzipped (.gz). The t10k pair is the
   * validation set. E.g. `fromIdxFolder(FASHION_MNIST_PATH, { vocab: FASHION_MNIST_CLASSES })`.
   */
  static async fromIdxFolder(dir: string, opts: ImageDataLoadersOptions = {}): Promise<ImageDataLoaders> {
    return ImageDataLoaders.fromIdx(idxFilesIn(dir), opts);
  }

  /** Takes ownership of xTrain and xValid ([N, h, w] in [0, 1]) and builds the loaders. */
  private static build(
    xTrain: tf.Tensor3D, yTrain: Int32Array, xValid: tf.Tensor3D, yValid: Int32Array, vocab: string[],
    opts: ImageDataLoadersOptions, items: ImageSource, firsts: [string, string],
  ): ImageDataLoaders {
    try {
      const [, h, w] = xTrain.shape;
      if (xValid.shape[1] !== h || xValid.shape[2] !== w) {
        throw new Error(`The training images are ${w}x${h} (${firsts[0]}) but the validation images are ` +
          `${xValid.shape[2]}x${xValid.shape[1]} (${firsts[1]}); both sets need one size.`);
      }
      // The training pixels once on the host: their statistics, then (normalising) the new values in
      // place. One pass each in JavaScript costs a third of tf's sub + div over 47 million values on wasm.
      let trainValues = opts.normalize ? xTrain.dataSync() as Float32Array : undefined;
      const stats = opts.normalize === true ? pixelStats(trainValues!) : opts.normalize || undefined;
      if (stats && !(stats.std > 0 && Number.isFinite(stats.mean))) {
        throw new Error(`Cannot normalise by mean ${stats.mean} and standard deviation ${stats.std}: ` +
          (opts.normalize === true ? "every training pixel has the same value." : "std must be a positive number."));
      }
      const flatten = opts.flatten ?? false;
      const shape = (x: tf.Tensor3D) => (flatten ? [x.shape[0], h * w] : [x.shape[0], h, w, 1]);
      const prepare = (x: tf.Tensor3D, values?: Float32Array) => {
        if (!stats) return x.reshape(shape(x));
        const v = values ?? (x.dataSync() as Float32Array);
        normalizeInPlace(v, stats);
        return tf.tensor(v, shape(x), "float32");
      };
      const made: tf.Tensor[] = [];
      const keep = <T extends tf.Tensor>(t: T) => (made.push(t), t);
      try {
        const train = tensorDataset(keep(prepare(xTrain, trainValues)), keep(tf.tensor1d(yTrain, "int32")));
        trainValues = undefined; // 188 MB for MNIST: let it go before the validation set's copy
        const valid = tensorDataset(keep(prepare(xValid)), keep(tf.tensor1d(yValid, "int32")));
        return new ImageDataLoaders({
          train, valid, vocab, imageSize: [h, w], flatten, stats, items,
          bs: opts.bs ?? 64, shuffle: opts.shuffle ?? true, seed: opts.seed,
        });
      } catch (e) {
        tf.dispose(made); // e.g. a bad batch size: nothing half-built stays
        throw e;
      }
    } finally {
      tf.dispose([xTrain, xValid]); // reshape shares the data, so the datasets keep theirs
    }
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

  /** Frees the datasets' tensors; the loaders cannot be used afterwards. */
  dispose(): void {
    tf.dispose([this.trainDs.x, this.trainDs.y, this.validDs.x, this.validDs.y]);
  }

  // A notebook cell ending in `dls` shows what the loaders hold, not their fields.
  [inspect.custom](): string {
    const names = this.c > 12 ? [...this.vocab.slice(0, 10), "..."] : this.vocab;
    const norm = this.stats ? `normalised by mean ${this.stats.mean.toFixed(4)}, std ${this.stats.std.toFixed(4)}` : "pixels in [0, 1]";
    return `ImageDataLoaders: ${this.c} classes (${names.join(", ")})\n` +
      `  train: x [${this.trainDs.x.shape}], y [${this.trainDs.y.shape}]; ${this.train.length} batches of ${this.train.bs}` +
      `${this.train.shuffle ? ", shuffled" : ""}\n` +
      `  valid: x [${this.validDs.x.shape}], y [${this.validDs.y.shape}]; ${this.valid.length} batches\n` +
      `  ${this.imageSize[1]}x${this.imageSize[0]} images as ${this.flatten ? "flat rows" : "[height, width, 1]"}, ${norm}`;
  }

  override toString(): string {
    return this[inspect.custom]();
  }
}

/**
 * The class names for these labels: `given` (checked to hold every label, no duplicates) or the labels'
 * distinct values sorted. A classifier needs at least two classes.
 */
function checkVocab(given: readonly string[] | undefined, labels: string[], what: (l: string) => string, where: string): string[] {
  const found = [...new Set(labels)].sort();
  const vocab = given ? [...given] : found;
  const dup = vocab.find((v, i) => vocab.indexOf(v) !== i);
  if (dup !== undefined) throw new Error(`The vocab names "${dup}" twice; each class needs one name.`);
  if (given) {
    const missing = found.find((l) => !vocab.includes(l));
    if (missing !== undefined) throw new Error(`${what(missing)} in ${where} is not in the vocab you gave (${vocab.join(", ")}).`);
  }
  if (vocab.length < 2) {
    throw new Error(`${where} holds only one class (${vocab[0]}); a classifier needs at least two.` +
      (given ? "" : ` Put each class's images in a folder of its own: <folder>/<class>/<image>.`));
  }
  return vocab;
}

/**
 * The rows of a stack at each list of indices, copied on the host: tf.gather on wasm walks element by
 * element and takes seconds for MNIST's 56,000 training rows, where row copies take a fraction of one.
 */
function takeRows(x: tf.Tensor3D, lists: number[][]): tf.Tensor3D[] {
  const [, h, w] = x.shape;
  const row = h * w;
  const values = x.dataSync() as Float32Array;
  return lists.map((idx) => {
    const out = new Float32Array(idx.length * row);
    idx.forEach((i, k) => out.set(values.subarray(i * row, (i + 1) * row), k * row));
    return tf.tensor3d(out, [idx.length, h, w]);
  });
}

function checkIdxImages(a: IdxArray, file: string): void {
  if (a.shape.length !== 3 || a.dtype !== "uint8") {
    throw new Error(`${file} should hold images [N, height, width] of uint8 pixels; it holds [${a.shape}] of ${a.dtype}` +
      `${a.shape.length === 1 ? " (a labels file?)" : ""}.`);
  }
}

/** The labels as int32, checked: one dimension, whole non-negative numbers, one per image. */
function idxLabels(a: IdxArray, file: string, nImages: number, imagesFile: string): Int32Array {
  if (a.shape.length !== 1 || !["uint8", "int8", "int16", "int32"].includes(a.dtype)) {
    throw new Error(`${file} should hold labels [N] of integers; it holds [${a.shape}] of ${a.dtype}` +
      `${a.shape.length === 3 ? " (an images file?)" : ""}.`);
  }
  if (a.shape[0] !== nImages) {
    throw new Error(`${file} holds ${a.shape[0]} labels but ${imagesFile} holds ${nImages} images; ` +
      `labels and images must come in matching pairs (one label per image).`);
  }
  const labels = Int32Array.from(a.data as ArrayLike<number>);
  const neg = labels.findIndex((l) => l < 0);
  if (neg >= 0) throw new Error(`${file}: label ${neg} is ${labels[neg]}; class labels are 0 or more.`);
  return labels;
}

/**
 * Mean and (population) standard deviation of every value, summed in float64: float32 sums of MNIST's
 * 47 million pixels would be off in the third digit.
 */
export function pixelStats(v: Float32Array): PixelStats {
  let sum = 0, sumSq = 0;
  for (let i = 0; i < v.length; i++) { const p = v[i]!; sum += p; sumSq += p * p; }
  const mean = sum / v.length;
  return { mean, std: Math.sqrt(Math.max(sumSq / v.length - mean * mean, 0)) };
}

/** v = (v - mean) / std, element by element. */
function normalizeInPlace(v: Float32Array, { mean, std }: PixelStats): void {
  const scale = 1 / std;
  for (let i = 0; i < v.length; i++) v[i] = (v[i]! - mean) * scale;
}

export interface ShowBatchOptions {
  /** How many images (default 9, at most a batch). */
  n?: number;
  /** Images per row (default 3). */
  ncols?: number;
  /** Draw from the validation set, in its order (default: the training set, a random pick). */
  valid?: boolean;
  /** Makes the training pick reproducible; it never disturbs the training loader's own shuffles. */
  seed?: number;
  cmap?: ColorMap;
  /** On-screen size of each image in CSS pixels (default 4x the image). */
  size?: number;
}

/** What showBatch draws: the images as HTML, and a text grid of their labels. */
export async function showBatchHtml(dls: ImageDataLoaders, opts: ShowBatchOptions = {}): Promise<{ html: string; text: string }> {
  for (const [name, v] of [["n", opts.n], ["ncols", opts.ncols]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`showBatch: ${name} must be a positive whole number; got ${v}.`);
  }
  const ds = opts.valid ? dls.validDs : dls.trainDs;
  const total = ds.x.shape[0]!;
  const n = Math.min(opts.n ?? 9, total);
  const ncols = Math.min(opts.ncols ?? 3, n);
  const idx = opts.valid ? Array.from({ length: n }, (_, i) => i)
    : shuffled(total, opts.seed === undefined ? Math.random : seededRandom(opts.seed)).slice(0, n);
  const picked = tf.gather(ds.y, idx);
  const labels = Array.from(picked.dataSync());
  picked.dispose();
  const images = tf.tidy(() => tf.unstack(dls.decode(tf.gather(ds.x, idx))));
  try {
    const titles = labels.map((l) => dls.vocab[l] ?? String(l));
    const html = await imagesHtml(images, { titles, ncols, cmap: opts.cmap, size: opts.size });
    const width = Math.max(...titles.map((t) => t.length));
    const rows: string[] = [];
    for (let i = 0; i < n; i += ncols) rows.push(titles.slice(i, i + ncols).map((t) => t.padEnd(width)).join("  ").trimEnd());
    const [h, w] = dls.imageSize;
    const caption = `${n} ${opts.valid ? "validation" : "training"} image${n === 1 ? "" : "s"} (${w}x${h})`;
    return { html: `<div style="font:12px sans-serif">${escapeHtml(caption)}</div>${html}`, text: `${caption}, labels:\n${rows.join("\n")}` };
  } finally {
    tf.dispose(images);
  }
}

/**
 * Draws `n` images of the training set (or the first of the validation set) in a grid, each captioned with
 * its class name (fastai's `show_batch`). Outside Jupyter it prints the labels as a text grid.
 */
export async function showBatch(dls: ImageDataLoaders, opts: ShowBatchOptions = {}): Promise<void> {
  const { html, text } = await showBatchHtml(dls, opts);
  showHtml(html, text);
}
