// Labelled image folders: listing, labels, splitters, ImageDataLoaders.fromFolder and showBatch, on small
// folders made here with known pixels; and one check on real full MNIST.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { getImageFiles, grandparentName, grandparentSplitter, parentLabel, randomSplitter } from "../lib/src/data/folders";
import { ImageDataLoaders } from "../lib/src/data/image-dataloaders";
import { showBatch, showBatchHtml } from "../lib/src/display";
import { tf } from "../lib/src/tf";
import { tempDir, writeGrayPng } from "./helpers";

const rel = (root: string, files: readonly string[]) => files.map((f) => path.relative(root, f).split(path.sep).join("/"));

test("getImageFiles lists images recursively in name order, skipping hidden folders and other files", () => {
  const root = tempDir();
  const touch = (p: string) => { fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true }); fs.writeFileSync(path.join(root, p), ""); };
  ["b/2.png", "b/10.png", "a.JPG", "c.txt", "b/sub/x.jpeg", "labels.csv", ".ipynb_checkpoints/y.png", "b/.z.png", "A/q.bmp", "d.tiff"].forEach(touch);
  // Code-unit order ("A" < "a" < "b", "10" < "2"), each folder's entries where its name falls.
  assert.deepEqual(rel(root, getImageFiles(root)), ["A/q.bmp", "a.JPG", "b/10.png", "b/2.png", "b/sub/x.jpeg", "d.tiff"]);
  assert.deepEqual(rel(root, getImageFiles(root, { recurse: false })), ["a.JPG", "d.tiff"]);
  assert.deepEqual(rel(root, getImageFiles(root, { folders: ["b"] })), ["b/10.png", "b/2.png", "b/sub/x.jpeg"]);
  assert.throws(() => getImageFiles(root, { folders: ["nope"] }), /has no folder "nope" \(it holds: .*labels\.csv/);
  assert.throws(() => getImageFiles(path.join(root, "missing")), /No such folder: .*missing/);
  assert.deepEqual(getImageFiles(tempDir()), []);
});

test("parentLabel and grandparentName read the folder names above a file", () => {
  const f = path.join("data", "mnist_png", "training", "7", "123.png");
  assert.equal(parentLabel(f), "7");
  assert.equal(grandparentName(f), "training");
  assert.equal(parentLabel("/x/T-shirt top/a.png"), "T-shirt top");
});

test("grandparentSplitter: train/<class>/ to training, valid/<class>/ to validation, the rest left out", () => {
  const files = ["r/train/3/a.png", "r/valid/3/b.png", "r/train/7/c.png", "r/test/7/d.png", "r/valid/7/e.png", "r/train/7/f.png"];
  assert.deepEqual(grandparentSplitter()(files), [[0, 2, 5], [1, 4]]);
  assert.deepEqual(grandparentSplitter({ train: "valid", valid: "test" })(files), [[1, 4], [3]]);
  assert.throws(() => grandparentSplitter({ train: "training", valid: "testing" })(files),
    /no file lies in a "training\/<class>\/" folder; the folders two levels above the 6 files are: test, train, valid/);
  assert.throws(() => grandparentSplitter({ train: "a", valid: "a" }), /both "a"/);
});

test("randomSplitter: disjoint, complete, the fraction rounded down, repeatable with a seed", () => {
  const items = Array.from({ length: 1003 }, (_, i) => `f${i}`);
  const [train, valid] = randomSplitter(0.2, 42)(items);
  assert.equal(valid.length, Math.floor(0.2 * 1003)); // 200
  assert.equal(train.length, 1003 - 200);
  const all = [...train, ...valid].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 1003 }, (_, i) => i), "every item once, in one set only");
  for (const s of [train, valid]) assert.deepEqual(s, [...s].sort((a, b) => a - b), "ascending");
  assert.deepEqual(randomSplitter(0.2, 42)(items), [train, valid], "same seed, same split");
  assert.notDeepEqual(randomSplitter(0.2, 43)(items)[1], valid, "another seed, another split");
  // Not just the first or last 200: a random pick spreads over the whole range.
  assert.ok(valid[0]! < 50 && valid.at(-1)! > 950, `valid spans ${valid[0]}..${valid.at(-1)}`);
  for (const bad of [0, 1, -0.1, 1.5, NaN]) assert.throws(() => randomSplitter(bad), /validPct must be between 0 and 1/);
  assert.throws(() => randomSplitter(0.2, 1)(["a", "b", "c", "d"]), /on 4 items would leave the validation set empty/);
  assert.deepEqual(randomSplitter(0.99, 1)(["a", "b"]).map((s) => s.length), [1, 1], "the training set keeps at least one");
});

