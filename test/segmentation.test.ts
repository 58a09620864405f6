// Masks as data for the TGS salt homework: run-length codes in Kaggle's convention, train.csv and submissions,
// PNG masks of every bit depth and colour type, the loaders' padding and cropping, and the losses and metrics
// for masks, each against hand computations and an independent Python reference (fixtures/salt_reference.py).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { spawnSync } from "node:child_process";
import { PNG } from "pngjs";
import { tf } from "../lib/src/tf";
import { initBackend } from "../lib/src/engine/backend";
import { seededRandom } from "../lib/src/dataloader";
import { rleDecode, rleEncode, readRleCsv, writeSubmission, readIdCsv, type Mask } from "../lib/src/segmentation/rle";
import { decodeGrayLevels, decodeMaskBits, encodePng } from "../lib/src/segmentation/png";
import { SegmentationDataLoaders, cropCenter, reflectPad } from "../lib/src/segmentation/data";
import type { PixelStats } from "../lib/src/data/image-dataloaders";
import { lovaszHingeLoss, pixelBCE, softDiceLoss } from "../lib/src/segmentation/losses";
import { dice, dropSmallMasks, iou, saltScore } from "../lib/src/segmentation/metrics";
import { unetLearner } from "../lib/src/segmentation/unet";
import { tempDir } from "./helpers";

const REFERENCE = path.join(__dirname, "fixtures", "salt_reference.py");

