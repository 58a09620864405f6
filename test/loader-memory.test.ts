// Memory a notebook can live with, on the wasm backend: loaders built again and again (a re-run cell) leave
// nothing on the backend's heap; the heap watch warns before the heap is full and refuses what cannot fit;
// loaders used after dispose() say so.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { initBackend } from "../lib/src/engine/backend";
import { heapLimits } from "../lib/src/engine/wasm-heap";
import { ImageDataLoaders } from "../lib/src/data/image-dataloaders";
import { writeIdx } from "../lib/src/data/idx";
import { DataLoader } from "../lib/src/dataloader";
import { Learner } from "../lib/src/learner";
import { Linear } from "../lib/src/nn";
import { crossEntropy } from "../lib/src/losses";
import { tf } from "../lib/src/tf";
import { tempDir, writeGrayPng } from "./helpers";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

/** IDX files of `n` training and n/5 validation images, 28x28, ten classes. */
function idxFolder(n: number): string {
  const dir = tempDir();
  const write = (prefix: string, count: number) => {
    writeIdx(path.join(dir, `${prefix}-images-idx3-ubyte`), { shape: [count, 28, 28], dtype: "uint8", data: Uint8Array.from({ length: count * 784 }, (_, i) => (i * 7) % 256) });
    writeIdx(path.join(dir, `${prefix}-labels-idx1-ubyte`), { shape: [count], dtype: "uint8", data: Uint8Array.from({ length: count }, (_, i) => i % 10) });
  };
  write("train", n);
  write("t10k", n / 5);
  return dir;
}

/** Until `cond` holds: collect garbage and let finalizers run, for at most a few seconds. */
async function afterCollection(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !cond(); i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

test("loaders built again and dropped without dispose() leave the wasm heap and the tensor count as they were", async () => {
  await initBackend("wasm");
  const dir = idxFolder(5000); // 19.6 MB of float32 pixels per build if they lived on the heap
  const build = async () => {
    const dls = await ImageDataLoaders.fromIdxFolder(dir, { bs: 256, normalize: true, seed: 1 });
    for (const [xb, yb] of dls.train) { tf.dispose([xb, yb]); break; }
  };
  await build();
  const heap = heapBytes(), tensors = tf.memory().numTensors, bytes = tf.memory().numBytes;
  for (let i = 0; i < 25; i++) await build();
  assert.equal(tf.memory().numTensors, tensors, "no tensor kept");
  assert.equal(tf.memory().numBytes, bytes);
  assert.equal(heapBytes(), heap, "the heap did not grow");

  // The whole-set tensors (trainDs.x) are made on request; a dropped loader's go with it.
  const touch = async () => {
    const dls = await ImageDataLoaders.fromIdxFolder(dir, { flatten: true });
    assert.deepEqual(dls.trainDs.x.shape, [5000, 784]);
    assert.deepEqual(dls.validDs.y.shape, [1000]);
  };
  for (let i = 0; i < 5; i++) await touch();
  // Made first inside a tf.tidy, the whole-set tensors outlive it.
  const inTidy = await ImageDataLoaders.fromIdxFolder(dir, { flatten: true });
  const sum = tf.tidy(() => inTidy.validDs.x.sum().dataSync()[0]!);
  assert.ok(!inTidy.validDs.x.isDisposed && Number.isFinite(sum));
  inTidy.dispose();
  assert.ok(tf.memory().numTensors > tensors, "four whole-set tensors per build until collected");
  assert.ok(await afterCollection(() => tf.memory().numTensors === tensors), `tensors freed with their loaders: ${tf.memory().numTensors} vs ${tensors}`);
});

test("a folder's loaders built again leave nothing on the heap either", async () => {
  await initBackend("wasm");
  const root = tempDir();
  for (let i = 0; i < 40; i++) await writeGrayPng(path.join(root, i < 30 ? "train" : "valid", String(i % 2), `${i}.png`), 8, 8, Array(64).fill(i));
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < 10; i++) {
    const dls = await ImageDataLoaders.fromFolder(root, { cache: false, bs: 8 });
    for (const [xb, yb] of dls.valid) tf.dispose([xb, yb]);
  }
  assert.equal(tf.memory().numTensors, tensors);
});

test("the heap watch warns once the tensors pass its mark, naming tf.memory(), dispose() and Restart", async (t) => {
  await initBackend("wasm");
  const saved = { ...heapLimits };
  t.after(() => Object.assign(heapLimits, saved));
  const warn = t.mock.method(console, "warn", () => {});
  heapLimits.warnAt = tf.memory().numBytes + 2 ** 20;
  const small = tf.zeros([1000]);
  assert.equal(warn.mock.callCount(), 0, "below the mark: silent");
  const big = tf.zeros([2 ** 19]); // 2 MiB
  assert.equal(warn.mock.callCount(), 1);
  const message = String(warn.mock.calls[0]!.arguments[0]);
  assert.match(message, /^Memory is running low: tensors hold .* GiB of the wasm backend's 4\.00 GiB/);
  assert.match(message, /tf\.memory\(\) counts \d+ tensors/);
  assert.match(message, /dls\.dispose\(\)/);
  assert.match(message, /Kernel > Restart/);
  const more = tf.zeros([2 ** 19]);
  assert.equal(warn.mock.callCount(), 1, "once, not at every allocation");
  tf.dispose([big, more]);
  tf.zeros([10]).dispose(); // below the mark again
  const again = tf.zeros([2 ** 19]);
  assert.equal(warn.mock.callCount(), 2, "again after it fell below the mark");
  tf.dispose([small, again]);
});

test("an allocation that cannot fit is refused with a clear error, and the backend goes on working", async (t) => {
  await initBackend("wasm");
  const saved = { ...heapLimits };
  t.after(() => Object.assign(heapLimits, saved));
  t.mock.method(console, "warn", () => {});
  const before = tf.memory().numTensors;
  heapLimits.max = tf.memory().numBytes + 4 * 2 ** 20;
  assert.throws(() => tf.zeros([2 ** 21]), /^Error: Out of memory: 0\.01 GiB more would not fit .* Nothing was allocated and the kernel still works\. tf\.memory\(\) counts/);
  assert.throws(() => tf.tidy(() => tf.add(tf.ones([2 ** 20]), tf.ones([2 ** 20]))), /Out of memory/);
  Object.assign(heapLimits, saved);
  assert.equal(tf.memory().numTensors, before, "nothing half-made is left");
  const sum = tf.tidy(() => tf.add(tf.ones([4]), tf.ones([4])).dataSync());
  assert.deepEqual(Array.from(sum), [2, 2, 2, 2]);
});

test("loaders used after dispose() say they were disposed, also inside fit", async () => {
  await initBackend("wasm");
  const dls = await ImageDataLoaders.fromIdxFolder(idxFolder(50), { bs: 16, flatten: true });
  dls.dispose();
  const disposed = /These DataLoaders were disposed \(dls\.dispose\(\)\), so they hold no data; build them again/;
  assert.throws(() => [...dls.train], disposed);
  assert.throws(() => dls.validDs.x, disposed);
  const model = new Linear(784, 10, { seed: 1 });
  const learn = new Learner(dls, model, { lossFunc: crossEntropy, progress: false });
  await assert.rejects(learn.fit(1, 0.1), disposed);
  tf.dispose(model.parameters());
  // A DataLoader over tensors that were disposed says so too.
  const x = tf.zeros([4, 2]), y = tf.zeros([4]);
  const plain = new DataLoader({ x, y }, { bs: 2 });
  tf.dispose([x, y]);
  assert.throws(() => [...plain], /This DataLoader's tensors were disposed/);
});
