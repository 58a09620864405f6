// The synthetic stand-in for the TGS salt data: Kaggle's exact layout and file formats, seeded, about 39%
// of images without salt, salt of every kind, and images whose statistics look like seismic sections
// (layers continuous sideways, weak chaotic salt interiors), and that say they are synthetic.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { PNG } from "pngjs";
import { makeSyntheticSalt, syntheticSaltImage, tgsSalt, isSyntheticSalt, type SaltShape } from "../lib/src/segmentation/synthetic";
import { readRleCsv, readIdCsv, rleEncode } from "../lib/src/segmentation/rle";
import { decodeMaskBits } from "../lib/src/segmentation/png";
import { tempDir } from "./helpers";

test("makeSyntheticSalt writes Kaggle's layout: RGB images, 16-bit masks, train.csv, depths.csv, a README", () => {
  const dir = path.join(tempDir("fastbook-synth-"), "salt");
  const made = makeSyntheticSalt(dir, { nTrain: 40, nTest: 8, seed: 5 });
  const pngs = (sub: string) => fs.readdirSync(path.join(dir, sub)).sort();
  const train = pngs("train/images"), test_ = pngs("test/images");
  assert.equal(train.length, 40);
  assert.equal(test_.length, 8);
  assert.deepEqual(pngs("train/masks"), train, "a mask of the same name for every training image");
  for (const f of [...train, ...test_]) assert.match(f, /^[0-9a-f]{10}\.png$/, "ids are 10 hex digits, as Kaggle's");
  assert.equal(new Set([...train, ...test_]).size, 48, "ids are unique");

  const image = PNG.sync.read(fs.readFileSync(path.join(dir, "train/images", train[0]!)), { skipRescale: true });
  assert.deepEqual([image.width, image.height, image.depth, image.colorType], [101, 101, 8, 2], "101x101, gray stored as 8-bit RGB");
  for (let i = 0; i < 101 * 101; i++) assert.ok(image.data[4 * i] === image.data[4 * i + 1] && image.data[4 * i] === image.data[4 * i + 2]);
  const codes = readRleCsv(path.join(dir, "train.csv"));
  assert.deepEqual([...codes.keys()].sort(), train.map((f) => f.replace(".png", "")), "train.csv lists every training image");
  let salty = 0;
  for (const f of train) {
    const bytes = fs.readFileSync(path.join(dir, "train/masks", f));
    const png = PNG.sync.read(bytes, { skipRescale: true });
    assert.deepEqual([png.width, png.height, png.depth, png.colorType], [101, 101, 16, 0], "masks: 101x101, 16-bit gray");
    for (let i = 0; i < 101 * 101; i++) assert.ok(png.data[4 * i] === 0 || png.data[4 * i] === 65535);
    const code = rleEncode(decodeMaskBits(bytes, f));
    assert.equal(codes.get(f.replace(".png", "")), code, `train.csv's code for ${f} is its mask's`);
    if (code) salty++;
  }
  assert.equal(made.withSalt, salty);
  const depths = readIdCsv(path.join(dir, "depths.csv"), "z");
  assert.equal(depths.size, 48, "a depth for every training and test image");
  for (const z of depths.values()) assert.ok(Number(z) >= 51 && Number(z) <= 959);
  assert.match(fs.readFileSync(path.join(dir, "README.txt"), "utf8"), /^SYNTHETIC stand-in .* NOT real seismic data/s);
  assert.ok(isSyntheticSalt(dir));

  // The same seed gives the same files; another seed, others.
  const again = path.join(tempDir("fastbook-synth-"), "salt");
  makeSyntheticSalt(again, { nTrain: 40, nTest: 8, seed: 5 });
  assert.deepEqual(fs.readFileSync(path.join(again, "train.csv")), fs.readFileSync(path.join(dir, "train.csv")));
  assert.deepEqual(fs.readFileSync(path.join(again, "test/images", test_[3]!)), fs.readFileSync(path.join(dir, "test/images", test_[3]!)));
  const other = path.join(tempDir("fastbook-synth-"), "salt");
  makeSyntheticSalt(other, { nTrain: 4, nTest: 0, seed: 6 });
  assert.notDeepEqual(train.slice(0, 4), fs.readdirSync(path.join(other, "train/images")).sort());
  for (const d of [dir, again, other]) fs.rmSync(path.dirname(d), { recursive: true });
});

