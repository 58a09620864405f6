// IDX files: the reader on hand-written bytes, its errors, ImageDataLoaders.fromIdx on small files made
// here; and on real data, MNIST's IDX files against its PNGs, and Fashion-MNIST from Debian's package.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { FASHION_MNIST_CLASSES, FASHION_MNIST_PATH, idxFilesIn, parseIdx, readIdx, writeIdx, type IdxArray } from "../lib/src/data/idx";
import { ImageDataLoaders } from "../lib/src/data/image-dataloaders";
import { untarData } from "../lib/src/data/untar";
import { URLs } from "../lib/src/data/urls";
import { tf } from "../lib/src/tf";
import { fullMnistIdx, slow, tempDir } from "./helpers";

const bytes = (...b: number[]) => Uint8Array.from(b);

test("parseIdx reads the header and big-endian values of every IDX type", () => {
  // uint8 [2, 3]: magic 00 00 08 02, dims 2 and 3, six values.
  const u8 = parseIdx(bytes(0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255));
  assert.deepEqual(u8.shape, [2, 3]);
  assert.equal(u8.dtype, "uint8");
  assert.ok(u8.data instanceof Uint8Array);
  assert.deepEqual(Array.from(u8.data), [1, 2, 3, 4, 5, 255]);
  const cases: [number, number[], string, number[]][] = [
    [0x09, [0xff, 0x7f], "int8", [-1, 127]],
    [0x0b, [0xff, 0xfe, 0x01, 0x00], "int16", [-2, 256]],
    [0x0c, [0x80, 0, 0, 1, 0, 0, 1, 0], "int32", [-2147483647, 256]],
    [0x0d, [0x3f, 0xc0, 0, 0, 0xc1, 0x20, 0, 0], "float32", [1.5, -10]],
    [0x0e, [0xc0, 0x04, 0, 0, 0, 0, 0, 0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], "float64", [-2.5, 1]],
  ];
  for (const [code, data, dtype, values] of cases) {
    const a = parseIdx(bytes(0, 0, code, 1, 0, 0, 0, 2, ...data));
    assert.equal(a.dtype, dtype);
    assert.deepEqual(a.shape, [2]);
    assert.deepEqual(Array.from(a.data), values, dtype);
  }
});

test("writeIdx and readIdx round-trip every type, plain and gzipped", () => {
  const dir = tempDir();
  const arrays: IdxArray[] = [
    { shape: [2, 2, 3], dtype: "uint8", data: Uint8Array.from({ length: 12 }, (_, i) => i * 20) },
    { shape: [3], dtype: "int8", data: Int8Array.from([-128, 0, 127]) },
    { shape: [2, 2], dtype: "int16", data: Int16Array.from([-32768, -1, 1, 32767]) },
    { shape: [2], dtype: "int32", data: Int32Array.from([-5, 2 ** 31 - 1]) },
    { shape: [1, 2], dtype: "float32", data: Float32Array.from([0.1, -3e38]) },
    { shape: [2], dtype: "float64", data: Float64Array.from([Math.PI, -1e-300]) },
  ];
  for (const a of arrays) {
    for (const name of [`${a.dtype}.idx`, `${a.dtype}.idx.gz`]) {
      const file = path.join(dir, name);
      writeIdx(file, a);
      assert.equal(fs.readFileSync(file)[0] === 0x1f, name.endsWith(".gz"), "gzipped by name");
      assert.deepEqual(readIdx(file), a, name);
    }
  }
  // Gzip is recognised by content, not by name.
  fs.copyFileSync(path.join(dir, "uint8.idx.gz"), path.join(dir, "renamed"));
  assert.deepEqual(readIdx(path.join(dir, "renamed")), arrays[0]);
});

test("readIdx explains a broken file, naming it", () => {
  const dir = tempDir();
  const write = (name: string, b: Uint8Array) => { const f = path.join(dir, name); fs.writeFileSync(f, b); return f; };
  const good = bytes(0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6);
  const expectError = (name: string, b: Uint8Array, re: RegExp) =>
    assert.throws(() => readIdx(write(name, b)), (e: Error) => e.message.includes(path.join(dir, name)) && re.test(e.message), name);
  expectError("png", bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), /is not an IDX file: it starts with 0x89 0x50, where .* starts with 0x00 0x00/);
  expectError("short", bytes(0, 0, 8), /holds 3 bytes, fewer than the 4-byte magic number/);
  expectError("type", bytes(0, 0, 7, 1, 0, 0, 0, 1, 9), /unknown IDX type code 0x07 .*0x08 uint8/);
  expectError("rank0", bytes(0, 0, 8, 0), /declares 0 dimensions/);
  expectError("header", good.subarray(0, 10), /truncated inside its header: 2 dimensions need 12 header bytes, the file has 10/);
  expectError("data", good.subarray(0, 16), /declares shape \[2,3\] of uint8 \(6 bytes of values\), but 4 bytes follow the header: the file is truncated/);
  expectError("long", bytes(...good, 7), /but 7 bytes follow the header: the file is longer than declared/);
  expectError("int16", bytes(0, 0, 0x0b, 1, 0, 0, 0, 2, 0, 1, 0), /shape \[2\] of int16 \(4 bytes of values\), but 3 bytes/);
  const gz = zlib.gzipSync(Buffer.from(good));
  expectError("cut.gz", gz.subarray(0, gz.length - 10), /is gzipped but cannot be unpacked .*truncated or corrupt/);
  assert.throws(() => readIdx(path.join(dir, "missing.gz")), /No such IDX file: .*missing\.gz/);
});

