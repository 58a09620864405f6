// The learning rate finder on a problem whose limit is known: least squares on a line, where plain
// gradient descent diverges above lr = 2/λmax (λmax: the largest eigenvalue of the loss's Hessian).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { inspect } from "node:util";
import { tf, initBackend, Learner, Linear, DataLoader, DataLoaders, tensorDataset, sgd, suggestLrs, Sequential, BatchNorm1d, buffersOf } from "../lib/src/index";
import { assertSameOnBackends } from "./helpers";

const N = 256;
const xs = Array.from({ length: N }, (_, i) => ((i * 0.6180339) % 1) * 2 - 1);
const mse = (p: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mean(tf.square(tf.sub(p, t))) as tf.Scalar);

/** Loaders over y = 2x - 1 (batches of 32, shuffled) and a fresh Learner; dispose() frees the data. */
function setup(seed = 1, optFunc = sgd()) {
  const x = tf.tensor2d(xs, [N, 1]);
  const y = tf.tensor2d(xs.map((v) => 2 * v - 1), [N, 1]);
  const learn = new Learner(DataLoaders.fromTensors(x, y, x, y, { bs: 32, seed }), new Linear(1, 1, { seed }), { lossFunc: mse, optFunc, progress: false });
  return { learn, dispose: () => tf.dispose([x, y]) };
}

/** 2/λmax for mean((w·x + b − y)²): its Hessian is 2·[[E x², E x], [E x, 1]]. */
function divergenceLr(): number {
  const ex = xs.reduce((a, b) => a + b, 0) / N, ex2 = xs.reduce((a, b) => a + b * b, 0) / N;
  const trace = 2 * (ex2 + 1), det = 4 * (ex2 - ex * ex);
  return 2 / ((trace + Math.sqrt(trace * trace - 4 * det)) / 2);
}

const weightsOf = (learn: Learner) => learn.model.parameters().map((p) => Array.from(p.dataSync()));

test("lrFind suggests a rate below the divergence limit that trains, and stops once the loss explodes", async () => {
  await initBackend("cpu");
  const { learn, dispose } = setup();
  const crit = divergenceLr();
  const r = await learn.lrFind({ show: false });
  assert.ok(r.lrs.length < 100, `stopped early (after ${r.lrs.length} of 100 batches)`);
  const last = r.losses[r.losses.length - 1], best = Math.min(...r.losses);
  assert.ok(last > 4 * best, `stopped because the smoothed loss ${last} exceeded 4 × ${best}`);
  assert.ok(r.lrs[r.lrs.length - 1] > crit, "which happens only past the divergence limit");
  for (let i = 0; i < r.lrs.length; i++) {
    assert.ok(Math.abs(r.lrs[i] / (1e-7 * (10 / 1e-7) ** (i / 100)) - 1) < 1e-12, `lr of batch ${i} grows exponentially`);
  }
  assert.equal(r.suggestion, r.suggestions.valley);
  // Shown in a cell as one line, with the same numbers.
  const e = (v: number) => v.toExponential(2);
  const { valley, steep, minimum } = r.suggestions;
  assert.equal(inspect(r.suggestions), `SuggestedLRs(valley ${e(valley)}, steep ${e(steep)}, minimum/10 ${e(minimum)})`);
  assert.deepEqual(Object.keys(r.suggestions), ["valley", "steep", "minimum"]);
  assert.ok(r.suggestion > crit / 200 && r.suggestion < crit, `suggestion ${r.suggestion}, divergence limit ${crit}`);

  // Trained from where it started, at the suggested rate, the model learns the line.
  const start = learn.getPreds();
  const lossBefore = tf.mean(start.losses).dataSync()[0];
  tf.dispose(Object.values(start));
  await learn.fit(10, r.suggestion);
  const after = learn.recorder.values[9].validLoss;
  assert.ok(after < 0.05 * lossBefore, `validation loss ${lossBefore} -> ${after}`);
  dispose();
});

test("lrFind restores the weights bit for bit and the optimizer, records nothing, leaks nothing", async () => {
  await initBackend("cpu");
  const { learn, dispose } = setup(2, sgd({ mom: 0.9 }));
  await learn.fit(1, 0.01);
  const opt = learn.opt;
  const weights = weightsOf(learn);
  const recorded = [learn.recorder.values.length, learn.recorder.batchLosses.length, learn.recorder.lrs.length];
  const cbs = [...learn.cbs];
  const before = tf.memory().numTensors;
  const r = await learn.lrFind({ show: false, numIt: 50 });
  assert.ok(r.lrs.length > 10);
  assert.deepEqual(weightsOf(learn), weights, "weights bit-identical");
  assert.equal(learn.opt, opt, "the same optimizer (with its momentum) as before");
  assert.deepEqual([learn.recorder.values.length, learn.recorder.batchLosses.length, learn.recorder.lrs.length], recorded);
  assert.deepEqual(learn.cbs, cbs);
  assert.equal(tf.memory().numTensors, before, "no tensors leaked");
  learn.opt!.dispose!();
  dispose();
});