/** Correlation of each pixel with its neighbour at (dx, dy), over the pixels `use` selects. */
function neighbourCorrelation(v: Uint8Array, use: (i: number) => boolean, dx: number, dy: number): number {
  const a: number[] = [], b: number[] = [];
  for (let y = 0; y + dy < 101; y++) for (let x = 0; x + dx < 101; x++) {
    const i = y * 101 + x, j = (y + dy) * 101 + x + dx;
    if (use(i) && use(j)) a.push(v[i]!), b.push(v[j]!);
  }
  const mean = (xs: number[]) => xs.reduce((s, t) => s + t, 0) / xs.length;
  const ma = mean(a), mb = mean(b);
  let sab = 0, saa = 0, sbb = 0;
  for (let k = 0; k < a.length; k++) { sab += (a[k]! - ma) * (b[k]! - mb); saa += (a[k]! - ma) ** 2; sbb += (b[k]! - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb || 1);
}

function std(v: Uint8Array, use: (i: number) => boolean): number {
  let n = 0, s = 0, ss = 0;
  for (let i = 0; i < v.length; i++) if (use(i)) n++, s += v[i]!, ss += v[i]! * v[i]!;
  return Math.sqrt(Math.max(ss / n - (s / n) ** 2, 0));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

test("synthetic images: ~39% without salt, every kind of salt body, layered sediments and weak chaotic salt", () => {
  const n = 400;
  const shapes = new Map<SaltShape, number>();
  const horizontal: number[] = [], vertical: number[] = [], saltOverSediment: number[] = [], coverage: number[] = [];
  for (let k = 0; k < n; k++) {
    const { image, mask, shape } = syntheticSaltImage(1000 + k);
    shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
    const salt = mask.reduce((s, v) => s + v, 0);
    assert.equal(shape === "none", salt === 0, `image ${k}: shape ${shape} with ${salt} salt pixels`);
    if (salt) coverage.push(salt / mask.length);
    const sediment = (i: number) => mask[i] === 0;
    if (salt < 0.7 * mask.length) {
      horizontal.push(neighbourCorrelation(image, sediment, 1, 0));
      vertical.push(neighbourCorrelation(image, sediment, 0, 1));
    }
    if (salt > 500 && salt < mask.length - 500) saltOverSediment.push(std(image, (i) => mask[i] === 1) / std(image, sediment));
  }
  const empty = (shapes.get("none") ?? 0) / n;
  assert.ok(empty > 0.33 && empty < 0.45, `${(100 * empty).toFixed(1)}% of the images have no salt`);
  for (const s of ["dome", "sheet", "flank", "body", "sliver", "speck"] as SaltShape[]) assert.ok((shapes.get(s) ?? 0) >= 8, `${shapes.get(s) ?? 0} ${s}s`);
  assert.ok(coverage.some((c) => c < 0.02) && coverage.some((c) => c > 0.6) && coverage.some((c) => c === 1),
    "salt covers anything from a few pixels to the whole image");
  // Layers run sideways: neighbours along a row are more alike than neighbours down a column.
  assert.ok(median(horizontal) > median(vertical) + 0.2, `row neighbours ${median(horizontal).toFixed(2)}, column neighbours ${median(vertical).toFixed(2)}`);
  // Salt is weak: its pixels vary less than the sediments' beside it, in most images.
  assert.ok(median(saltOverSediment) < 0.8, `salt's spread relative to the sediments': median ${median(saltOverSediment).toFixed(2)}`);
});

test("tgsSalt: TGS_SALT_DIR names the real data, checked; otherwise the synthetic stand-in", () => {
  const saved = { dir: process.env.TGS_SALT_DIR, data: process.env.DATA_DIR };
  try {
    const real = tempDir("fastbook-kaggle-");
    fs.mkdirSync(path.join(real, "train/images"), { recursive: true });
    process.env.TGS_SALT_DIR = real;
    assert.throws(() => tgsSalt(), /TGS_SALT_DIR=.* has no train\/masks folder/);
    fs.mkdirSync(path.join(real, "train/masks"));
    assert.deepEqual(tgsSalt(), { path: real, source: "kaggle" });
    delete process.env.TGS_SALT_DIR;
    process.env.DATA_DIR = tempDir("fastbook-data-");
    const made = tgsSalt({ nTrain: 6, nTest: 2, seed: 9 });
    assert.equal(made.source, "synthetic");
    assert.match(path.basename(made.path), /^tgs_salt_synthetic-9-6-2$/);
    assert.equal(fs.readdirSync(path.join(made.path, "train/images")).length, 6);
    const mtime = fs.statSync(path.join(made.path, "train.csv")).mtimeMs;
    assert.equal(tgsSalt({ nTrain: 6, nTest: 2, seed: 9 }).path, made.path);
    assert.equal(fs.statSync(path.join(made.path, "train.csv")).mtimeMs, mtime, "made once, then reused");
    fs.rmSync(process.env.DATA_DIR, { recursive: true });
    fs.rmSync(real, { recursive: true });
  } finally {
    for (const [k, v] of [["TGS_SALT_DIR", saved.dir], ["DATA_DIR", saved.data]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