// A tiny labelled folder: 2x2 images with known pixels.
const PIXELS: Record<string, number[]> = {
  "train/cat/c1.png": [0, 255, 10, 20],
  "train/cat/c2.png": [30, 40, 50, 60],
  "train/dog/d1.png": [100, 110, 120, 130],
  "valid/cat/c3.png": [5, 6, 7, 8],
  "valid/dog/d2.png": [200, 201, 202, 203],
  "other/dog/o.png": [1, 2, 3, 4], // neither train nor valid: left out
};
async function makeFolder(pixels = PIXELS): Promise<string> {
  const root = tempDir();
  for (const [p, px] of Object.entries(pixels)) await writeGrayPng(path.join(root, p), 2, 2, px);
  fs.writeFileSync(path.join(root, "labels.csv"), "name,label\n");
  return root;
}
const close = (a: ArrayLike<number>, b: number[], tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < tol, `value ${i}: ${a[i]} vs ${b[i]}`);
};

test("fromFolder labels each image by its folder, keeps the vocab, and stacks pixels / 255", async () => {
  const root = await makeFolder();
  const before = tf.memory().numTensors;
  const dls = await ImageDataLoaders.fromFolder(root, { bs: 2, cache: false });
  assert.deepEqual(dls.vocab, ["cat", "dog"]);
  assert.equal(dls.c, 2);
  assert.deepEqual(rel(root, dls.items.train), ["train/cat/c1.png", "train/cat/c2.png", "train/dog/d1.png"]);
  assert.deepEqual(rel(root, dls.items.valid), ["valid/cat/c3.png", "valid/dog/d2.png"]);
  assert.deepEqual(dls.trainDs.x.shape, [3, 2, 2, 1]);
  assert.equal(dls.trainDs.y.dtype, "int32");
  assert.deepEqual(Array.from(dls.trainDs.y.dataSync()), [0, 0, 1]);
  assert.deepEqual(Array.from(dls.validDs.y.dataSync()), [0, 1]);
  close(dls.trainDs.x.dataSync(), [...PIXELS["train/cat/c1.png"]!, ...PIXELS["train/cat/c2.png"]!, ...PIXELS["train/dog/d1.png"]!].map((v) => v / 255));
  close(dls.validDs.x.dataSync(), [...PIXELS["valid/cat/c3.png"]!, ...PIXELS["valid/dog/d2.png"]!].map((v) => v / 255));
  assert.equal(dls.stats, undefined);
  assert.deepEqual(dls.imageSize, [2, 2]);
  // The loaders: training shuffled in batches of 2 (3 items -> 2 batches), validation in order.
  assert.equal(dls.train.length, 2);
  assert.ok(dls.train.shuffle && !dls.valid.shuffle);
  const [xb, yb] = [...dls.valid][0]!;
  assert.deepEqual(xb.shape, [2, 2, 2, 1]);
  assert.deepEqual(Array.from(yb.dataSync()), [0, 1]);
  tf.dispose([xb, yb]);
  assert.match(String(dls), /2 classes \(cat, dog\)[\s\S]*train: x \[3,2,2,1\], y \[3\]; 2 batches of 2, shuffled[\s\S]*pixels in \[0, 1\]/);
  dls.dispose();
  assert.equal(tf.memory().numTensors, before, "dispose frees every tensor it made");
});

test("fromFolder: flatten gives rows, a given vocab sets the label order, normalize uses the training set's mean and std", async () => {
  const root = await makeFolder();
  const dls = await ImageDataLoaders.fromFolder(root, { flatten: true, vocab: ["dog", "cat"], normalize: true, cache: false });
  assert.deepEqual(dls.trainDs.x.shape, [3, 4]);
  assert.deepEqual(Array.from(dls.trainDs.y.dataSync()), [1, 1, 0]);
  // Mean and population standard deviation of the 12 training pixels, by hand.
  const px = ["train/cat/c1.png", "train/cat/c2.png", "train/dog/d1.png"].flatMap((p) => PIXELS[p]!.map((v) => v / 255));
  const mean = px.reduce((a, b) => a + b) / px.length;
  const std = Math.sqrt(px.reduce((a, b) => a + (b - mean) ** 2, 0) / px.length);
  assert.ok(Math.abs(dls.stats!.mean - mean) < 1e-7 && Math.abs(dls.stats!.std - std) < 1e-7, JSON.stringify(dls.stats));
  close(dls.trainDs.x.dataSync(), px.map((v) => (v - mean) / std), 1e-5);
  // Validation pixels with the training statistics, not their own.
  close(dls.validDs.x.dataSync(), [...PIXELS["valid/cat/c3.png"]!, ...PIXELS["valid/dog/d2.png"]!].map((v) => (v / 255 - mean) / std), 1e-5);
  // decode undoes it: back to [N, h, w] in [0, 1].
  const images = dls.decode(dls.validDs.x);
  assert.deepEqual(images.shape, [2, 2, 2]);
  close(images.dataSync(), [...PIXELS["valid/cat/c3.png"]!, ...PIXELS["valid/dog/d2.png"]!].map((v) => v / 255), 1e-5);
  images.dispose();
  assert.match(String(dls), /normalised by mean 0\.\d{4}, std 0\.\d{4}/);
  dls.dispose();
  // Given statistics are used as they are.
  const given = await ImageDataLoaders.fromFolder(root, { normalize: { mean: 0.5, std: 0.25 }, cache: false });
  close(given.validDs.x.dataSync(), [...PIXELS["valid/cat/c3.png"]!, ...PIXELS["valid/dog/d2.png"]!].map((v) => (v / 255 - 0.5) / 0.25), 1e-5);
  given.dispose();
});

