// The usual mistakes around a Learner, each with an error that names what was wrong and what to do (or a
// sensible result), and no tensors left behind by a fit that failed.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import {
  tf, initBackend, Learner, Linear, ReLU, Sequential, DataLoaders, ClassificationInterpretation, mnistLoss, binaryCrossEntropy,
  type Module,
} from "../lib/src/index";

/** 64 items of 16 numbers labelled 0/1, in batches of 16, as training and validation loaders. */
function data(seed = 1, shape: number[] = [16]) {
  const n = 64;
  const [x, y] = tf.tidy(() => {
    const y = tf.cast(tf.greater(tf.randomUniform([n, 1], 0, 1, "float32", seed), 0.5), "float32");
    return [tf.randomNormal([n, ...shape], 0, 1, "float32", seed + 1), y];
  });
  return { dls: DataLoaders.fromTensors(x, y, x, y, { bs: 16, seed }), x, y, dispose: () => tf.dispose([x, y]) };
}
const net = () => new Sequential(new Linear(16, 8, { seed: 1 }), new ReLU(), new Linear(8, 1, { seed: 2 }));
const mse = (p: tf.Tensor, t: tf.Tensor) => tf.mean(tf.square(tf.sub(p, t))) as tf.Scalar;

test("fit and fitOneCycle check the learning rate and the number of epochs, naming the argument", async () => {
  await initBackend("cpu");
  const d = data();
  const learn = new Learner(d.dls, net(), { lossFunc: mnistLoss, progress: false });
  const lr = /fit: lr, the learning rate, must be a positive finite number \(such as 0\.1, or one lrFind suggests\); got /;
  await assert.rejects(learn.fit(1, -0.1), new RegExp(lr.source + "-0\\.1\\."));
  await assert.rejects(learn.fit(1, NaN), new RegExp(lr.source + "NaN\\."));
  await assert.rejects(learn.fit(1, Infinity), new RegExp(lr.source + "Infinity\\."));
  await assert.rejects(learn.fit(1, undefined as unknown as number), new RegExp(lr.source + "undefined\\."));
  await assert.rejects(learn.fit(0, 0.1), /fit: nEpoch, the number of epochs, must be a whole number of at least 1; got 0\./);
  await assert.rejects(learn.fit(2.5, 0.1), /fit: nEpoch, .* got 2\.5\./);
  await assert.rejects(learn.fitOneCycle(2.5, 1e-3), /fitOneCycle: nEpoch, the number of epochs, must be a whole number of at least 1; got 2\.5\./);
  await assert.rejects(learn.fitOneCycle(1, 0), /fitOneCycle: lrMax, the learning rate, must be a positive finite number .*; got 0\./);
  assert.equal(learn.recorder.values.length, 0, "nothing ran");
  assert.equal(learn.opt, undefined, "not even the optimizer was made");
  tf.dispose(learn.model.parameters());
  d.dispose();
});

test("a loss that gives one number per item says to reduce it (mean), naming the loss; the failed fit leaks nothing", async () => {
  await initBackend("cpu");
  const d = data(2);
  const model = net();
  const perItem = (p: tf.Tensor, t: tf.Tensor) => tf.square(tf.sub(p, t)) as tf.Tensor as tf.Scalar;
  const before = tf.memory().numTensors;
  for (const training of [true, false]) {
    const learn = new Learner(training ? d.dls : { train: { length: 0, *[Symbol.iterator]() {} }, valid: d.dls.valid }, model,
      { lossFunc: perItem, progress: false });
    await assert.rejects(learn.fit(1, 0.1), /^Error: The loss function perItem returned a tensor of shape \[16,1\]: a loss must reduce to one number \(mean\)/);
    assert.equal(tf.memory().numTensors, before, `nothing left by the failed ${training ? "training" : "validation"} batch`);
  }
  tf.dispose(model.parameters());
  d.dispose();
});

test("a fit that fails inside the loss (labels that are not 0/1) leaks no tensors, on cpu and wasm", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await initBackend(backend);
    const x = tf.randomNormal([64, 16], 0, 1, "float32", 3);
    const y = tf.tensor2d(Array.from({ length: 64 }, (_, i) => i % 3), [64, 1]);
    const model = net();
    const learn = new Learner(DataLoaders.fromTensors(x, y, x, y, { bs: 16 }), model, { lossFunc: mnistLoss, progress: false });
    const before = tf.memory().numTensors;
    await assert.rejects(learn.fit(1, 0.1), /mnistLoss: the targets must be 0 or 1 .*found 2 at/);
    assert.equal(tf.memory().numTensors, before, `tensors left on ${backend}`);
    tf.dispose([x, y, ...model.parameters()]);
  }
});

