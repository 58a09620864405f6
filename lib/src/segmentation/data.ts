// Images and their masks for segmentation (fastai's SegmentationDataLoaders in spirit): pairs matched by
// file name, kept on the host as typed arrays, and served in batches of tensors made on demand: images
// reflect-padded to a size a U-Net can halve several times (101 -> 128), masks at their own size, 0/1.
import * as fs from "node:fs";
import * as path from "node:path";
import { inspect } from "node:util";
import { tf } from "../tf";
import { seededRandom, shuffled } from "../dataloader";
import type { BatchSource } from "../learner";
import { pixelStats, type PixelStats } from "../data/image-dataset";
import { decodeGrayLevels, decodeMaskBits } from "./png";
import { isSyntheticSalt } from "./synthetic";
import { showMaskBatch, type ShowMasksOptions } from "./show";

/** Options of `SegmentationDataLoaders.fromFolders`. */
export interface SegmentationOptions {
  /** The images' folder, relative to the data folder (default "train/images", Kaggle's layout). */
  images?: string;
  /** The masks' folder, holding a mask of the same file name for every image (default "train/masks"). */
  masks?: string;
  /** The random fraction of the pairs held out for validation (default 0.2). */
  validPct?: number;
  /** Makes the split, the shuffles and the flips reproducible. */
  seed?: number;
  /** Items per batch (default 32). */
  bs?: number;
  /** The side images are padded to by reflection (default: the image size rounded up to a multiple of 32; 101 -> 128). */
  pad?: number;
  /** Flip each training image and its mask left-right at random, a fresh draw every epoch (default true). */
  flip?: boolean;
  /**
   * true (default): subtract the training pixels' mean and divide by their standard deviation; `{ mean, std }`:
   * use these; "image": each image by its own mean and standard deviation (for images whose contrast varies a
   * lot, as seismic sections' does); false: pixels stay in [0, 1].
   */
  normalize?: boolean | PixelStats | "image";
  /** Use only the first `limit` pairs in name order (a quicker run). */
  limit?: number;
}

/** Pixels of images [n, height, width] in [0, 1] and their 0/1 masks, row by row, on the host. */
interface Pairs {
  ids: string[];
  images: Float32Array;
  masks?: Uint8Array;
}

/** The image files in a folder (PNG, by name), or an error that says what the folder holds instead. */
function pngFiles(dir: string, what: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    throw new Error(`The ${what} folder ${dir} does not exist or cannot be read.`);
  }
  const files = names.filter((n) => !n.startsWith(".") && /\.png$/i.test(n)).sort();
  if (files.length === 0) throw new Error(`The ${what} folder ${dir} holds no PNG files (${names.length} other entries).`);
  return files;
}

const idOf = (name: string) => name.replace(/\.png$/i, "");

function listSome(names: string[]): string {
  return names.slice(0, 5).join(", ") + (names.length > 5 ? `, ... (${names.length} in all)` : "");
}

/** Decodes every file with `decode` into one array, checking each against the first one's size. */
function readAll<T extends Float32Array | Uint8Array>(files: string[], make: (n: number) => T,
    decode: (bytes: Buffer, file: string) => { width: number; height: number; data: ArrayLike<number> },
    size?: { width: number; height: number; file: string }): { data: T; width: number; height: number } {
  let out: T | undefined;
  let first = size;
  for (const [i, file] of files.entries()) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      throw new Error(`Cannot read ${file}: ${(e as Error).message}`);
    }
    const im = decode(bytes, file);
    first ??= { width: im.width, height: im.height, file };
    if (im.width !== first.width || im.height !== first.height) {
      throw new Error(`${file} is ${im.width}x${im.height}, but ${first.file} is ${first.width}x${first.height}: every image ` +
        "and mask must have one size.");
    }
    out ??= make(files.length * im.width * im.height);
    out.set(im.data, i * im.width * im.height);
  }
  return { data: out!, width: first!.width, height: first!.height };
}

/** Gray images in [0, 1] from PNG files of any bit depth and colour type, all of one size. */
export function readImageStack(files: string[]) {
  return readAll(files, (n) => new Float32Array(n), decodeGrayLevels);
}

/** The reflection of index i into 0..n-1 without repeating the edge (numpy's "reflect"): -1 -> 1, n -> n-2. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const r = ((i % period) + period) % period;
  return r < n ? r : period - r;
}

/** Where a `size` image sits inside its padded square of side `side`: the rows or columns added before it. */
export function padBefore(size: number, side: number): number {
  return Math.floor((side - size) / 2);
}