test("fromFolder with validPct splits all class folders at random, by the seed", async () => {
  const root = tempDir();
  const pixels: Record<string, number[]> = {};
  for (let i = 0; i < 10; i++) pixels[`${i % 2 ? "seven" : "three"}/${i}.png`] = [i, i, i, 100 + i];
  for (const [p, px] of Object.entries(pixels)) await writeGrayPng(path.join(root, p), 2, 2, px);
  const a = await ImageDataLoaders.fromFolder(root, { validPct: 0.3, seed: 7, cache: false });
  assert.deepEqual(a.vocab, ["seven", "three"]);
  assert.equal(a.items.valid.length, 3);
  assert.equal(a.items.train.length, 7);
  assert.deepEqual([...a.items.train, ...a.items.valid].sort(), Object.keys(pixels).map((p) => path.join(root, p)).sort());
  // Each item's label and pixels follow its file, whichever set it landed in.
  for (const [files, ds] of [[a.items.train, a.trainDs], [a.items.valid, a.validDs]] as const) {
    const y = ds.y.dataSync(), x = ds.x.dataSync();
    files.forEach((f, k) => {
      assert.equal(a.vocab[y[k]!], path.basename(path.dirname(f)));
      const i = Number(path.basename(f, ".png"));
      close(x.slice(4 * k, 4 * k + 4), [i, i, i, 100 + i].map((v) => v / 255));
    });
  }
  const b = await ImageDataLoaders.fromFolder(root, { validPct: 0.3, seed: 7, cache: false });
  assert.deepEqual(b.items, a.items, "same seed, same split");
  tf.dispose([a, b].flatMap((d) => [d.trainDs.x, d.trainDs.y, d.validDs.x, d.validDs.y]));
});

test("fromFolder's shuffled training batches keep each image with its own label", async () => {
  const root = tempDir();
  // Image i's first pixel is i, so a batch row tells which file it came from.
  const classes = ["a", "b", "c"];
  for (let i = 0; i < 20; i++) await writeGrayPng(path.join(root, "train", classes[i % 3]!, `${i}.png`), 2, 1, [i, 0]);
  for (let i = 20; i < 23; i++) await writeGrayPng(path.join(root, "valid", classes[i % 3]!, `${i}.png`), 2, 1, [i, 0]);
  const dls = await ImageDataLoaders.fromFolder(root, { bs: 6, seed: 5, cache: false });
  for (let epoch = 0; epoch < 2; epoch++) {
    const seen: number[] = [];
    for (const [xb, yb] of dls.train) {
      assert.deepEqual(xb.shape.slice(1), [1, 2, 1]);
      const x = xb.dataSync(), y = yb.dataSync();
      for (let r = 0; r < y.length; r++) {
        const i = Math.round(x[2 * r]! * 255);
        seen.push(i);
        assert.equal(dls.vocab[y[r]!], classes[i % 3], `image ${i}`);
      }
      tf.dispose([xb, yb]);
    }
    assert.deepEqual([...seen].sort((p, q) => p - q), Array.from({ length: 20 }, (_, i) => i), "every training image once per epoch");
    assert.notDeepEqual(seen, [...seen].sort((p, q) => p - q), "shuffled");
  }
  dls.dispose();
});

