// The Learner: it converges on a tiny problem, fires events in order, and leaks no tensors.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf, initBackend, Learner, CancelFit, Linear, type BatchSource, type Callback, type EventName } from "../lib/src/index";

/** y = 2x - 1 on 64 points, in batches of 16; a fresh pair of tensors per batch, as a DataLoader gives. */
function lineData(): { train: BatchSource; valid: BatchSource } {
  const xs = Array.from({ length: 64 }, (_, i) => i / 32 - 1);
  const source = (from: number, to: number): BatchSource => ({
    length: Math.ceil((to - from) / 16),
    *[Symbol.iterator]() {
      for (let i = from; i < to; i += 16) {
        const x = xs.slice(i, Math.min(i + 16, to));
        yield [tf.tensor2d(x, [x.length, 1]), tf.tensor2d(x.map((v) => 2 * v - 1), [x.length, 1])];
      }
    },
  });
  return { train: source(0, 48), valid: source(48, 64) };
}

const mse = (p: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mean(tf.square(tf.sub(p, t))) as tf.Scalar);
function meanAbsError(p: tf.Tensor, t: tf.Tensor) { return tf.tidy(() => tf.mean(tf.abs(tf.sub(p, t))) as tf.Scalar); }

test("fit converges on y = 2x - 1 and records a row per epoch", async () => {
  await initBackend("cpu");
  const model = new Linear(1, 1, { seed: 1 });
  const learn = new Learner(lineData(), model, { lossFunc: mse, metrics: [meanAbsError], progress: false });
  await learn.fit(60, 0.3);
  const [w, b] = [model.weight.dataSync()[0], model.bias.dataSync()[0]];
  assert.ok(Math.abs(w - 2) < 0.05 && Math.abs(b + 1) < 0.05, `w=${w} b=${b}`);
  const rows = learn.recorder.values;
  assert.equal(rows.length, 60);
  assert.ok(rows[59].validLoss < 1e-3 && rows[59].validLoss < rows[0].validLoss);
  assert.deepEqual(Object.keys(rows[0].metrics), ["meanAbsError"]);
  assert.equal(learn.recorder.batchLosses.length, 60 * 3);
});

test("callbacks hear the events in the loop's order", async () => {
  await initBackend("cpu");
  const heard: string[] = [];
  const events: EventName[] = ["beforeFit", "beforeEpoch", "beforeTrain", "beforeBatch", "afterPred", "afterLoss", "afterBackward",
    "afterStep", "afterBatch", "afterTrain", "beforeValidate", "afterValidate", "afterEpoch", "afterFit"];
  const spy: Callback = Object.fromEntries(events.map((e) => [e, (l: Learner) => heard.push(`${e}${l.training ? "" : "(v)"}`)]));
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 2 }), { lossFunc: mse, cbs: [spy], progress: false });
  await learn.fit(1, 0.1);
  const train = ["beforeBatch", "afterPred", "afterLoss", "afterBackward", "afterStep", "afterBatch"];
  const valid = ["beforeBatch(v)", "afterPred(v)", "afterLoss(v)", "afterBatch(v)"];
  assert.deepEqual(heard, [
    "beforeFit(v)", "beforeEpoch(v)", "beforeTrain", ...train, ...train, ...train, "afterTrain",
    "beforeValidate(v)", ...valid, "afterValidate(v)", "afterEpoch(v)", "afterFit(v)",
  ]);
});

test("no tensors leak: the count is the same after every epoch", async () => {
  await initBackend("cpu");
  const counts: number[] = [];
  const counter: Callback = { order: 20, afterEpoch: () => { counts.push(tf.memory().numTensors); } };
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 3 }), { lossFunc: mse, metrics: [meanAbsError], cbs: [counter], progress: false });
  const before = tf.memory().numTensors;
  await learn.fit(5, 0.1);
  assert.equal(new Set(counts).size, 1, `tensor counts per epoch: ${counts}`);
  assert.equal(tf.memory().numTensors, before, "nothing is left once fit returns");
});

test("a callback can stop training early with CancelFit", async () => {
  await initBackend("cpu");
  const stop: Callback = { afterEpoch: (l) => { if (l.epoch === 1) throw new CancelFit(); } };
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 4 }), { lossFunc: mse, cbs: [stop], progress: false });
  await learn.fit(10, 0.1);
  assert.equal(learn.recorder.values.length, 2);
});

test("a NaN loss stops training with an error that says what to do", async () => {
  await initBackend("cpu");
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 5 }), { lossFunc: mse, progress: false });
  await assert.rejects(learn.fit(3, 1e6), /Training diverged: the (training|validation) loss became (NaN|Infinity|-Infinity) in epoch \d+\. Try a lower learning rate/);
});

test("afterLoss fires before the backward pass: a callback that scales the loss scales the step", async () => {
  await initBackend("cpu");
  const weightAfterOneStep = async (scale: number, lr: number) => {
    const model = new Linear(1, 1, { seed: 6 });
    const halve: Callback = { afterLoss: (l) => { if (l.training) l.loss = tf.mul(l.loss!, scale) as tf.Scalar; } };
    const stopAfterOne: Callback = { afterStep: () => { throw new CancelFit(); } };
    const learn = new Learner(lineData(), model, { lossFunc: mse, cbs: [halve, stopAfterOne], progress: false });
    await learn.fit(1, lr);
    const w = model.weight.dataSync()[0];
    tf.dispose(model.parameters());
    return w;
  };
  // Halving the loss halves its gradient: the same step as the full loss at half the learning rate.
  const scaled = await weightAfterOneStep(0.5, 0.2), plain = await weightAfterOneStep(1, 0.1);
  assert.ok(Math.abs(scaled - plain) < 1e-6, `scaled loss ${scaled} vs half learning rate ${plain}`);
});

test("the default callbacks are a list the Learner takes: defaults.callbacks, plus cbs; progress: false drops the table", async () => {
  const { defaults } = await import("../lib/src/index");
  const names = (l: Learner) => l.cbs.map((c) => c.name ?? "?");
  assert.deepEqual(defaults.callbacks.map((make) => make().name), ["recorder", "progress"]);
  assert.deepEqual(names(new Learner(lineData(), new Linear(1, 1), { lossFunc: mse })), ["recorder", "progress"]);
  assert.deepEqual(names(new Learner(lineData(), new Linear(1, 1), { lossFunc: mse, progress: false })), ["recorder"]);
});