// A tiny IDX data set: 4 training and 2 validation images of 2x3 pixels, labels 0..2.
function makeIdxSet(dir: string, opts: { validLabels?: number[]; validShape?: number[] } = {}): void {
  const images = (n: number, [h, w] = [2, 3], base = 0) =>
    ({ shape: [n, h!, w!], dtype: "uint8" as const, data: Uint8Array.from({ length: n * h! * w! }, (_, i) => base + i * 10) });
  const labels = (l: number[]) => ({ shape: [l.length], dtype: "uint8" as const, data: Uint8Array.from(l) });
  writeIdx(path.join(dir, "train-images-idx3-ubyte.gz"), images(4));
  writeIdx(path.join(dir, "train-labels-idx1-ubyte.gz"), labels([0, 2, 1, 2]));
  writeIdx(path.join(dir, "t10k-images-idx3-ubyte"), images(2, opts.validShape as [number, number] | undefined, 5));
  writeIdx(path.join(dir, "t10k-labels.idx1-ubyte"), labels(opts.validLabels ?? [1, 0]));
}

test("fromIdxFolder: images / 255, labels as int32 classes, vocab by label or given", async () => {
  const dir = tempDir();
  makeIdxSet(dir);
  const files = idxFilesIn(dir);
  assert.deepEqual(Object.values(files).map((f) => path.basename(f)),
    ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte", "t10k-labels.idx1-ubyte"]);
  const before = tf.memory().numTensors;
  const dls = await ImageDataLoaders.fromIdxFolder(dir, { bs: 3 });
  assert.deepEqual(dls.vocab, ["0", "1", "2"]);
  assert.equal(dls.c, 3);
  assert.deepEqual(dls.imageSize, [2, 3]);
  assert.deepEqual(dls.trainDs.x.shape, [4, 2, 3, 1]);
  const expected = (n: number, base: number) => Array.from({ length: n * 6 }, (_, i) => (base + i * 10) / 255);
  const got = Array.from(dls.trainDs.x.dataSync());
  expected(4, 0).forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-6, `pixel ${i}`));
  assert.deepEqual(Array.from(dls.trainDs.y.dataSync()), [0, 2, 1, 2]);
  assert.equal(dls.trainDs.y.dtype, "int32");
  assert.deepEqual(Array.from(dls.validDs.y.dataSync()), [1, 0]);
  const validX = Array.from(dls.validDs.x.dataSync());
  expected(2, 5).forEach((v, i) => assert.ok(Math.abs(validX[i]! - v) < 1e-6, `valid pixel ${i}`));
  assert.deepEqual(dls.items.train, Array(4).fill(files.trainImages));
  assert.equal(dls.train.length, 2); // 4 items in batches of 3
  dls.dispose();
  assert.equal(tf.memory().numTensors, before);

  const named = await ImageDataLoaders.fromIdx(files, { vocab: ["a", "b", "c"], flatten: true, normalize: true });
  assert.deepEqual(named.vocab, ["a", "b", "c"]);
  assert.deepEqual(named.trainDs.x.shape, [4, 6]);
  const px = expected(4, 0);
  const mean = px.reduce((a, b) => a + b) / px.length;
  const std = Math.sqrt(px.reduce((a, b) => a + (b - mean) ** 2, 0) / px.length);
  assert.ok(Math.abs(named.stats!.mean - mean) < 1e-7 && Math.abs(named.stats!.std - std) < 1e-7);
  named.dispose();
});

test("fromIdx explains mismatched or wrong files", async () => {
  const dir = tempDir();
  makeIdxSet(dir, { validLabels: [1, 0, 2] });
  const files = idxFilesIn(dir);
  await assert.rejects(ImageDataLoaders.fromIdx(files), /t10k-labels\.idx1-ubyte holds 3 labels but .*t10k-images-idx3-ubyte holds 2 images; labels and images must come in matching pairs/);
  makeIdxSet(dir, { validLabels: [1, 3] });
  await assert.rejects(ImageDataLoaders.fromIdx(files, { vocab: ["a", "b", "c"] }), /t10k-labels\.idx1-ubyte holds label 3, but the vocab has 3 classes \(labels 0 to 2\)/);
  await assert.rejects(ImageDataLoaders.fromIdx({ ...files, trainImages: files.trainLabels }), /train-labels-idx1-ubyte\.gz should hold images \[N, height, width\] of uint8 pixels; it holds \[4\] of uint8 \(a labels file\?\)/);
  await assert.rejects(ImageDataLoaders.fromIdx({ ...files, trainLabels: files.trainImages }), /should hold labels \[N\] of integers; it holds \[4,2,3\] of uint8 \(an images file\?\)/);
  makeIdxSet(dir, { validShape: [3, 2] });
  const before = tf.memory().numTensors;
  await assert.rejects(ImageDataLoaders.fromIdx(files), /training images are 3x2 .* but the validation images are 2x3 .*both sets need one size/);
  assert.equal(tf.memory().numTensors, before, "nothing left behind");
  fs.rmSync(files.validLabels);
  assert.throws(() => idxFilesIn(dir), /has no t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte\.gz\); it holds: t10k-images-idx3-ubyte, train-images/);
  assert.throws(() => idxFilesIn(path.join(dir, "nope")), /No such folder: .*nope/);
});

