// One-cycle training and its schedules: the learning rate and momentum of every batch against fastai's
// formula, worked out here in another form (cosine annealing from a to b: a + (b − a)·(1 − cos πp)/2).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import {
  tf, initBackend, Learner, Linear, sgd, BasicOptim, schedCos, schedExp, combinedCos, combineScheds, type BatchSource,
} from "../lib/src/index";
import { assertClose } from "./helpers";

/** y = 2x - 1: 64 training points in 4 batches of 16, 16 validation points. */
function lineData(): { train: BatchSource; valid: BatchSource } {
  const source = (n: number, offset: number): BatchSource => ({
    length: Math.ceil(n / 16),
    *[Symbol.iterator]() {
      for (let i = 0; i < n; i += 16) {
        const x = Array.from({ length: Math.min(16, n - i) }, (_, j) => ((i + j + offset) * 0.37) % 2 - 1);
        yield [tf.tensor2d(x, [x.length, 1]), tf.tensor2d(x.map((v) => 2 * v - 1), [x.length, 1])];
      }
    },
  });
  return { train: source(64, 0), valid: source(16, 64) };
}
const mse = (p: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mean(tf.square(tf.sub(p, t))) as tf.Scalar);

/** Cosine annealing from a to b at fraction p, written independently of the library's form. */
const anneal = (a: number, b: number, p: number) => a + ((b - a) * (1 - Math.cos(Math.PI * p))) / 2;
/** fastai's one-cycle value at position pos: a→b over [0, pct), then b→c. */
const oneCycle = (pos: number, pct: number, a: number, b: number, c: number) =>
  pos < pct ? anneal(a, b, pos / pct) : anneal(b, c, (pos - pct) / (1 - pct));

test("schedules: cosine, exponential and combined phases at their ends and midpoints", () => {
  assertClose(schedCos(2, 4)(0), 2, 1e-12);
  assertClose(schedCos(2, 4)(0.5), 3, 1e-12);
  assertClose(schedCos(2, 4)(1), 4, 1e-12);
  assertClose(schedCos(1, 0)(0.25), anneal(1, 0, 0.25), 1e-12);
  assertClose(schedExp(1e-7, 10)(0.5), 1e-7 * Math.sqrt(1e8), 1e-18);
  const cyc = combinedCos(0.25, 0.004, 0.1, 1e-6);
  for (const pos of [0, 0.1, 0.25, 0.3, 0.6, 0.99, 1]) assertClose(cyc(pos), oneCycle(pos, 0.25, 0.004, 0.1, 1e-6), 1e-12, `pos ${pos}`);
  assertClose(cyc(1), 1e-6, 1e-15, "ends at lrMax/divFinal");
  // A phase of length 0 is skipped.
  assertClose(combineScheds([0, 1], [() => 7, schedCos(1, 2)])(0), 1, 1e-12);
  assert.throws(() => combineScheds([0.5, 0.4], [schedCos(0, 1), schedCos(1, 0)]), /add up to 1; got \[0.5,0.4\]/);
});

test("fitOneCycle: lr and momentum of every batch follow fastai's one-cycle formula", async () => {
  await initBackend("cpu");
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 1 }), { lossFunc: mse, optFunc: sgd({ mom: 0.9 }), progress: false });
  const cbsBefore = [...learn.cbs];
  const before = tf.memory().numTensors;
  await learn.fitOneCycle(2, 0.1);
  const { lrs, moms } = learn.recorder;
  assert.equal(lrs.length, 8, "2 epochs of 4 batches");
  assert.equal(moms.length, 8);
  for (let i = 0; i < 8; i++) {
    assertClose(lrs[i], oneCycle(i / 8, 0.25, 0.1 / 25, 0.1, 0.1 / 1e5), 1e-12, `lr of batch ${i}`);
    assertClose(moms[i], oneCycle(i / 8, 0.25, 0.95, 0.85, 0.95), 1e-12, `mom of batch ${i}`);
  }
  assert.equal(lrs[0], 0.1 / 25, "starts at lrMax/div");
  assert.equal(lrs[2], 0.1, "peaks at lrMax a quarter of the way");
  assert.equal(moms[0], 0.95);
  assert.equal(moms[2], 0.85, "momentum lowest where the learning rate peaks");
  assert.ok(lrs[7] < lrs[6] && lrs[6] < lrs[5], "annealing");
  assert.deepEqual(learn.cbs, cbsBefore, "the scheduler is gone after the fit");
  assert.equal(learn.recorder.values.length, 2);
  learn.opt!.dispose!();
  assert.equal(tf.memory().numTensors, before, "no tensors left but the weights");
});

test("fitOneCycle trains: the validation loss falls", async () => {
  await initBackend("cpu");
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 2 }), { lossFunc: mse, optFunc: sgd({ mom: 0.9 }), progress: false });
  await learn.fitOneCycle(10, 0.3);
  const v = learn.recorder.values;
  assert.ok(v[9].validLoss < 0.05 * v[0].validLoss, `valid loss ${v[0].validLoss} -> ${v[9].validLoss}`);
  learn.opt!.dispose!();
});

test("fitOneCycle leaves momentum alone where the optimizer has none, and sets weight decay where asked", async () => {
  await initBackend("cpu");
  const plain = new Learner(lineData(), new Linear(1, 1, { seed: 3 }), { lossFunc: mse, progress: false });
  await plain.fitOneCycle(1, 0.1);
  assert.equal(plain.opt!.mom, undefined);
  assert.deepEqual(plain.recorder.moms, []);
  assert.deepEqual(plain.recorder.lrs.slice(0, 1), [0.1 / 25]);
  await plain.fit(1, 0.05); // a plain fit records its constant rate
  assert.deepEqual(plain.recorder.lrs.slice(4), [0.05, 0.05, 0.05, 0.05]);
  assert.equal(plain.recorder.lrs.length, plain.recorder.batchLosses.length, "one rate per recorded batch loss");
  plain.recorder.plotSched(); // outside Jupyter: a one-line description

  const decayed = new Learner(lineData(), new Linear(1, 1, { seed: 3 }), { lossFunc: mse, optFunc: sgd(), progress: false });
  await decayed.fitOneCycle(1, 0.1, { wd: 0.01 });
  assert.equal(decayed.opt!.wd, 0.01);

  const basic = new Learner(lineData(), new Linear(1, 1, { seed: 3 }), {
    lossFunc: mse, optFunc: (ps, lr) => new BasicOptim(ps, lr), progress: false,
  });
  const cbs = [...basic.cbs];
  await assert.rejects(basic.fitOneCycle(1, 0.1, { wd: 0.01 }), /no weight decay to set.*optFunc: sgd\(\) or adam\(\)/);
  assert.deepEqual(basic.cbs, cbs, "callbacks restored after an error too");
  await assert.rejects(basic.fitOneCycle(1, -1), /fitOneCycle: lrMax, the learning rate, must be a positive finite number .*; got -1\./);
});
