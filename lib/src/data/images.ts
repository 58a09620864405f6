// Image files <-> tensors, with jimp. tfjs has no uint8 dtype, so pixels come back as int32 0..255
// (what tf.browser.fromPixels gives too), or as float32 in [0,1] once stacked for training.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Jimp } from "jimp";
import { PNG } from "pngjs";
import { tf } from "../tf";
import { defaultDataDir } from "./untar";
import { removeLeftovers } from "./data-dir";
import { InterruptWatch } from "../interrupt";
import { decodeGray8Png, isPng } from "./png-gray";

/** A gray image: `width`×`height` pixels, row by row, 0 (black) to 255 (white). */
export interface GrayImage {
  width: number;
  height: number;
  /** One byte per pixel, row by row. */
  data: Uint8Array;
}

/** RGBA bytes to one gray byte per pixel: the red channel when r = g = b, else the ITU-R 601 luma, as PIL's "L". */
function rgbaToGray(rgba: Uint8Array | Buffer, width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
    data[i] = r === g && g === b ? r : Math.round((r * 299 + g * 587 + b * 114) / 1000);
  }
  return data;
}

/**
 * Decodes an image file to 8-bit grayscale. 8-bit gray PNGs (all of MNIST) are decoded directly
 * (png-gray.ts), other PNGs by pngjs (the codec jimp itself uses, without jimp's per-image overhead), and
 * other formats (JPEG, BMP, GIF, TIFF) by jimp.
 */
export async function readGray(file: string): Promise<GrayImage> {
  const bytes = readIntoShared(file);
  return decodeGray(bytes, file) ?? decodeWithJimp(Buffer.from(bytes), file);
}

// One reusable buffer for reading many small files in a row (MNIST's PNGs are ~300 bytes): no allocation
// and no size lookup per file, about a third less time than readFileSync. Valid until the next call.
let readBuffer = Buffer.allocUnsafe(1 << 16);

function readIntoShared(file: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`No such image file: ${file}`);
    throw e;
  }
  try {
    let n = 0;
    for (;;) {
      if (n === readBuffer.length) readBuffer = Buffer.concat([readBuffer, Buffer.allocUnsafe(readBuffer.length)]);
      const got = fs.readSync(fd, readBuffer, n, readBuffer.length - n, null);
      if (got === 0) return readBuffer.subarray(0, n);
      n += got;
    }
  } finally {
    fs.closeSync(fd);
  }
}

const decodeError = (file: string, e: unknown) =>
  new Error(`Could not decode image ${file}: ${(e as Error).message}. The file is corrupt or not a PNG, JPEG, BMP, GIF or TIFF: replace it or move it out of the folder.`);

/** Synchronous PNG decoding (8-bit gray directly, other PNGs through pngjs); undefined when not a PNG. */
function decodeGray(bytes: Buffer, file: string): GrayImage | undefined {
  if (!isPng(bytes)) return undefined;
  try {
    const gray = decodeGray8Png(bytes);
    if (gray) return gray;
    const png = PNG.sync.read(bytes);
    return { width: png.width, height: png.height, data: rgbaToGray(png.data, png.width, png.height) };
  } catch (e) {
    throw decodeError(file, e);
  }
}

async function decodeWithJimp(bytes: Buffer, file: string): Promise<GrayImage> {
  try {
    const { width, height, data } = (await Jimp.read(bytes)).bitmap;
    return { width, height, data: rgbaToGray(data, width, height) };
  } catch (e) {
    throw decodeError(file, e);
  }
}

/** How `openImage` reads the pixels: "gray" (one value per pixel, as PIL's mode "L") or "rgb" (three). */
export type ImageMode = "gray" | "rgb";

/** Decodes an image file to 8-bit RGB, three bytes per pixel (PIL's `convert("RGB")`: alpha dropped). */
async function readRgb(file: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const bytes = Buffer.from(readIntoShared(file));
  let rgba: { width: number; height: number; data: Uint8Array };
  try {
    rgba = isPng(bytes) ? PNG.sync.read(bytes) : (await Jimp.read(bytes)).bitmap;
  } catch (e) {
    throw decodeError(file, e);
  }
  const { width, height } = rgba, data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgba.data.subarray(4 * i, 4 * i + 3), 3 * i);
  return { width, height, data };
}

