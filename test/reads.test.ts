// Host reads (dataSync, data, arraySync, array): each one stalls a GPU until its queue has drained, so a fit
// may read one number per training batch (its loss, for the divergence check, the Recorder and the progress
// bar together) and nothing per validation batch; the values of targets and predictions are checked on the
// first batches only. Counted over fits of the chapter's simple net on loaders of different lengths.
import { test, type TestContext } from "node:test";
import * as assert from "node:assert/strict";
import {
  tf, initBackend, Learner, Linear, ReLU, Sequential, mnistLoss, batchAccuracy, crossEntropy, accuracy, DataLoader, DataLoaders, tensorDataset, type Callback,
} from "../lib/src/index";

const READS = ["dataSync", "data", "arraySync", "array"] as const;

/** Counts every host read of any tensor while the test runs. */
function countReads(t: TestContext): { count: number } {
  const counter = { count: 0 };
  const proto = tf.Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of READS) {
    const original = proto[name]!;
    t.mock.method(proto, name, function (this: tf.Tensor, ...args: unknown[]) {
      counter.count++;
      return original.apply(this, args);
    });
  }
  return counter;
}

/** 784-pixel "images" labelled 0/1 (as 3s and 7s), in batches of 16: `train` and `valid` batches. */
function loaders(train: number, valid: number, seed = 1) {
  const n = 16 * (train + valid);
  const [x, y] = tf.tidy(() => {
    const y = tf.cast(tf.greater(tf.randomUniform([n, 1], 0, 1, "float32", seed), 0.5), "float32");
    return [tf.add(tf.randomNormal([n, 784], 0, 1, "float32", seed + 1), y), y];
  });
  const cut = 16 * train;
  const parts = [x.slice(0, cut), y.slice(0, cut), x.slice(cut), y.slice(cut)] as const;
  return { dls: DataLoaders.fromTensors(...parts, { bs: 16, seed }), dispose: () => tf.dispose([x, y, ...parts]) };
}

const simpleNet = () => new Sequential(new Linear(784, 30, { seed: 1 }), new ReLU(), new Linear(30, 1, { seed: 2 }));

/** Reads over `learn.fit(epochs, 0.1)` of the simple net, in all and in each batch after the first of its pass. */
async function fitReads(t: TestContext, train: number, valid: number, epochs: number) {
  const data = loaders(train, valid);
  const reads = countReads(t);
  const perBatch: { training: boolean; reads: number }[] = [];
  let atStart = 0;
  const spy: Callback[] = [
    { order: -100, beforeBatch: () => { atStart = reads.count; } },
    { order: 100, afterBatch: (l) => { if (l.epoch > 0 || l.batchIndex > 0) perBatch.push({ training: l.training, reads: reads.count - atStart }); } },
  ];
  const model = simpleNet();
  const learn = new Learner(data.dls, model, { lossFunc: mnistLoss, metrics: [batchAccuracy], cbs: spy });
  reads.count = 0;
  await learn.fit(epochs, 0.1);
  const total = reads.count;
  reads.count = 0;
  tf.dispose(Object.values(learn.getPreds()));
  const getPreds = reads.count;
  t.mock.restoreAll();
  tf.dispose(model.parameters());
  data.dispose();
  return { total, perBatch, getPreds };
}

test("a fit reads the loss once per training batch and nothing per validation batch; getPreds reads nothing per batch", async (t) => {
  await initBackend("cpu");
  t.mock.method(console, "log", () => {}); // the progress lines outside Jupyter
  const small = await fitReads(t, 4, 2, 2);
  const long = await fitReads(t, 12, 2, 2);
  const wideValid = await fitReads(t, 4, 8, 2);

  for (const run of [small, long, wideValid]) {
    for (const b of run.perBatch) assert.ok(b.reads <= (b.training ? 1 : 0), `a ${b.training ? "training" : "validation"} batch read ${b.reads} times`);
  }
  assert.equal(long.total - small.total, 2 * (12 - 4), "8 more training batches per epoch: 8 more reads per epoch");
  assert.equal(wideValid.total, small.total, "more validation batches: no more reads");
  // The rest, per fit: the first batches' value checks, the epoch's validation sums and weights, once each.
  const perEpochAndFit = small.total - 2 * 4;
  assert.ok(perEpochAndFit <= 4 * 2 + 4, `${perEpochAndFit} reads besides the batches' losses`);
  assert.ok(small.getPreds <= 2 && long.getPreds === small.getPreds && wideValid.getPreds === small.getPreds,
    `getPreds read ${small.getPreds}, ${long.getPreds}, ${wideValid.getPreds} times over 2, 2 and 8 batches`);
});

test("a loss called by hand checks its values; a fit checks those of its first batch, with the loss's own message", async (t) => {
  await initBackend("cpu");
  const reads = countReads(t);
  const logits = tf.zeros([4, 3]), labels = tf.tensor1d([0, 1, 2, 1], "int32");
  tf.dispose(crossEntropy(logits, labels));
  assert.equal(reads.count, 2, "by hand: the labels are checked, the logits looked at (are they probabilities?)");
  assert.throws(() => crossEntropy(logits, tf.tensor1d([0, 1, 3, 1], "int32")), /crossEntropy: class 3 at \[2\] is out of range/);
  t.mock.restoreAll();
  const x = tf.randomNormal([32, 5], 0, 1, "float32", 3);
  const y = tf.tensor1d([7, ...Array(31).fill(0)], "int32");
  const [vx, vy] = [x.slice(0, 16), y.slice(0, 16)];
  const dls = new DataLoaders(new DataLoader(tensorDataset(x, y), { bs: 16 }), new DataLoader(tensorDataset(vx, vy), { bs: 16 }));
  const learn = new Learner(dls, new Linear(5, 3, { seed: 1 }), { lossFunc: crossEntropy, metrics: [accuracy], progress: false });
  await assert.rejects(learn.fit(1, 0.1), /crossEntropy: class 7 at \[0\] is out of range: logits with 3 columns take classes 0..2/);
  tf.dispose([logits, labels, x, y, vx, vy, ...learn.model.parameters()]);
});