test("fromFolder explains what is wrong with a folder", async () => {
  const empty = tempDir();
  await assert.rejects(ImageDataLoaders.fromFolder(empty), (e: Error) => e.message.includes(`No image files (.png, .jpg`) && e.message.includes(empty));
  await assert.rejects(ImageDataLoaders.fromFolder(path.join(empty, "nope")), /No such folder: .*nope/);

  // Images straight in train/ and valid/, with no class folders.
  const flat = tempDir();
  for (const p of ["train/a.png", "train/b.png", "valid/c.png"]) await writeGrayPng(path.join(flat, p), 2, 2, [1, 2, 3, 4]);
  await assert.rejects(ImageDataLoaders.fromFolder(flat, { cache: false }),
    /3 image\(s\) lie directly in .*train and .*valid \(e\.g\. a\.png\), not in a class folder\. Each image must sit in a folder named by its class/);
  // The same for a random split over a folder of loose images.
  await assert.rejects(ImageDataLoaders.fromFolder(path.join(flat, "train"), { validPct: 0.5, cache: false }), /lie directly in .*train/);

  // MNIST's layout with the default names: the error names the folders it found.
  const mnistLike = tempDir();
  for (const p of ["training/3/1.png", "training/7/2.png", "testing/3/3.png", "testing/7/4.png"]) await writeGrayPng(path.join(mnistLike, p), 2, 2, [1, 2, 3, 4]);
  await assert.rejects(ImageDataLoaders.fromFolder(mnistLike, { cache: false }), /no file lies in a "train\/<class>\/" folder; .* are: testing, training\. .*train: "training", valid: "testing"/);
  const ok = await ImageDataLoaders.fromFolder(mnistLike, { train: "training", valid: "testing", cache: false });
  assert.deepEqual(ok.vocab, ["3", "7"]);
  ok.dispose();

  // One class only.
  const one = tempDir();
  for (const p of ["train/3/1.png", "valid/3/2.png"]) await writeGrayPng(path.join(one, p), 2, 2, [1, 2, 3, 4]);
  await assert.rejects(ImageDataLoaders.fromFolder(one, { cache: false }), /holds only one class \(3\); a classifier needs at least two/);

  const root = await makeFolder();
  await assert.rejects(ImageDataLoaders.fromFolder(root, { vocab: ["cat", "bird"], cache: false }), /class folder "dog" in .* is not in the vocab you gave \(cat, bird\)/);
  await assert.rejects(ImageDataLoaders.fromFolder(root, { vocab: ["cat", "dog", "cat"], cache: false }), /names "cat" twice/);
  await assert.rejects(ImageDataLoaders.fromFolder(root, { validPct: 0.2, train: "train" }), /either validPct .* or train\/valid folder names/);
  await assert.rejects(ImageDataLoaders.fromFolder(root, { bs: 0, cache: false }), /Batch size must be a positive integer/);
  // Images of another size than the first.
  await writeGrayPng(path.join(root, "valid", "dog", "big.png"), 3, 2, [0, 0, 0, 0, 0, 0]);
  await assert.rejects(ImageDataLoaders.fromFolder(root, { cache: false }), /Cannot stack .*big\.png: it is 3x2, the first image is 2x2/);
});

test("fromFolder leaves no tensors behind when it fails", async () => {
  const root = await makeFolder();
  const before = tf.memory().numTensors;
  await assert.rejects(ImageDataLoaders.fromFolder(root, { bs: -1, cache: false }));
  await writeGrayPng(path.join(root, "valid", "dog", "z.png"), 3, 3, Array(9).fill(0));
  await assert.rejects(ImageDataLoaders.fromFolder(root, { cache: false }));
  assert.equal(tf.memory().numTensors, before);
});

test("showBatch draws images captioned with their class names; outside Jupyter it prints them", async () => {
  const root = await makeFolder();
  const dls = await ImageDataLoaders.fromFolder(root, { normalize: true, cache: false });
  const before = tf.memory().numTensors;
  const valid = await showBatchHtml(dls, { valid: true, n: 2, ncols: 2 });
  assert.equal(valid.text, "2 validation images (2x2), labels:\ncat  dog");
  assert.equal(valid.html.match(/<img /g)?.length, 2);
  assert.match(valid.html, /grid-template-columns:repeat\(2,max-content\)/);
  assert.match(valid.html, /<figcaption[^>]*>cat<\/figcaption>[\s\S]*<figcaption[^>]*>dog<\/figcaption>/);
  // A training pick: n clamps to the set's size, every item once, rows of ncols.
  const train = await showBatchHtml(dls, { n: 9, ncols: 2, seed: 3 });
  const [head, ...rows] = train.text.split("\n");
  assert.equal(head, "3 training images (2x2), labels:");
  assert.deepEqual(rows.map((r) => r.split(/\s+/).length), [2, 1]);
  assert.deepEqual(rows.join(" ").split(/\s+/).sort(), ["cat", "cat", "dog"]);
  assert.deepEqual(await showBatchHtml(dls, { n: 9, ncols: 2, seed: 3 }), train, "same seed, same pick");
  await assert.rejects(showBatchHtml(dls, { n: 0 }), /n must be a positive whole number; got 0/);
  await assert.rejects(showBatchHtml(dls, { ncols: 1.5 }), /ncols must be a positive whole number/);
  // Outside a kernel: the text, on the console.
  const logged: string[] = [];
  const log = console.log;
  console.log = (s: string) => logged.push(s);
  try {
    await showBatch(dls, { valid: true, n: 2 });
    await dls.showBatch({ valid: true, n: 1 });
  } finally {
    console.log = log;
  }
  assert.deepEqual(logged, ["2 validation images (2x2), labels:\ncat  dog", "1 validation image (2x2), labels:\ncat"]);
  assert.equal(tf.memory().numTensors, before, "showBatch frees what it makes");
  dls.dispose();
});

