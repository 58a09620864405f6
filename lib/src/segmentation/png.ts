// PNG files of any bit depth (1 to 16) and colour type, read as gray levels for images and as salt / no salt
// for masks; and a small PNG writer for the synthetic data set (8-bit RGB images and 16-bit gray masks, as in
// Kaggle's download). pngjs decodes; `skipRescale` keeps 16-bit samples as they are, so a 16-bit mask whose
// salt is stored as 1 stays nonzero (rescaled to 8 bits it would round to 0).
import * as zlib from "node:zlib";
import { PNG } from "pngjs";
import { decodeGray8Png, isPng } from "../data/png-gray";

/** One image's pixels as stored, one sample per channel, with the largest value a sample can take. */
interface Samples {
  width: number;
  height: number;
  /** RGBA per pixel (gray repeated in r, g, b). */
  rgba: ArrayLike<number>;
  maxValue: number;
}

function decode(bytes: Buffer, file: string): Samples {
  if (!isPng(bytes)) {
    throw new Error(`${file} is not a PNG file (its first bytes are not PNG's signature); images and masks must be PNGs.`);
  }
  try {
    const png = PNG.sync.read(bytes, { skipRescale: true });
    const maxValue = (png.colorType as number) === 3 ? 255 : 2 ** png.depth - 1; // palette entries are 8-bit colours
    return { width: png.width, height: png.height, rgba: png.data as ArrayLike<number>, maxValue };
  } catch (e) {
    throw new Error(`Cannot decode ${file}: ${(e as Error).message}. The file is damaged or not a valid PNG.`);
  }
}

/**
 * An image as gray levels in [0, 1], row by row: the sample when r = g = b (gray PNGs, and gray stored as
 * RGB), else the ITU-R 601 luma. Alpha is ignored.
 */
export function decodeGrayLevels(bytes: Buffer, file: string): { width: number; height: number; data: Float32Array } {
  const gray8 = isPng(bytes) ? tryGray8(bytes, file) : undefined;
  if (gray8) return { width: gray8.width, height: gray8.height, data: Float32Array.from(gray8.data, (v) => v / 255) };
  const { width, height, rgba, maxValue } = decode(bytes, file);
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const r = rgba[4 * i]!, g = rgba[4 * i + 1]!, b = rgba[4 * i + 2]!;
    data[i] = (r === g && g === b ? r : 0.299 * r + 0.587 * g + 0.114 * b) / maxValue;
  }
  return { width, height, data };
}

/** A mask as 0/1 bytes, row by row: 1 wherever any colour sample is nonzero (alpha is ignored). */
export function decodeMaskBits(bytes: Buffer, file: string): { width: number; height: number; data: Uint8Array } {
  const gray8 = isPng(bytes) ? tryGray8(bytes, file) : undefined;
  if (gray8) return { width: gray8.width, height: gray8.height, data: Uint8Array.from(gray8.data, (v) => (v !== 0 ? 1 : 0)) };
  const { width, height, rgba } = decode(bytes, file);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = rgba[4 * i] || rgba[4 * i + 1] || rgba[4 * i + 2] ? 1 : 0;
  return { width, height, data };
}

/** The fast path for 8-bit gray PNGs; undefined for other kinds. */
function tryGray8(bytes: Buffer, file: string) {
  try {
    return decodeGray8Png(bytes);
  } catch (e) {
    throw new Error(`Cannot decode ${file}: ${(e as Error).message}. The file is damaged or not a valid PNG.`);
  }
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

/**
 * Encodes pixels as a PNG: `channels` 1 (gray) or 3 (RGB), `depth` 8 or 16; `data` holds the samples row by
 * row, channel by channel (0..255 or 0..65535).
 */
export function encodePng(width: number, height: number, channels: 1 | 3, depth: 8 | 16, data: ArrayLike<number>): Buffer {
  if (data.length !== width * height * channels) {
    throw new Error(`encodePng: ${width}x${height} with ${channels} channel(s) needs ${width * height * channels} samples; got ${data.length}.`);
  }
  const bytesPerSample = depth / 8, rowBytes = width * channels * bytesPerSample;
  const raw = Buffer.alloc(height * (rowBytes + 1)); // each row: filter type 0 (none), then the samples
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * channels; i++) {
      const v = data[y * width * channels + i]!, at = y * (rowBytes + 1) + 1 + i * bytesPerSample;
      if (depth === 8) raw[at] = v;
      else raw.writeUInt16BE(v, at);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = channels === 1 ? 0 : 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw, { level: 3 })), chunk("IEND", Buffer.alloc(0))]);
}