test("on real data: MNIST's IDX files hold exactly the pixels and labels of its PNG folders", slow, async (t) => {
  const mnist = fullMnistIdx();
  if ("skip" in mnist) return t.skip(mnist.skip);
  const root = await untarData(URLs.MNIST);
  const dls = await ImageDataLoaders.fromFolder(root, { train: "training", valid: "testing", flatten: true, normalize: true });
  const idx = await ImageDataLoaders.fromIdxFolder(mnist.dir, { flatten: true, normalize: true });
  try {
    assert.deepEqual(dls.vocab, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert.deepEqual(idx.vocab, dls.vocab);
    // torchvision's well-known MNIST statistics, Normalize((0.1307,), (0.3081,)).
    assert.ok(Math.abs(dls.stats!.mean - 0.1307) < 5e-5 && Math.abs(dls.stats!.std - 0.3081) < 5e-5, JSON.stringify(dls.stats));
    assert.ok(Math.abs(idx.stats!.mean - dls.stats!.mean) < 1e-12 && Math.abs(idx.stats!.std - dls.stats!.std) < 1e-12);
    for (const [split, prefix, n] of [["train", "train", 60000], ["valid", "t10k", 10000]] as const) {
      const files = dls.items[split];
      assert.equal(files.length, n);
      const ds = split === "train" ? dls.trainDs : dls.validDs;
      const ids = split === "train" ? idx.trainDs : idx.validDs;
      // The raw IDX bytes, read here, against both loaders.
      const raw = readIdx(path.join(mnist.dir, `${prefix}-images-idx3-ubyte.gz`)).data;
      const labels = readIdx(path.join(mnist.dir, `${prefix}-labels-idx1-ubyte.gz`)).data;
      const x = ds.x.dataSync(), y = ds.y.dataSync(), ix = ids.x.dataSync(), iy = ids.y.dataSync();
      const seen = new Uint8Array(n);
      const { mean, std } = dls.stats!;
      let worst = 0;
      files.forEach((f, k) => {
        const i = Number(path.basename(f, ".png")); // training/3/10000.png is training image 10000
        seen[i]++;
        assert.equal(dls.vocab[y[k]!], String(labels[i]), f);
        assert.equal(iy[i], labels[i]);
        for (let j = 0; j < 784; j++) {
          const pixel = raw[i * 784 + j]!;
          if (Math.round((x[k * 784 + j]! * std + mean) * 255) !== pixel) assert.fail(`${f} pixel ${j}: PNG ${x[k * 784 + j]} vs IDX ${pixel}`);
          worst = Math.max(worst, Math.abs(x[k * 784 + j]! - ix[i * 784 + j]!));
        }
      });
      assert.ok(seen.every((s) => s === 1), `each of the ${n} IDX images has exactly one PNG`);
      assert.ok(worst < 1e-6, `normalised values differ by ${worst}`);
    }
  } finally {
    dls.dispose();
    idx.dispose();
  }
});

test("on real data: Fashion-MNIST from Debian's dataset-fashion-mnist", async (t) => {
  if (!fs.existsSync(FASHION_MNIST_PATH)) {
    const reason = `${FASHION_MNIST_PATH} is missing (apt-get install dataset-fashion-mnist)`;
    if (process.env.CI === "true") throw new Error(`CI=true and Fashion-MNIST is needed: ${reason}`);
    return t.skip(reason);
  }
  const dls = await ImageDataLoaders.fromIdxFolder(FASHION_MNIST_PATH, { vocab: FASHION_MNIST_CLASSES, normalize: true });
  try {
    assert.deepEqual(dls.vocab, ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);
    assert.deepEqual(dls.trainDs.x.shape, [60000, 28, 28, 1]);
    assert.deepEqual(dls.validDs.x.shape, [10000, 28, 28, 1]);
    // The data set is balanced: 6,000 training and 1,000 test images per class.
    for (const [ds, per] of [[dls.trainDs, 6000], [dls.validDs, 1000]] as const) {
      const counts = new Array(10).fill(0);
      for (const l of ds.y.dataSync()) counts[l]++;
      assert.deepEqual(counts, new Array(10).fill(per));
    }
    // Its commonly quoted statistics: mean 0.2860, std 0.3530.
    assert.ok(Math.abs(dls.stats!.mean - 0.2860) < 5e-5 && Math.abs(dls.stats!.std - 0.3530) < 5e-5, JSON.stringify(dls.stats));
  } finally {
    dls.dispose();
  }
});