/**
 * Opens an image as an int32 tensor holding 0..255, like `tensor(Image.open(path))`: [height, width] in
 * gray (the default; colour images are turned gray), or [height, width, 3] (red, green, blue) with
 * `{ mode: "rgb" }`. `showImage` shows either.
 * @example const im = await openImage("photo.png", { mode: "rgb" }); // Tensor int32 [h, w, 3]
 */
export async function openImage(file: string, opts?: { mode?: "gray" }): Promise<tf.Tensor2D>;
export async function openImage(file: string, opts: { mode: "rgb" }): Promise<tf.Tensor3D>;
export async function openImage(file: string, opts: { mode?: ImageMode } = {}): Promise<tf.Tensor2D | tf.Tensor3D> {
  const mode = opts.mode ?? "gray";
  if (mode === "rgb") {
    const { width, height, data } = await readRgb(file);
    return tf.tensor3d(Int32Array.from(data), [height, width, 3], "int32");
  }
  if (mode !== "gray") throw new Error(`openImage: mode "${mode}" is not known; use "gray" (the default) or "rgb".`);
  const { width, height, data } = await readGray(file);
  return tf.tensor2d(Int32Array.from(data), [height, width], "int32");
}

/** The entries of a folder as full paths, sorted as fastai's `path.ls().sorted()` sorts them. */
export function ls(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    throw new Error(`No such folder: ${dir}`);
  }
  // The default sort compares UTF-16 code units (like Python's str order), not with localeCompare; the
  // folder is normalised once rather than path.join'ed 6,000 times.
  const base = path.join(dir, "x").slice(0, -1); // what path.join(dir, name) puts before each name
  return names.sort().map((n) => base + n);
}

// Decoded pixels of a list of files, kept under <data dir>/.cache/images so that re-running a cell does
// not decode thousands of PNGs again. The key covers every path, size and modification time, so a
// changed, added or removed file means a new entry.
function cacheKey(files: string[]): string {
  // One string hashed once (relative paths are made unique by the working folder in front).
  const lines = [process.cwd()];
  for (const f of files) {
    const st = fs.statSync(f, { throwIfNoEntry: false });
    lines.push(`${f}\0${st?.size ?? -1}\0${st?.mtimeMs ?? -1}`);
  }
  return createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 32);
}

/** The cached values, read straight into their array (no conversion); undefined when missing, of the wrong size or unreadable. */
function readCache(file: string, size: number): Float32Array | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    const bytes = size * 4;
    if (fs.fstatSync(fd).size !== bytes) return undefined;
    const out = new Float32Array(size);
    const view = new Uint8Array(out.buffer);
    for (let done = 0; done < bytes;) {
      const got = fs.readSync(fd, view, done, bytes - done, done);
      if (got === 0) return undefined;
      done += got;
    }
    return out;
  } catch {
    return undefined; // a damaged entry: decode again (and rewrite it)
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a cache entry through a temporary name; a failed write (a full disk) removes what it wrote at once. */
function writeCache(file: string, values: Float32Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, values);
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true }); // a read-only or full data folder only costs speed
  }
}

/** out[i] = bytes[i] / 255 (a function of its own, so that the loop stays monomorphic and fast). */
function toUnit(out: Float32Array, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 255;
}

/** Pixel bytes (0..255) as float32 values in [0, 1] (v / 255). */
export function bytesToUnit(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  toUnit(out, bytes);
  return out;
}

/**
 * Pixel bytes (0..255) as a float32 tensor of `shape` in [0, 1] (v / 255), Also used for IDX files (idx.ts).
 */
export function bytesToUnitTensor<R extends tf.Rank>(bytes: Uint8Array, shape: number[]): tf.Tensor<R> {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== bytes.length) throw new Error(`bytesToUnitTensor: ${bytes.length} bytes cannot fill shape [${shape}].`);
  const t: tf.Tensor = tf.tensor(bytesToUnit(bytes), shape, "float32");
  return t as tf.Tensor<R>;
}

/** Gray images of one size as float32 values in [0, 1], image after image, row by row. */
export interface ImageValues {
  values: Float32Array;
  /** [N, height, width]. */
  shape: [number, number, number];
}

/** Options of `stackImages`. */
export interface StackOptions {
  /** Keep the decoded pixels in the data folder's cache, <data dir>/.cache/images (default true). */
  cache?: boolean;
  cacheDir?: string;
}

/**
 * Opens every file and puts their gray pixels / 255 one after the other in one float32 array, in the order
 * given. All images must have the size of the first. Decoded pixels are cached (see above) unless `cache: false`.
 */