/**
 * Pads images [n, height, width] (row by row) to [n, side, side] by reflecting them at their edges, the
 * image centred (101 -> 128: 13 before, 14 after). `flips[i]` mirrors image i left-right first.
 */
export function reflectPad(src: Float32Array, n: number, height: number, width: number, side: number,
    flips?: ArrayLike<boolean>, out = new Float32Array(n * side * side)): Float32Array {
  if (side < height || side < width) throw new Error(`reflectPad: cannot pad ${width}x${height} images to a smaller ${side}x${side}.`);
  const top = padBefore(height, side), left = padBefore(width, side);
  const cols = Int32Array.from({ length: side }, (_, x) => reflect(x - left, width));
  for (let k = 0; k < n; k++) {
    const flip = flips?.[k] ?? false;
    for (let y = 0; y < side; y++) {
      const row = k * height * width + reflect(y - top, height) * width, dst = (k * side + y) * side;
      for (let x = 0; x < side; x++) out[dst + x] = src[row + (flip ? width - 1 - cols[x]! : cols[x]!)]!;
    }
  }
  return out;
}

/**
 * The centre `height` x `width` of padded predictions [n, side, side, c]: the inverse of reflectPad's
 * placement, so predictions line up with the original 101x101 images and masks.
 */
export function cropCenter(t: tf.Tensor, height: number, width: number): tf.Tensor4D {
  if (t.rank !== 4) throw new Error(`cropCenter needs [n, height, width, channels]; got [${t.shape}].`);
  const [n, h, w, c] = t.shape as [number, number, number, number];
  if (h === height && w === width) return t.clone() as tf.Tensor4D;
  return tf.slice(t, [0, padBefore(height, h), padBefore(width, w), 0], [n, height, width, c]) as tf.Tensor4D;
}

/**
 * Batches of [images, masks] for the Learner: images [bs, side, side, 1] (normalised, reflect-padded), masks
 * [bs, height, width, 1] of 0/1 (zeros for a set without masks). The caller disposes each batch, as with
 * any DataLoader.
 */
export class MaskLoader implements BatchSource {
  private readonly rand: () => number;
  constructor(readonly pairs: Pairs, readonly size: { height: number; width: number; side: number; stats?: PixelStats | "image" },
              readonly bs: number, readonly shuffle = false, readonly flip = false, seed?: number) {
    if (!Number.isInteger(bs) || bs < 1) throw new Error(`Batch size must be a positive integer; got ${bs}.`);
    this.rand = seed === undefined ? Math.random : seededRandom(seed);
  }

  /** Number of items. */
  get n(): number {
    return this.pairs.ids.length;
  }

  /** Number of batches. */
  get length(): number {
    return Math.ceil(this.n / this.bs);
  }

  /** The items `idx` as one batch; `flips[i]` mirrors item i left-right. */
  batch(idx: number[], flips?: boolean[]): [tf.Tensor4D, tf.Tensor4D] {
    const { height, width, side, stats } = this.size;
    const hw = height * width, n = idx.length;
    const images = new Float32Array(n * hw), masks = new Float32Array(n * hw);
    idx.forEach((item, k) => {
      images.set(this.pairs.images.subarray(item * hw, (item + 1) * hw), k * hw);
      const m = this.pairs.masks;
      if (!m) return;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) masks[k * hw + y * width + x] = m[item * hw + y * width + (flips?.[k] ? width - 1 - x : x)]!;
      }
    });
    if (stats === "image") for (let k = 0; k < n; k++) standardize(images.subarray(k * hw, (k + 1) * hw));
    else if (stats) for (let i = 0; i < images.length; i++) images[i] = (images[i]! - stats.mean) / stats.std;
    const padded = reflectPad(images, n, height, width, side, flips);
    return [tf.tensor4d(padded, [n, side, side, 1]), tf.tensor4d(masks, [n, height, width, 1])];
  }

  *[Symbol.iterator](): Iterator<[tf.Tensor, tf.Tensor]> {
    const order = this.shuffle ? shuffled(this.n, this.rand) : Array.from({ length: this.n }, (_, i) => i);
    for (let start = 0; start < this.n; start += this.bs) {
      const idx = order.slice(start, start + this.bs);
      yield this.batch(idx, this.flip ? idx.map(() => this.rand() < 0.5) : undefined);
    }
  }

  [inspect.custom](): string {
    return `MaskLoader(${this.n} items; bs ${this.bs}, ${this.length} batches${this.shuffle ? ", shuffled" : ""}${this.flip ? ", random flips" : ""})`;
  }
}