test("lrFind on a model that gives NaN from the first batch says so, and puts the weights back", async () => {
  await initBackend("cpu");
  const d = data(4);
  const model = net();
  model.parameters()[0]!.assign(tf.fill([16, 8], NaN));
  const learn = new Learner(d.dls, model, { lossFunc: mnistLoss, progress: false });
  const weights = model.parameters().map((p) => Array.from(p.dataSync()));
  const before = tf.memory().numTensors;
  await assert.rejects(learn.lrFind({ show: false }), (e: Error) => {
    assert.match(e.message, /^lrFind: the loss is NaN at the first batch, before any step was taken: the model or the data give it from the start/);
    assert.doesNotMatch(e.message, /start lower/);
    return true;
  });
  assert.deepEqual(model.parameters().map((p) => Array.from(p.dataSync())), weights, "the weights are back as they were");
  assert.deepEqual(learn.cbs.map((cb) => cb.name), ["divergence", "recorder"], "the Learner's callbacks are back");
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(model.parameters());
  d.dispose();
});

test("images that were not flattened into a Linear layer: the error names the layer and flatten: true", async () => {
  await initBackend("cpu");
  const d = data(5, [4, 4, 1]);
  const learn = new Learner(d.dls, new Sequential(new Linear(16, 1, { seed: 1 })), { lossFunc: mnistLoss, progress: false });
  const before = tf.memory().numTensors;
  await assert.rejects(learn.fit(1, 0.1),
    /^Error: Linear\(16, 1\) takes rows of 16 numbers, \[N, 16\]; got \[16,4,4,1\]\. Flatten images into rows first: the loaders' option flatten: true, or new Reshape\(\) before it\./);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => new Linear(784, 30).forward(tf.zeros([2, 100])), /^Error: Linear\(784, 30\) takes rows of 784 numbers, \[N, 784\]; got \[2,100\]\.$/);
  tf.dispose(learn.model.parameters());
  d.dispose();
});

test("the Learner sets train(true) before training, train(false) before validation, getPreds and predict", async () => {
  await initBackend("cpu");
  const d = data(6);
  const modes: boolean[] = [];
  const inner = net();
  const model: Module = { forward: (x) => inner.forward(x), parameters: () => inner.parameters(), train: (mode) => { modes.push(mode); } };
  const learn = new Learner(d.dls, model, { lossFunc: mnistLoss, progress: false });
  await learn.fit(2, 0.1);
  assert.deepEqual(modes, [true, false, true, false]);
  tf.dispose(Object.values(learn.getPreds()));
  tf.dispose(learn.predict(tf.zeros([1, 16])));
  assert.deepEqual(modes.slice(4), [false, false]);
  tf.dispose(inner.parameters());
  d.dispose();
});

test("fromLearner names the classes with the loaders' vocab; topLosses and plotTopLosses are bounded", async (t) => {
  await initBackend("cpu");
  const d = data(7);
  const learn = new Learner({ ...d.dls, train: d.dls.train, valid: d.dls.valid, vocab: ["3", "7"] }, net(), { lossFunc: binaryCrossEntropy, progress: false });
  const interp = ClassificationInterpretation.fromLearner(learn);
  assert.deepEqual(interp.vocab, ["3", "7"]);
  assert.ok(interp.topLosses(3).every((l) => ["3", "7"].includes(l.actual) && ["3", "7"].includes(l.predicted)));
  assert.equal(interp.topLosses(1000).length, 64, "more than there are: all of them");
  assert.throws(() => interp.topLosses(-1), /topLosses: k, the number of items, must be a whole number >= 0; got -1\./);
  t.mock.method(console, "log", () => {});
  for (const k of [-1, 0, 2.5, 100000]) {
    await assert.rejects(interp.plotTopLosses(k), new RegExp(`^Error: plotTopLosses: k, the number of images, must be a whole number from 1 to 100; got ${k}\\.`));
  }
  const explicit = ClassificationInterpretation.fromLearner(learn, { vocab: ["three", "seven"] });
  assert.deepEqual(explicit.vocab, ["three", "seven"], "a vocab passed wins");
  const tenNames = new Learner({ train: d.dls.train, valid: d.dls.valid, vocab: ["a", "b", "c"] }, learn.model, { lossFunc: binaryCrossEntropy, progress: false });
  assert.throws(() => ClassificationInterpretation.fromLearner(tenNames), /The model predicts 2 classes but the vocab has 3 names \(a, b, c\): pass \{ vocab \} with one name per class\./);
  interp.dispose();
  explicit.dispose();
  tf.dispose(learn.model.parameters());
  d.dispose();
});