test("lrFind puts back BatchNorm's running statistics too, as they were before it", async () => {
  await initBackend("cpu");
  const x = tf.tensor2d(xs, [N, 1]);
  const y = tf.tensor2d(xs.map((v) => 2 * v - 1), [N, 1]);
  const model = new Sequential(new Linear(1, 4, { seed: 3 }), new BatchNorm1d(4), new Linear(4, 1, { seed: 4 }));
  const learn = new Learner(DataLoaders.fromTensors(x, y, x, y, { bs: 32, seed: 3 }), model, { lossFunc: mse, progress: false });
  await learn.fit(1, 0.01);
  const stats = () => buffersOf(model).map((b) => Array.from(b.dataSync()));
  const before = stats();
  assert.ok(before.length === 2 && before[0]!.some((v) => v !== 0), "the fit moved the running mean");
  await learn.lrFind({ show: false, numIt: 30 });
  assert.deepEqual(stats(), before, "running mean and variance bit-identical");
  learn.opt!.dispose?.();
  tf.dispose([x, y, ...model.parameters(), ...buffersOf(model)]);
});

test("lrFind leaves the optimizer's momentum as it was: training goes on exactly as without it", async () => {
  await initBackend("cpu");
  const x = tf.tensor2d(xs, [N, 1]);
  const y = tf.tensor2d(xs.map((v) => 2 * v - 1), [N, 1]);
  // Unshuffled loaders, so that both learners see the same batches.
  const make = () => new Learner(new DataLoaders(new DataLoader(tensorDataset(x, y), { bs: 32 }), new DataLoader(tensorDataset(x, y), { bs: 32 })),
    new Linear(1, 1, { seed: 5 }), { lossFunc: mse, optFunc: sgd({ mom: 0.9 }), progress: false });
  const [a, b] = [make(), make()];
  await a.fit(1, 0.05);
  await b.fit(1, 0.05);
  await a.lrFind({ show: false, numIt: 20 });
  await a.fit(1, 0.05);
  await b.fit(1, 0.05);
  assert.deepEqual(weightsOf(a), weightsOf(b));
  a.opt!.dispose!();
  b.opt!.dispose!();
  tf.dispose([x, y]);
});

test("lrFind without stopDiv runs numIt batches, cycling the training set", async () => {
  await initBackend("cpu");
  const { learn, dispose } = setup(3);
  const r = await learn.lrFind({ show: false, startLr: 1e-4, endLr: 0.5, numIt: 30, stopDiv: false });
  assert.equal(r.lrs.length, 30, "30 batches from 8 per pass");
  assert.ok(Math.abs(r.lrs[29] / (1e-4 * 5000 ** (29 / 30)) - 1) < 1e-12);
  dispose();
});

test("lrFind stops when the loss overflows even without stopDiv, and the weights come back finite", async () => {
  await initBackend("cpu");
  const { learn, dispose } = setup(6);
  const weights = weightsOf(learn);
  const r = await learn.lrFind({ show: false, startLr: 10, endLr: 1e30, numIt: 100, stopDiv: false });
  assert.ok(r.lrs.length < 100, `stopped after ${r.lrs.length} batches`);
  assert.ok(r.losses.every(Number.isFinite), "only finite losses recorded");
  assert.deepEqual(weightsOf(learn), weights);
  dispose();
});

test("suggestLrs: valley, steepest descent and minimum on a made-up curve", () => {
  // Losses over 20 rates, 1e-5 ... 1e-5·10^(19/4): flat, falling (steepest between points 9 and 10), flat, exploding.
  const lrs = Array.from({ length: 20 }, (_, i) => 1e-5 * 10 ** (i / 4));
  const losses = [5, 5, 5, 5, 5, 4.9, 4.6, 4, 3, 2.5, 1, 0.9, 0.85, 0.8, 0.82, 0.9, 1.5, 3, 9, 20];
  const s = suggestLrs(lrs, losses, 20); // points 2 .. 14 are used (the first tenth and the last 5 left out)
  assert.equal(s.steep, lrs[9]);
  assert.equal(s.minimum, lrs[13] / 10);
  // The longest decreasing run in points 2..14 has 10 points (5, 4.9, ..., 0.85, 0.8), ending at point 13,
  // slice index 11; it starts 10 before that, at slice index 1 (fastai's convention), and the valley lies
  // floor(10/3) + floor(10/6) = 4 further on: slice index 5, point 7.
  assert.equal(s.valley, lrs[7]);
  assert.throws(() => suggestLrs([1e-3], [1]), /stopped after 1 batch \(the loss exploded, or training was interrupted\): too few/);
});

test("lrFind on wasm follows cpu", async () => {
  await assertSameOnBackends("lrFind curve", async () => {
    const { learn, dispose } = setup(4);
    const r = await learn.lrFind({ show: false, endLr: 0.5, numIt: 40 });
    dispose();
    return [...r.lrs, ...r.losses];
  }, { tol: 1e-4 });
});