/** v = (v - mean) / std in place, with v's own mean and standard deviation (a flat image just loses its mean). */
function standardize(v: Float32Array): void {
  const { mean, std } = pixelStats(v);
  const scale = std > 1e-6 ? 1 / std : 1;
  for (let i = 0; i < v.length; i++) v[i] = (v[i]! - mean) * scale;
}

function take(p: Pairs, idx: number[], hw: number): Pairs {
  const images = new Float32Array(idx.length * hw), masks = new Uint8Array(idx.length * hw);
  idx.forEach((i, k) => {
    images.set(p.images.subarray(i * hw, (i + 1) * hw), k * hw);
    masks.set(p.masks!.subarray(i * hw, (i + 1) * hw), k * hw);
  });
  return { ids: idx.map((i) => p.ids[i]!), images, masks };
}

/**
 * Training and validation loaders over images and their masks. `train` and `valid` are MaskLoaders for the
 * Learner; `imageSize` is the images' own size, `side` the padded one; `crop` takes padded predictions back to
 * the images' size.
 */
export class SegmentationDataLoaders {
  readonly train: MaskLoader;
  readonly valid: MaskLoader;
  /** [height, width] of the images and masks as stored (101x101 for TGS salt). */
  readonly imageSize: [number, number];
  /** The side of the padded square the network sees. */
  readonly side: number;
  /** How the images are normalised: the training pixels' statistics, or "image" (each by its own). */
  readonly stats?: PixelStats | "image";
  /** The folder the pairs came from. */
  readonly path: string;
  /** True for the synthetic stand-in (makeSyntheticSalt), false for real data. */
  readonly synthetic: boolean;

  private constructor(dir: string, train: Pairs, valid: Pairs, height: number, width: number, side: number,
                      stats: PixelStats | "image" | undefined, opts: SegmentationOptions) {
    this.path = dir;
    this.synthetic = isSyntheticSalt(dir);
    this.imageSize = [height, width];
    this.side = side;
    this.stats = stats;
    const size = { height, width, side, stats };
    const bs = opts.bs ?? 32;
    this.train = new MaskLoader(train, size, bs, true, opts.flip ?? true, opts.seed);
    this.valid = new MaskLoader(valid, size, bs);
  }

