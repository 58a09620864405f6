// The DataLoader: batch order, seeded shuffles, partial batches, tuple collation, tensor batches.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { inspect } from "node:util";
import { DataLoader, DataLoaders, enumerate, range, seededRandom, shuffled, tensorDataset } from "../lib/src/dataloader";
import { tf } from "../lib/src/tf";

const letters = [..."abcdefghijklmnopqrstuvwxyz"];
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

test("without shuffle, items come in order", () => {
  const dl = new DataLoader(range(15), { bs: 5 });
  assert.equal(dl.length, 3);
  assert.equal(dl.n, 15);
  assert.equal(dl.bs, 5);
  assert.deepEqual([...dl], [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14]]);
  assert.deepEqual([...dl], [...dl], "and again the next epoch");
  assert.equal(inspect(dl), "DataLoader(15 items; bs 5, 3 batches)");
});

test("shuffled batches cover every item exactly once per epoch (the book's range(15), bs 5)", () => {
  const dl = new DataLoader(range(15), { bs: 5, shuffle: true });
  const batches = [...dl];
  assert.deepEqual(batches.map((b) => b.length), [5, 5, 5]);
  assert.deepEqual(sorted(batches.flat()), range(15));
});

test("a seed makes the sequence of epochs reproducible, and each epoch differs", () => {
  const a = new DataLoader(range(100), { bs: 10, shuffle: true, seed: 42 });
  const b = new DataLoader(range(100), { bs: 10, shuffle: true, seed: 42 });
  const epochsA = [[...a].flat(), [...a].flat(), [...a].flat()];
  const epochsB = [[...b].flat(), [...b].flat(), [...b].flat()];
  assert.deepEqual(epochsA, epochsB);
  assert.notDeepEqual(epochsA[0], epochsA[1]);
  assert.notDeepEqual(epochsA[1], epochsA[2]);
  assert.notDeepEqual(epochsA[0], range(100), "actually shuffled");
  for (const e of epochsA) assert.deepEqual(sorted(e), range(100));
  const c = new DataLoader(range(100), { bs: 10, shuffle: true, seed: 7 });
  assert.notDeepEqual([...c].flat(), epochsA[0], "another seed, another order");
});

test("seededRandom and shuffled", () => {
  const r1 = seededRandom(1), r2 = seededRandom(1);
  const xs = Array.from({ length: 1000 }, () => r1());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => r2()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  // uniform enough: the mean of 1000 draws is within a few standard errors (0.29/sqrt(1000) = 0.009) of 0.5
  assert.ok(Math.abs(xs.reduce((s, x) => s + x, 0) / 1000 - 0.5) < 0.04);
  assert.deepEqual(shuffled(0), []);
  assert.deepEqual(shuffled(1), [0]);
  assert.deepEqual(sorted(shuffled(50, seededRandom(3))), range(50));
});

test("the last batch is partial unless dropLast (26 letters, bs 6)", () => {
  const dl = new DataLoader(letters, { bs: 6, shuffle: true, seed: 0 });
  assert.equal(dl.length, 5);
  assert.deepEqual([...dl].map((b) => b.length), [6, 6, 6, 6, 2]);
  const dropped = new DataLoader(letters, { bs: 6, shuffle: true, seed: 0, dropLast: true });
  assert.equal(dropped.length, 4);
  assert.deepEqual([...dropped].map((b) => b.length), [6, 6, 6, 6]);
});

test("tuple items are collated into one array per field, as PyTorch does", () => {
  const dl = new DataLoader(enumerate(letters), { bs: 6, shuffle: true, seed: 1 });
  const batches = [...dl];
  assert.deepEqual(batches.map(([idx, chars]) => [idx.length, chars.length]), [[6, 6], [6, 6], [6, 6], [6, 6], [2, 2]]);
  for (const [idx, chars] of batches) {
    // each index still travels with its own letter
    idx.forEach((i, k) => assert.equal(chars[k], letters[i]));
  }
  assert.deepEqual(sorted(batches.flatMap(([idx]) => idx)), range(26));
  const inOrder = [...new DataLoader(enumerate(letters), { bs: 6 })];
  assert.deepEqual(inOrder[4], [[24, 25], ["y", "z"]]);
  assert.throws(() => [...new DataLoader([[1, 2], [3]], { bs: 2 })], /different lengths/);
});

test("tensor batches hold exactly the rows they index, in one gather or slice per tensor", () => {
  // row i of x is [10i, 10i+1, 10i+2] and y = i, so every batch can be checked against its labels
  const x = tf.tensor2d(range(10).flatMap((i) => [10 * i, 10 * i + 1, 10 * i + 2]), [10, 3]);
  const y = tf.tensor1d(range(10), "int32");
  const rows = x.arraySync();
  const before = tf.memory().numTensors;
  for (const shuffle of [false, true]) {
    const dl = new DataLoader(tensorDataset(x, y), { bs: 4, shuffle, seed: 5 });
    assert.equal(dl.length, 3);
    const seen: number[] = [];
    for (const [xb, yb] of dl) {
      const labels = yb.arraySync() as number[];
      assert.deepEqual(xb.arraySync(), labels.map((i) => rows[i]));
      assert.equal(yb.dtype, "int32");
      seen.push(...labels);
      tf.dispose([xb, yb]);
    }
    assert.deepEqual(shuffle ? sorted(seen) : seen, range(10));
    if (shuffle) assert.notDeepEqual(seen, range(10));
  }
  assert.equal(tf.memory().numTensors, before, "nothing left once the batches are disposed");
  tf.dispose([x, y]);
});

test("x and y must have the same number of rows", () => {
  const x = tf.zeros([3, 2]), y = tf.zeros([4]);
  assert.throws(() => tensorDataset(x, y), /same first dimension.*\[3,2\].*\[4\]/);
  assert.throws(() => new DataLoader({ x, y }), /same first dimension/);
  assert.throws(() => new DataLoader(range(3), { bs: 0 }), /positive integer/);
  tf.dispose([x, y]);
});

test("DataLoaders.fromTensors shuffles the training set only", () => {
  const x = tf.tensor2d(range(20), [20, 1]), y = tf.tensor1d(range(20));
  const vx = tf.tensor2d(range(6), [6, 1]), vy = tf.tensor1d(range(6));
  const dls = DataLoaders.fromTensors(x, y, vx, vy, { bs: 8, seed: 0 });
  assert.equal(dls.train.shuffle, true);
  assert.equal(dls.valid.shuffle, false);
  assert.deepEqual([dls.train.length, dls.valid.length], [3, 1]);
  const [vb, vyb] = [...dls.valid][0]!;
  assert.deepEqual(vb.shape, [6, 1]);
  tf.dispose([vb, vyb, x, y, vx, vy]);
});