test("fromFolder reports images one folder deeper than the class folders instead of leaving them out", async () => {
  const root = await makeFolder();
  await writeGrayPng(path.join(root, "train", "cat", "extra", "c9.png"), 2, 2, [1, 2, 3, 4]);
  await assert.rejects(ImageDataLoaders.fromFolder(root, { cache: false }),
    /^Error: 1 image\(s\) lie in a folder below a class folder \(e\.g\. train\/cat\/extra\/c9\.png\); .* Move each into its class folder \(.*train\/<class>\/c9\.png\) or out of train\/ and valid\//);
  // Deeper folders outside train/ and valid/ are none of the loaders' business.
  const other = await makeFolder({ ...PIXELS, "other/dog/deep/o2.png": [1, 2, 3, 4] });
  (await ImageDataLoaders.fromFolder(other, { cache: false })).dispose();
  // A random split: <folder>/<class>/<image> only.
  const flat = tempDir();
  for (const p of ["3/a.png", "3/b.png", "7/c.png", "7/d.png", "7/sub/e.png"]) await writeGrayPng(path.join(flat, p), 2, 2, [1, 2, 3, 4]);
  await assert.rejects(ImageDataLoaders.fromFolder(flat, { validPct: 0.5, seed: 1, cache: false }), /1 image\(s\) lie in a folder below a class folder \(e\.g\. 7\/sub\/e\.png\)/);
});

test("fromFolder reports a class that has validation images but no training images", async () => {
  const root = await makeFolder({ ...PIXELS, "valid/bird/b1.png": [9, 9, 9, 9], "valid/bird/b2.png": [8, 8, 8, 8] });
  await assert.rejects(ImageDataLoaders.fromFolder(root, { cache: false }),
    /^Error: Class "bird" \(2\) has images under valid\/ but none under train\/, so the model would never train on it\. Add its training images in train\/<class>\/, or move valid\/<class>\/ out/);
  // A random split that puts a whole class in the validation set says so too.
  const flat = tempDir();
  for (const p of ["3/a.png", "3/b.png", "3/c.png", "7/d.png"]) await writeGrayPng(path.join(flat, p), 2, 2, [1, 2, 3, 4]);
  for (let seed = 0; seed < 20; seed++) {
    const [, valid] = randomSplitter(0.25, seed)(["3/a", "3/b", "3/c", "7/d"]);
    if (valid[0] !== 3) continue; // the seed that sends the only "7" to validation
    await assert.rejects(ImageDataLoaders.fromFolder(flat, { validPct: 0.25, seed, cache: false }), /every image of class "7" \(1\) fell in the validation set/);
    return;
  }
  assert.fail("no seed in 0..19 sent the only 7 to validation");
});

test("showBatch draws at most 100 images, with a note, whatever n asks", async () => {
  const root = tempDir();
  for (let i = 0; i < 130; i++) await writeGrayPng(path.join(root, i < 120 ? "train" : "valid", String(i % 2), `${i}.png`), 2, 2, [i, i, i, i]);
  const dls = await ImageDataLoaders.fromFolder(root, { cache: false });
  const { html, text } = await showBatchHtml(dls, { n: 100000, seed: 1 });
  assert.equal(html.match(/<img /g)?.length, 100);
  assert.match(text, /^100 training images \(2x2\); showBatch draws at most 100 \(n was 100000\), labels:/);
  const valid = await showBatchHtml(dls, { n: 100000, valid: true });
  assert.match(valid.text, /^10 validation images \(2x2\), labels:/, "a set smaller than the cap: all of it, no note");
  dls.dispose();
});