export async function readImageValues(files: string[], opts: StackOptions = {}): Promise<ImageValues> {
  if (files.length === 0) throw new Error("stackImages got no files: check the folder you listed.");
  const useCache = opts.cache ?? true;
  const dir = opts.cacheDir ?? path.join(defaultDataDir(), ".cache", "images");
  const key = useCache ? cacheKey(files) : "";
  if (useCache) {
    removeLeftovers(dir, []); // cache files half-written by a killed process
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      const m = new RegExp(`^${key}-(\\d+)x(\\d+)x(\\d+)\\.f32$`).exec(name);
      if (!m) continue;
      const [n, h, w] = m.slice(1).map(Number) as [number, number, number];
      const cached = n === files.length ? readCache(path.join(dir, name), n * h * w) : undefined;
      if (cached) return { values: cached, shape: [n, h, w] };
    }
  }
  // PNGs decode synchronously in one loop (no per-file promise), each straight into the stack; anything
  // else goes through jimp. The first image sets the size.
  let width = 0, height = 0;
  let bytes = new Uint8Array(0);
  // Kernel > Interrupt stops the loop between two files.
  const watch = new InterruptWatch("stackImages");
  try {
    for (const [i, f] of files.entries()) {
      const raw = readIntoShared(f);
      const im = decodeGray(raw, f) ?? await decodeWithJimp(Buffer.from(raw), f);
      if (i === 0) ({ width, height } = im), bytes = new Uint8Array(files.length * width * height);
      if (im.width !== width || im.height !== height) {
        throw new Error(`Cannot stack ${f}: it is ${im.width}x${im.height}, the first image is ${width}x${height}; ` +
          `all images need one size: resize it or move it out of the folder.`);
      }
      bytes.set(im.data, i * width * height);
      await watch.checkpoint(`after ${i + 1} of ${files.length} images`);
    }
  } finally {
    watch.close();
  }
  const values = bytesToUnit(bytes);
  if (useCache) writeCache(path.join(dir, `${key}-${files.length}x${height}x${width}.f32`), values);
  return { values, shape: [files.length, height, width] };
}

/**
 * Opens every file and stacks them into one float32 tensor [N, height, width] with values in [0,1]:
 * the chapter's `torch.stack([tensor(Image.open(o)) for o in files]).float()/255` in one step,
 * written straight into one buffer instead of N intermediate tensors. Decoded pixels are cached
 * (see above) unless `cache: false`.
 */
export async function stackImages(files: string[], opts: StackOptions = {}): Promise<tf.Tensor3D> {
  const { values, shape } = await readImageValues(files, opts);
  return tf.tensor3d(values, shape);
}

/** How gray values are drawn: "Greys" dark ink on white (the book's figures), "gray" white on black. */
export type ColorMap = "Greys" | "gray";

/**
 * Encodes a 2-D tensor as a grayscale PNG, scaled from its own min..max as matplotlib's imshow does.
 * "Greys" (the chapter's figures) draws high values dark; "gray" draws them light. A [height, width, 3]
 * tensor is a colour image, drawn as matplotlib draws one: int32 values as 0..255, floats as 0..1.
 */
export async function tensorToPng(t: tf.Tensor, cmap: ColorMap = "Greys"): Promise<Buffer> {
  if (t.rank === 3 && t.shape[2] === 3) return rgbToPng(t as tf.Tensor3D);
  if (t.rank !== 2) throw new Error(`An image tensor must be [height, width] (gray) or [height, width, 3] (colour); got shape [${t.shape}].`);
  const [height, width] = t.shape;
  const values = await t.data();
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const span = hi > lo ? hi - lo : 1;
  const rgba = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    let v = Math.round(((values[i] as number) - lo) / span * 255);
    if (cmap === "Greys") v = 255 - v;
    rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = v;
    rgba[4 * i + 3] = 255;
  }
  return new Jimp({ width, height, data: rgba }).getBuffer("image/png");
}

async function rgbToPng(t: tf.Tensor3D): Promise<Buffer> {
  const [height, width] = t.shape;
  const values = await t.data(), scale = t.dtype === "int32" ? 1 : 255;
  const rgba = Buffer.alloc(width * height * 4, 255);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = Math.min(255, Math.max(0, Math.round((values[3 * i + c] as number) * scale)));
  }
  return new Jimp({ width, height, data: rgba }).getBuffer("image/png");
}