  /**
   * Reads `<dir>/<images>/<name>.png` and `<dir>/<masks>/<name>.png` pairs (Kaggle's TGS layout:
   * train/images and train/masks), any PNG bit depth and colour type: images become gray levels in [0, 1],
   * masks 1 wherever a pixel is nonzero. Files without a partner, of another size, or unreadable are errors
   * that name them. A random `validPct` of the pairs (seeded) becomes the validation set.
   */
  static fromFolders(dir: string, opts: SegmentationOptions = {}): SegmentationDataLoaders {
    const imageDir = path.join(dir, opts.images ?? "train/images"), maskDir = path.join(dir, opts.masks ?? "train/masks");
    const imageNames = pngFiles(imageDir, "images"), maskNames = pngFiles(maskDir, "masks");
    const maskSet = new Set(maskNames), imageSet = new Set(imageNames);
    const lonelyImages = imageNames.filter((n) => !maskSet.has(n)), lonelyMasks = maskNames.filter((n) => !imageSet.has(n));
    if (lonelyImages.length || lonelyMasks.length) {
      throw new Error([
        lonelyImages.length ? `${lonelyImages.length} image(s) in ${imageDir} have no mask of the same name in ${maskDir}: ${listSome(lonelyImages)}.` : "",
        lonelyMasks.length ? `${lonelyMasks.length} mask(s) in ${maskDir} have no image of the same name in ${imageDir}: ${listSome(lonelyMasks)}.` : "",
        "Every image needs its mask, under the same file name.",
      ].filter(Boolean).join(" "));
    }
    const validPct = opts.validPct ?? 0.2;
    if (!(validPct > 0 && validPct < 1)) throw new Error(`fromFolders: validPct must lie strictly between 0 and 1; got ${validPct}.`);
    if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 2)) {
      throw new Error(`fromFolders: limit must be a whole number of at least 2; got ${opts.limit}.`);
    }
    const names = imageNames.slice(0, opts.limit);
    const images = readImageStack(names.map((n) => path.join(imageDir, n)));
    const first = { width: images.width, height: images.height, file: path.join(imageDir, names[0]!) };
    const masks = readAll(names.map((n) => path.join(maskDir, n)), (n) => new Uint8Array(n), decodeMaskBits, first);
    const { height, width } = images;
    const side = opts.pad ?? Math.ceil(Math.max(height, width) / 32) * 32;
    if (!(Number.isInteger(side) && side >= Math.max(height, width))) {
      throw new Error(`fromFolders: pad must be a whole number at least the image size (${width}x${height}); got ${opts.pad}.`);
    }
    const all: Pairs = { ids: names.map(idOf), images: images.data, masks: masks.data };
    const order = shuffled(names.length, opts.seed === undefined ? Math.random : seededRandom(opts.seed));
    const nValid = Math.max(1, Math.floor(names.length * validPct));
    const hw = height * width;
    // Validation keeps name order, so that its items are easy to find again.
    const validIdx = order.slice(0, nValid).sort((a, b) => a - b), trainIdx = order.slice(nValid);
    const train = take(all, trainIdx, hw), valid = take(all, validIdx, hw);
    const stats = opts.normalize === false ? undefined : opts.normalize === true || opts.normalize === undefined
      ? pixelStats(train.images) : opts.normalize;
    if (stats && stats !== "image" && !(stats.std > 0)) throw new Error("Cannot normalise: every training pixel has the same value.");
    return new SegmentationDataLoaders(dir, train, valid, height, width, side, stats, opts);
  }

  /**
   * A loader over unlabelled images (Kaggle's test/images), padded and normalised as the training images
   * are; its masks are zeros. `ids` are the file names without `.png`, in name order.
   */
  testDl(folder = "test/images", { bs, limit }: { bs?: number; limit?: number } = {}): MaskLoader {
    const dir = path.isAbsolute(folder) ? folder : path.join(this.path, folder);
    const names = pngFiles(dir, "test images").slice(0, limit);
    const images = readImageStack(names.map((n) => path.join(dir, n)));
    const [height, width] = this.imageSize;
    if (images.height !== height || images.width !== width) {
      throw new Error(`The images in ${dir} are ${images.width}x${images.height}; the training images are ${width}x${height}.`);
    }
    return new MaskLoader({ ids: names.map(idOf), images: images.data }, { height, width, side: this.side, stats: this.stats }, bs ?? this.train.bs);
  }

  /**
   * Draws items with their masks in orange; given `learn`, its predictions in cyan with each item's score
   * (fastai's show_batch / show_results). See ShowMasksOptions.
   */
  showBatch(opts: ShowMasksOptions = {}): void {
    showMaskBatch(this, opts);
  }

  /** The centre of padded predictions [n, side, side, c], back at the images' size. */
  crop(t: tf.Tensor): tf.Tensor4D {
    return cropCenter(t, this.imageSize[0], this.imageSize[1]);
  }

  [inspect.custom](): string {
    const [h, w] = this.imageSize;
    const salty = (p: Pairs) => {
      let n = 0;
      for (let i = 0; i < p.ids.length; i++) if (p.masks!.subarray(i * h * w, (i + 1) * h * w).includes(1)) n++;
      return n;
    };
    const t = this.train.pairs, v = this.valid.pairs;
    const norm = this.stats === "image" ? "each image normalised by its own mean and standard deviation"
      : this.stats ? `normalised by mean ${this.stats.mean.toFixed(4)}, std ${this.stats.std.toFixed(4)}` : "pixels in [0, 1]";
    return `SegmentationDataLoaders: ${w}x${h} images with masks (${this.synthetic ? "SYNTHETIC stand-in" : "from files"}), ${this.path}\n` +
      `  train: ${t.ids.length} pairs (${salty(t)} with salt); ${this.train.length} batches of ${this.train.bs}, shuffled` +
      `${this.train.flip ? ", random left-right flips" : ""}\n` +
      `  valid: ${v.ids.length} pairs (${salty(v)} with salt); ${this.valid.length} batches\n` +
      `  images reflect-padded to ${this.side}x${this.side}, masks ${w}x${h}; ${norm}`;
  }

  /** What the loaders hold, in a few lines (as a cell shows them). */
  toString(): string {
    return this[inspect.custom]();
  }
}