/** Runs the Python reference on a query (see its docstring). */
function reference(query: object): Record<string, unknown[]> {
  const r = spawnSync("/usr/bin/python3", [REFERENCE], { input: JSON.stringify(query), encoding: "utf8", maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const rows = (m: Mask) => Array.from({ length: m.height }, (_, y) => Array.from(m.data.subarray(y * m.width, (y + 1) * m.width)));

/** A random mask with a few blobs (runs that cross columns), or empty, or full. */
function randomMask(r: () => number, h: number, w: number): Mask {
  const data = new Uint8Array(h * w);
  const kind = r();
  if (kind < 0.1) return { height: h, width: w, data };
  if (kind < 0.15) return { height: h, width: w, data: data.fill(1) };
  for (let b = 0; b < 1 + Math.floor(r() * 3); b++) {
    const cx = r() * w, cy = r() * h, rad = 1 + r() * Math.min(h, w) / 2;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (Math.hypot(x - cx, y - cy) < rad) data[y * w + x] = 1;
  }
  if (r() < 0.5) for (let i = 0; i < data.length; i++) if (r() < 0.02) data[i] = 1 - data[i]!; // specks and holes
  return { height: h, width: w, data };
}

test("rleEncode follows Kaggle's convention: column-major, 1-based, start length pairs", () => {
  assert.equal(rleEncode([[0, 1, 0], [0, 1, 0], [0, 1, 0]]), "4 3", "the middle column of a 3x3 mask");
  assert.equal(rleEncode([[0, 0, 0], [0, 0, 0], [0, 0, 0]]), "", "no salt: an empty code");
  assert.equal(rleEncode([[1, 1, 1], [1, 1, 1], [1, 1, 1]]), "1 9");
  assert.equal(rleEncode([[1, 0, 0], [0, 0, 0], [0, 0, 0]]), "1 1", "the top-left pixel is pixel 1");
  assert.equal(rleEncode([[0, 0, 0], [0, 0, 0], [0, 0, 1]]), "9 1");
  assert.equal(rleEncode([[0, 0, 0], [0, 0, 0], [1, 0, 0]]), "3 1", "numbers run down the first column first");
  assert.equal(rleEncode([[0, 1, 0], [0, 0, 0], [1, 0, 0]]), "3 2", "a run continues from the bottom of a column to the top of the next");
  assert.equal(rleEncode([[1, 1, 0], [1, 0, 1]]), "1 3 6 1", "a 2x3 mask (height 2)");
  assert.equal(rleEncode([[0, 3, 0], [0, 255, 0], [0, 1, 0]]), "4 3", "any nonzero value is salt");
  const t = tf.tensor2d([[0, 1, 0], [0, 1, 0], [0, 1, 0]]);
  assert.equal(rleEncode(t), "4 3", "a tensor [h, w]");
  assert.equal(rleEncode(t.reshape([3, 3, 1])), "4 3", "a tensor [h, w, 1]");
  t.dispose();
  assert.throws(() => rleEncode(tf.zeros([2, 3, 3])), /must be \[height, width\] or \[height, width, 1\]; got \[2,3,3\]/);
  assert.throws(() => rleEncode([[0, 1], [1]]), /row 0 has 2 values, row 1 has 1/);
});

test("rleDecode reverses rleEncode and rejects codes Kaggle would reject", () => {
  assert.deepEqual(rows(rleDecode("4 3", 3, 3)), [[0, 1, 0], [0, 1, 0], [0, 1, 0]]);
  assert.deepEqual(rows(rleDecode("", 2, 2)), [[0, 0], [0, 0]]);
  assert.deepEqual(rows(rleDecode("  3 2\n", 3, 3)), [[0, 1, 0], [0, 0, 0], [1, 0, 0]], "spaces around the code are fine");
  assert.throws(() => rleDecode("4 3 7", 3, 3), /has 3 numbers; a run-length code is pairs "start length"/);
  assert.throws(() => rleDecode("0 3", 3, 3), /pair 1 of "0 3" is "0 3"; starts count from 1/);
  assert.throws(() => rleDecode("1 x", 3, 3), /pair 1 .* "1 x"/);
  assert.throws(() => rleDecode("1.5 2", 3, 3), /pair 1/);
  assert.throws(() => rleDecode("4 3 5 1", 3, 3), /the run at 5 \(pair 2\) starts at or before the end of the previous one \(6\)/);
  assert.throws(() => rleDecode("5 1 1 1", 3, 3), /the run at 1 \(pair 2\) starts at or before/);
  assert.throws(() => rleDecode("8 3", 3, 3), /ends at pixel 10, past the 9 pixels of a 3x3 mask/);
  assert.throws(() => rleDecode("", 0, 3), /height must be a positive whole number/);
});

test("run-length codes match the Python reference on random masks, both ways, and round-trip", () => {
  const r = seededRandom(7);
  const masks = Array.from({ length: 60 }, (_, i) => randomMask(r, i < 40 ? 101 : 1 + Math.floor(r() * 12), i < 40 ? 101 : 1 + Math.floor(r() * 12)));
  masks.push({ height: 101, width: 101, data: new Uint8Array(101 * 101) }, { height: 101, width: 101, data: new Uint8Array(101 * 101).fill(1) });
  const codes = masks.map(rleEncode);
  const ref = reference({ encode: masks.map(rows), decode: codes.map((c, i) => [c, masks[i]!.height, masks[i]!.width]) });
  assert.deepEqual(codes, ref.encode, "our codes are the reference's");
  assert.ok(codes.some((c) => c === "") && codes.some((c) => c === `1 ${101 * 101}`), "the cases include empty and full masks");
  masks.forEach((m, i) => {
    assert.deepEqual(rows(rleDecode(codes[i]!, m.height, m.width)), ref.decode[i], `decode of mask ${i} is the reference's`);
    assert.deepEqual(rleDecode(codes[i]!, m.height, m.width).data, m.data, `mask ${i} round-trips`);
  });
});

test("train.csv is read and a submission written and re-read in Kaggle's format", () => {
  const dir = tempDir("fastbook-salt-csv-");
  const train = path.join(dir, "train.csv");
  fs.writeFileSync(train, "id,rle_mask\r\n575d24d81d,\r\na266a2a9df,5051 5151\r\n\"75efad62c1\",\"1 3 9 2\"\r\n");
  const codes = readRleCsv(train);
  assert.deepEqual([...codes], [["575d24d81d", ""], ["a266a2a9df", "5051 5151"], ["75efad62c1", "1 3 9 2"]]);
  fs.writeFileSync(path.join(dir, "depths.csv"), "id,z\n575d24d81d,843\n");
  assert.deepEqual([...readIdCsv(path.join(dir, "depths.csv"), "z")], [["575d24d81d", "843"]]);
  fs.writeFileSync(path.join(dir, "bad.csv"), "image,mask\na,1 1\n");
  assert.throws(() => readRleCsv(path.join(dir, "bad.csv")), /header is "image,mask"; expected columns id and rle_mask/);
  fs.writeFileSync(path.join(dir, "dup.csv"), "id,rle_mask\na,\na,1 1\n");
  assert.throws(() => readRleCsv(path.join(dir, "dup.csv")), /line 3: id a appears a second time/);
  assert.throws(() => readRleCsv(path.join(dir, "missing.csv")), /Cannot read .*missing\.csv/);

  const sub = path.join(dir, "submission.csv");
  const m: Mask = { height: 3, width: 3, data: Uint8Array.from([0, 1, 0, 0, 1, 0, 0, 1, 0]) };
  assert.equal(writeSubmission(sub, [["a1", m], ["b2", ""], ["c3", "1 2"]]), 3);
  assert.equal(fs.readFileSync(sub, "utf8"), "id,rle_mask\na1,4 3\nb2,\nc3,1 2\n");
  assert.deepEqual([...readRleCsv(sub)], [["a1", "4 3"], ["b2", ""], ["c3", "1 2"]]);
  assert.throws(() => writeSubmission(sub, [["a", ""], ["a", ""]]), /the id a is given twice/);
  assert.throws(() => writeSubmission(sub, [["a,b", ""]]), /cannot be written in a CSV row/);
});

/** A PNG made byte by byte (any bit depth and colour type; filter 0 on every row), independent of the library's writer. */
function rawPng(width: number, height: number, depth: number, colorType: number, rowBytes: Buffer[], palette?: number[][]): Buffer {
  const chunk = (type: string, body: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(body.length);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(zlib.crc32(Buffer.concat([Buffer.from(type, "latin1"), body])) >>> 0);
    return Buffer.concat([len, Buffer.from(type, "latin1"), body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4); ihdr[8] = depth; ihdr[9] = colorType;
  const raw = Buffer.concat(rowBytes.map((r) => Buffer.concat([Buffer.from([0]), r])));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr),
    ...(palette ? [chunk("PLTE", Buffer.from(palette.flat()))] : []), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/** Packs samples of `depth` < 8 bits into bytes, most significant first, as PNG rows store them. */
function packBits(samples: number[], depth: number): Buffer {
  const out = Buffer.alloc(Math.ceil((samples.length * depth) / 8));
  samples.forEach((v, i) => { out[(i * depth) >> 3] |= v << (8 - depth - ((i * depth) % 8)); });
  return out;
}

test("masks of every PNG bit depth and colour type read as 0/1, salt wherever a pixel is nonzero", () => {
  const want = [[0, 1, 1], [0, 0, 1]]; // 3 wide, 2 high
  const flat = want.flat();
  const u16 = (vals: number[]) => { const b = Buffer.alloc(vals.length * 2); vals.forEach((v, i) => b.writeUInt16BE(v, 2 * i)); return b; };
  const cases: [string, Buffer][] = [
    ["1-bit gray", rawPng(3, 2, 1, 0, want.map((r) => packBits(r, 1)))],
    ["2-bit gray", rawPng(3, 2, 2, 0, want.map((r) => packBits(r.map((v) => v * 2), 2)))],
    ["4-bit gray", rawPng(3, 2, 4, 0, want.map((r) => packBits(r.map((v) => v * 15), 4)))],
    ["8-bit gray 0/255", rawPng(3, 2, 8, 0, want.map((r) => Buffer.from(r.map((v) => v * 255))))],
    ["8-bit gray 0/1", rawPng(3, 2, 8, 0, want.map((r) => Buffer.from(r)))],
    ["16-bit gray 0/65535", rawPng(3, 2, 16, 0, want.map((r) => u16(r.map((v) => v * 65535))))],
    ["16-bit gray 0/1 (8 bits would round it to 0)", rawPng(3, 2, 16, 0, want.map((r) => u16(r)))],
    ["8-bit RGB", rawPng(3, 2, 8, 2, want.map((r) => Buffer.from(r.flatMap((v) => [v * 200, v * 10, 0]))))],
    ["16-bit RGB", rawPng(3, 2, 16, 2, want.map((r) => u16(r.flatMap((v) => [0, 0, v * 300]))))],
    ["8-bit gray + alpha", rawPng(3, 2, 8, 4, want.map((r) => Buffer.from(r.flatMap((v) => [v * 255, 255]))))],
    ["8-bit RGBA", rawPng(3, 2, 8, 6, want.map((r) => Buffer.from(r.flatMap((v) => [v, v, v, 255]))))],
    ["1-bit palette (black, white)", rawPng(3, 2, 1, 3, want.map((r) => packBits(r, 1)), [[0, 0, 0], [255, 255, 255]])],
    ["8-bit palette", rawPng(3, 2, 8, 3, want.map((r) => Buffer.from(r.map((v) => v * 2))), [[0, 0, 0], [9, 9, 9], [255, 0, 0]])],
  ];
  for (const [name, bytes] of cases) {
    const m = decodeMaskBits(bytes, name);
    assert.deepEqual([m.width, m.height, Array.from(m.data)], [3, 2, flat], name);
  }
  assert.throws(() => decodeMaskBits(Buffer.from("GIF89a not a png"), "m.png"), /m\.png is not a PNG file/);
  const broken = cases[5]![1].subarray(0, 60);
  assert.throws(() => decodeMaskBits(broken, "cut.png"), /Cannot decode cut\.png: .*damaged or not a valid PNG/);
});

test("images of every PNG kind read as gray levels in [0, 1] (gray stored as RGB included)", () => {
  const cases: [string, Buffer, number[]][] = [
    ["8-bit gray", rawPng(2, 1, 8, 0, [Buffer.from([0, 51])]), [0, 0.2]],
    ["8-bit RGB gray (Kaggle's images)", rawPng(2, 1, 8, 2, [Buffer.from([102, 102, 102, 255, 255, 255])]), [0.4, 1]],
    ["16-bit gray", rawPng(2, 1, 16, 0, [Buffer.from([0x80, 0x00, 0xff, 0xff])]), [32768 / 65535, 1]],
    ["4-bit gray", rawPng(2, 1, 4, 0, [packBits([5, 15], 4)]), [5 / 15, 1]],
    ["RGB colour: luma", rawPng(1, 1, 8, 2, [Buffer.from([255, 0, 0])]), [0.299]],
    ["ours: encodePng 8-bit RGB", encodePng(2, 1, 3, 8, [10, 10, 10, 20, 20, 20]), [10 / 255, 20 / 255]],
  ];
  for (const [name, bytes, want] of cases) {
    const g = decodeGrayLevels(bytes, name);
    assert.equal(g.data.length, want.length, name);
    want.forEach((v, i) => assert.ok(Math.abs(g.data[i]! - v) < 1e-6, `${name}: pixel ${i} is ${g.data[i]}, expected ${v}`));
  }
  // Our writer's 16-bit gray masks as pngjs reads them.
  const png = PNG.sync.read(encodePng(2, 1, 1, 16, [0, 65535]), { skipRescale: true });
  assert.deepEqual([png.depth, png.colorType, png.data[0], png.data[4]], [16, 0, 0, 65535]);
});

/** Writes a TGS-layout folder of n pairs (h x w), images as 8-bit RGB, masks as 16-bit gray; returns it and the masks. */
function kaggleFolder(n: number, h = 7, w = 5, seed = 3): { dir: string; images: number[][]; masks: Mask[]; ids: string[] } {
  const dir = tempDir("fastbook-salt-");
  fs.mkdirSync(path.join(dir, "train/images"), { recursive: true });
  fs.mkdirSync(path.join(dir, "train/masks"), { recursive: true });
  const r = seededRandom(seed);
  const ids = Array.from({ length: n }, (_, i) => `id${String(i).padStart(3, "0")}`);
  const images: number[][] = [], masks: Mask[] = [];
  for (const id of ids) {
    const gray = Array.from({ length: h * w }, () => Math.floor(r() * 256));
    const mask = randomMask(r, h, w);
    fs.writeFileSync(path.join(dir, "train/images", `${id}.png`), encodePng(w, h, 3, 8, gray.flatMap((v) => [v, v, v])));
    fs.writeFileSync(path.join(dir, "train/masks", `${id}.png`), encodePng(w, h, 1, 16, Array.from(mask.data, (v) => v * 65535)));
    images.push(gray);
    masks.push(mask);
  }
  return { dir, images, masks, ids };
}

test("SegmentationDataLoaders.fromFolders pairs images and masks by name, splits, pads by reflection", async () => {
  await initBackend("cpu");
  const { dir, images, masks, ids } = kaggleFolder(10);
  const dls = SegmentationDataLoaders.fromFolders(dir, { validPct: 0.3, seed: 1, bs: 4, normalize: false, flip: false, pad: 12 });
  assert.deepEqual(dls.imageSize, [7, 5]);
  assert.equal(dls.side, 12);
  assert.equal(dls.valid.n, 3);
  assert.equal(dls.train.n, 7);
  assert.deepEqual([...dls.train.pairs.ids, ...dls.valid.pairs.ids].sort(), ids, "every pair once");
  assert.equal(dls.synthetic, false);
  assert.match(String(dls), /train: 7 pairs .* valid: 3 pairs/s);
  const again = SegmentationDataLoaders.fromFolders(dir, { validPct: 0.3, seed: 1 });
  assert.deepEqual(again.valid.pairs.ids, dls.valid.pairs.ids, "the same seed gives the same split");

  const batches = [...dls.valid];
  assert.equal(batches.length, 1);
  const [xb, yb] = batches[0]!;
  assert.deepEqual(xb.shape, [3, 12, 12, 1]);
  assert.deepEqual(yb.shape, [3, 7, 5, 1]);
  const x = xb.arraySync() as number[][][][], y = yb.arraySync() as number[][][][];
  dls.valid.pairs.ids.forEach((id, k) => {
    const i = ids.indexOf(id);
    // Reflection without repeating the edge (numpy's "reflect"): top = floor((12 - 7) / 2) = 2, left = 3.
    const refl = (v: number, n: number) => (v < 0 ? -v : v >= n ? 2 * (n - 1) - v : v);
    for (let py = 0; py < 12; py++) for (let px = 0; px < 12; px++) {
      const sy = refl(py - 2, 7), sx = refl(px - 3, 5);
      assert.ok(Math.abs(x[k]![py]![px]![0]! - images[i]![sy * 5 + sx]! / 255) < 1e-6, `${id} padded at ${py},${px}`);
    }
    assert.deepEqual(y[k]!.map((row) => row.map((v) => v[0])), rows(masks[i]!), `${id}'s mask, 0/1`);
    assert.deepEqual(Array.from(dls.crop(xb).slice([k], [1]).dataSync()).map((v) => Math.round(v * 255)), images[i], "crop undoes the padding");
  });
  tf.dispose([xb, yb]);
});

test("fromFolders normalises by the training pixels and flips images with their masks", async () => {
  await initBackend("cpu");
  const { dir } = kaggleFolder(6, 4, 4, 11);
  const dls = SegmentationDataLoaders.fromFolders(dir, { validPct: 0.5, seed: 2, bs: 3, pad: 4 });
  const stats = dls.stats as PixelStats;
  let sum = 0, sumSq = 0;
  for (const v of dls.train.pairs.images) { sum += v; sumSq += v * v; }
  const n = dls.train.pairs.images.length, mean = sum / n;
  assert.ok(Math.abs(stats.mean - mean) < 1e-9 && Math.abs(stats.std - Math.sqrt(sumSq / n - mean * mean)) < 1e-9);
  const [xb, yb] = dls.train.batch([0, 1], [false, true]);
  const x = xb.arraySync() as number[][][][], y = yb.arraySync() as number[][][][];
  const { images, masks } = dls.train.pairs;
  for (let yy = 0; yy < 4; yy++) for (let xx = 0; xx < 4; xx++) {
    assert.ok(Math.abs(x[0]![yy]![xx]![0]! - (images[yy * 4 + xx]! - stats.mean) / stats.std) < 1e-5);
    assert.ok(Math.abs(x[1]![yy]![xx]![0]! - (images[16 + yy * 4 + (3 - xx)]! - stats.mean) / stats.std) < 1e-5, "flipped image");
    assert.equal(y[1]![yy]![xx]![0], masks![16 + yy * 4 + (3 - xx)], "flipped mask");
  }
  tf.dispose([xb, yb]);
});

test("normalize: \"image\" standardises each image by its own mean and standard deviation", async () => {
  await initBackend("cpu");
  const { dir } = kaggleFolder(4, 4, 4, 13);
  const dls = SegmentationDataLoaders.fromFolders(dir, { validPct: 0.5, seed: 2, pad: 4, normalize: "image" });
  assert.equal(dls.stats, "image");
  assert.match(String(dls), /each image normalised by its own mean and standard deviation/);
  const [xb, yb] = dls.valid.batch([0, 1]);
  const v = xb.dataSync();
  for (let k = 0; k < 2; k++) {
    const img = Array.from(v.subarray(k * 16, (k + 1) * 16));
    const mean = img.reduce((a, b) => a + b) / 16, sd = Math.sqrt(img.reduce((a, b) => a + (b - mean) ** 2, 0) / 16);
    assert.ok(Math.abs(mean) < 1e-5 && Math.abs(sd - 1) < 1e-4, `image ${k}: mean ${mean}, std ${sd}`);
    const raw = dls.valid.pairs.images.subarray(k * 16, (k + 1) * 16);
    const rm = raw.reduce((a, b) => a + b) / 16, rs = Math.sqrt(raw.reduce((a, b) => a + (b - rm) ** 2, 0) / 16);
    assert.ok(Math.abs(img[5]! - (raw[5]! - rm) / rs) < 1e-4);
  }
  tf.dispose([xb, yb]);
});

test("fromFolders says which files have no partner, the wrong size, or cannot be read", () => {
  const { dir } = kaggleFolder(4);
  fs.renameSync(path.join(dir, "train/masks/id001.png"), path.join(dir, "train/masks/other.png"));
  assert.throws(() => SegmentationDataLoaders.fromFolders(dir),
    /1 image\(s\) in .*train\/images have no mask of the same name in .*train\/masks: id001\.png\. 1 mask\(s\) in .*train\/masks have no image of the same name in .*train\/images: other\.png\./);
  fs.renameSync(path.join(dir, "train/masks/other.png"), path.join(dir, "train/masks/id001.png"));
  fs.writeFileSync(path.join(dir, "train/masks/id002.png"), encodePng(6, 7, 1, 8, new Array(42).fill(0)));
  assert.throws(() => SegmentationDataLoaders.fromFolders(dir), /train\/masks\/id002\.png is 6x7, but .*train\/images\/id000\.png is 5x7: every image and mask must have one size/);
  fs.writeFileSync(path.join(dir, "train/masks/id002.png"), "not a png");
  assert.throws(() => SegmentationDataLoaders.fromFolders(dir), /train\/masks\/id002\.png is not a PNG file/);
  fs.copyFileSync(path.join(dir, "train/masks/id003.png"), path.join(dir, "train/masks/id002.png"));
  assert.throws(() => SegmentationDataLoaders.fromFolders(path.join(dir, "nowhere")), /The images folder .*nowhere\/train\/images does not exist/);
  assert.throws(() => SegmentationDataLoaders.fromFolders(dir, { pad: 4 }), /pad must be a whole number at least the image size \(5x7\)/);
});

test("reflectPad and cropCenter: 101 -> 128 puts 13 rows and columns before the image, 14 after", async () => {
  await initBackend("cpu");
  const src = Float32Array.from({ length: 101 * 101 }, (_, i) => i);
  const padded = reflectPad(src, 1, 101, 101, 128);
  assert.equal(padded[13 * 128 + 13], 0, "the image's first pixel at (13, 13)");
  assert.equal(padded[0], 13 * 101 + 13, "the corner reflects (13, 13)");
  assert.equal(padded[127 * 128 + 127], (100 - 14) * 101 + (100 - 14), "the far corner reflects (86, 86)");
  const t = tf.tensor4d(padded, [1, 128, 128, 1]);
  assert.deepEqual(Array.from(cropCenter(t, 101, 101).dataSync()), Array.from(src));
  t.dispose();
});

test("pixelBCE, softDiceLoss: hand-computed values per image and over the batch", async () => {
  await initBackend("cpu");
  const logits = tf.tensor4d([0, 2, -1, 3, /* image 2 */ -2, -2, -2, -2], [2, 2, 2, 1]);
  const masks = tf.tensor3d([1, 1, 0, 0, /* image 2: no salt */ 0, 0, 0, 0], [2, 2, 2]);
  const sp = (x: number) => Math.log1p(Math.exp(x));
  const bce1 = (sp(0) - 0 + sp(2) - 2 + sp(-1) + sp(3)) / 4, bce2 = sp(-2);
  assert.ok(Math.abs(pixelBCE(logits, masks).dataSync()[0]! - (bce1 + bce2) / 2) < 1e-6);
  assert.deepEqual(Array.from(pixelBCE(logits, masks, { reduction: "none" }).dataSync()).map((v) => v.toFixed(5)), [bce1, bce2].map((v) => v.toFixed(5)));
  const s = (x: number) => 1 / (1 + Math.exp(-x));
  const p1 = [s(0), s(2), s(-1), s(3)];
  const dice1 = 1 - (2 * (p1[0]! + p1[1]!) + 1) / (p1.reduce((a, b) => a + b) + 2 + 1);
  const dice2 = 1 - 1 / (4 * s(-2) + 1); // no salt: only the predicted probability costs
  const got = Array.from(softDiceLoss(logits, masks, { reduction: "none" }).dataSync());
  assert.ok(Math.abs(got[0]! - dice1) < 1e-6 && Math.abs(got[1]! - dice2) < 1e-6, `${got} vs ${dice1}, ${dice2}`);
  assert.ok(Math.abs(softDiceLoss(logits, masks).dataSync()[0]! - (dice1 + dice2) / 2) < 1e-6);
  const none = tf.fill([1, 2, 2, 1], -50);
  assert.ok(softDiceLoss(none, tf.zeros([1, 2, 2, 1])).dataSync()[0]! < 1e-6, "an empty prediction of an empty mask costs nothing");
  tf.dispose([logits, masks, none]);
});

test("the losses and metrics check their inputs as the other losses do", async () => {
  await initBackend("cpu");
  const logits = tf.zeros([2, 3, 3, 1]);
  for (const f of [pixelBCE, softDiceLoss, lovaszHingeLoss, dice, iou, saltScore]) {
    assert.throws(() => f(logits, tf.fill([2, 3, 3, 1], 2)), new RegExp(`${f.name}: the targets must be 0 or 1 .*found 2 at \\[0,0,0,0\\]`));
    assert.throws(() => f(logits, tf.zeros([2, 4, 4, 1])), new RegExp(`${f.name}: predictions \\[2,3,3,1\\] and targets \\[2,4,4,1\\] hold different numbers`));
    assert.throws(() => f(logits, tf.zeros([3, 3, 2, 1])), new RegExp(`${f.name}: logits \\[2,3,3,1\\] and masks \\[3,3,2,1\\] must be batches of the same images`));
    assert.throws(() => f(tf.zeros([2, 3, 3, 1], "int32"), tf.zeros([2, 3, 3, 1])), new RegExp(`${f.name}: logits must be float32`));
  }
  logits.dispose();
});

test("dice, iou and saltScore: hand-made cases with the competition's empty-mask rules", async () => {
  await initBackend("cpu");
  // Logits > 0 mean salt. Each case: predicted mask, true mask (2x2 or 4x5), expected per-image score.
  const toLogits = (m: number[]) => m.map((v) => (v ? 3 : -3));
  const cases: [string, number[], number[], number, number][] = [
    // name, pred, truth, score, iou
    ["empty truth, empty prediction", [0, 0, 0, 0], [0, 0, 0, 0], 1, 1],
    ["empty truth, some salt predicted", [0, 1, 0, 0], [0, 0, 0, 0], 0, 0],
    ["salt, nothing predicted", [0, 0, 0, 0], [1, 1, 0, 0], 0, 0],
    ["exact", [1, 1, 0, 1], [1, 1, 0, 1], 1, 1],
    ["IoU 3/4 exactly: passes 0.50 ... 0.70, not 0.75", [1, 1, 1, 1], [1, 1, 1, 0], 0.5, 0.75],
    ["IoU 1/2 exactly: passes no threshold", [1, 1, 0, 0], [1, 0, 0, 0], 0, 0.5],
    ["IoU 2/3", [1, 1, 0, 0], [1, 1, 1, 0], 0.4, 2 / 3],
  ];
  const n = cases.length;
  const logits = tf.tensor4d(cases.flatMap((c) => toLogits(c[1])), [n, 2, 2, 1]);
  const masks = tf.tensor4d(cases.flatMap((c) => c[2]), [n, 2, 2, 1]);
  const scores = Array.from(saltScore(logits, masks, { reduction: "none" }).dataSync());
  const ious = Array.from(iou(logits, masks, { reduction: "none" }).dataSync());
  cases.forEach(([name, , , score, i], k) => {
    assert.ok(Math.abs(scores[k]! - score) < 1e-6, `${name}: score ${scores[k]}, expected ${score}`);
    assert.ok(Math.abs(ious[k]! - i) < 1e-6, `${name}: iou ${ious[k]}, expected ${i}`);
  });
  const mean = cases.reduce((s, c) => s + c[3], 0) / n;
  assert.ok(Math.abs(saltScore(logits, masks).dataSync()[0]! - mean) < 1e-6, "the batch's score is the mean of the images'");
  // Pooled over the batch: intersections 0+0+0+3+3+1+2 = 9, predicted 0+1+0+3+4+2+2 = 12, true 0+0+2+3+3+1+3 = 12.
  assert.ok(Math.abs(iou(logits, masks).dataSync()[0]! - 9 / (12 + 12 - 9)) < 1e-6);
  assert.ok(Math.abs(dice(logits, masks).dataSync()[0]! - (2 * 9) / 24) < 1e-6);
  const empty = tf.zeros([2, 2, 2, 1]);
  assert.equal(dice(tf.fill([2, 2, 2, 1], -1), empty).dataSync()[0], 1, "no salt anywhere, none predicted: 1");
  tf.dispose([logits, masks, empty]);
});

test("saltScore, iou and dice agree with the Python reference on random 101x101 masks", async () => {
  await initBackend("cpu");
  const r = seededRandom(21);
  const truths = Array.from({ length: 40 }, () => randomMask(r, 101, 101));
  // Predictions: the truth grown or shrunk a little, a random other mask, or empty.
  const preds = truths.map((t, i) => {
    if (i % 5 === 0) return randomMask(r, 101, 101);
    const d = t.data.slice();
    for (let k = 0; k < d.length; k++) if (r() < 0.15 * (i % 4) / 3) d[k] = 1 - d[k]!;
    return { ...t, data: d };
  });
  const ref = reference({ score: preds.map((p, i) => [rows(p), rows(truths[i]!)]) }) as { score: number[]; iou: number[]; dice: number[] };
  const logits = tf.tensor4d(preds.flatMap((p) => Array.from(p.data, (v) => (v ? 2 : -2))), [40, 101, 101, 1]);
  const masks = tf.tensor4d(truths.flatMap((t) => Array.from(t.data)), [40, 101, 101, 1]);
  const scores = Array.from(saltScore(logits, masks, { reduction: "none" }).dataSync());
  const ious = Array.from(iou(logits, masks, { reduction: "none" }).dataSync());
  const dices = Array.from(dice(logits, masks, { reduction: "none" }).dataSync());
  scores.forEach((s, i) => {
    assert.ok(Math.abs(s - ref.score[i]!) < 1e-6, `image ${i}: score ${s}, reference ${ref.score[i]}`);
    assert.ok(Math.abs(ious[i]! - ref.iou[i]!) < 1e-5, `image ${i}: iou ${ious[i]}, reference ${ref.iou[i]}`);
    assert.ok(Math.abs(dices[i]! - ref.dice[i]!) < 1e-5, `image ${i}: dice ${dices[i]}, reference ${ref.dice[i]}`);
  });
  assert.ok(new Set(ref.score).size >= 4, `the cases cover several scores: ${[...new Set(ref.score)]}`);
  tf.dispose([logits, masks]);
});

test("lovaszHingeLoss and its gradient equal the reference implementation, per image and on empty masks", async () => {
  for (const backend of ["cpu", "wasm"]) {
    await initBackend(backend);
    const r = seededRandom(5);
    const n = 4, pixels = 30;
    const x = Array.from({ length: n * pixels }, () => (r() - 0.5) * 6);
    // Image 3 has no salt; image 4 is all salt.
    const y = Array.from({ length: n * pixels }, (_, i) => (i >= 2 * pixels && i < 3 * pixels ? 0 : i >= 3 * pixels ? 1 : r() < 0.4 ? 1 : 0));
    const ref = reference({ lovasz: Array.from({ length: n }, (_, k) => [x.slice(k * pixels, (k + 1) * pixels), y.slice(k * pixels, (k + 1) * pixels)]) }) as
      { lovasz: number[]; lovasz_grad: number[][] };
    const logits = tf.tensor4d(x, [n, 5, 6, 1]), masks = tf.tensor4d(y, [n, 5, 6, 1]);
    const per = Array.from(lovaszHingeLoss(logits, masks, { reduction: "none" }).dataSync());
    per.forEach((v, k) => assert.ok(Math.abs(v - ref.lovasz[k]!) < 1e-5, `${backend}, image ${k}: ${v} vs ${ref.lovasz[k]}`));
    const mean = ref.lovasz.reduce((a, b) => a + b) / n;
    assert.ok(Math.abs(lovaszHingeLoss(logits, masks).dataSync()[0]! - mean) < 1e-5);
    const g = tf.grad((l: tf.Tensor) => lovaszHingeLoss(l, masks))(logits).dataSync();
    ref.lovasz_grad.flat().forEach((v, i) => assert.ok(Math.abs(g[i]! - v / n) < 1e-5, `${backend}: gradient ${i}: ${g[i]} vs ${v / n}`));
    tf.dispose([logits, masks]);
  }
});

test("dropSmallMasks empties predictions below a minimum area and keeps the others as they are", async () => {
  await initBackend("cpu");
  const small = Array.from({ length: 36 }, (_, i) => (i < 3 ? 2 : -1)), large = Array.from({ length: 36 }, (_, i) => (i < 25 ? 0.5 : -3));
  const logits = tf.tensor4d([...small, ...large], [2, 6, 6, 1]);
  const kept = dropSmallMasks(logits, 20).dataSync();
  assert.deepEqual(Array.from(kept.subarray(0, 36)), new Array(36).fill(-10), "3 salt pixels: taken as empty");
  assert.deepEqual(Array.from(kept.subarray(36)), large, "25 salt pixels: unchanged");
  const truthEmpty = tf.zeros([2, 6, 6, 1]);
  assert.deepEqual(Array.from(saltScore(dropSmallMasks(logits, 20), truthEmpty, { reduction: "none" }).dataSync()), [1, 0]);
  tf.dispose([logits, truthEmpty]);
});

test("chooseMinPixels scores each size as dropSmallMasks and saltScore would, on the first n training items", async () => {
  await initBackend("cpu");
  const { dir } = kaggleFolder(40, 16, 16, 11);
  const dls = SegmentationDataLoaders.fromFolders(dir, { validPct: 0.2, seed: 3, bs: 4, pad: 16, normalize: "image" });
  const learn = unetLearner(dls, { channels: [4, 8], seed: 5 });
  const n = 13;
  // The metrics themselves on every item's logits, each size applied with dropSmallMasks; the sizes tried lie
  // between the predicted areas, so that each empties a different set of predictions.
  learn.model.train?.(false);
  const [xb, yb] = dls.train.batch(Array.from({ length: n }, (_, i) => i));
  const logits = tf.tidy(() => learn.model.forward(xb));
  const areas = Array.from(tf.tidy(() => tf.sum(tf.greater(logits, 0).cast("float32"), [1, 2, 3])).dataSync()).sort((a, b) => a - b);
  const candidates = [...new Set([0, areas[2]! + 1, areas[6]! + 1, areas[10]! + 1, 300])];
  const expected = candidates.map((m) => tf.tidy(() => saltScore(dropSmallMasks(logits, m), yb).dataSync()[0]!));
  tf.dispose([xb, yb, logits]);
  assert.ok(new Set(expected.map((v) => v.toFixed(6))).size >= 3, `the sizes make a difference here (areas ${areas})`);
  const choice = learn.chooseMinPixels({ n, candidates });
  assert.equal(choice.items, n);
  assert.deepEqual(choice.candidates, candidates);
  choice.scores.forEach((s, i) => assert.ok(Math.abs(s - expected[i]!) < 1e-6, `${candidates[i]} pixels: ${s} vs ${expected[i]}`));
  const best = Math.max(...expected);
  assert.equal(choice.minPixels, candidates[expected.findIndex((v) => Math.abs(v - best) < 1e-6)], "the smallest of the best");
  assert.throws(() => learn.chooseMinPixels({ candidates: [] }), /candidates must be pixel counts >= 0; got \[\]/);
  assert.throws(() => learn.chooseMinPixels({ n: 0 }), /n must be at least 1/);
});
