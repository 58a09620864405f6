// Predictions over a loader against a direct forward pass and losses worked out by hand; the confusion
// matrix and the most confused pairs on a hand-made example; the heatmap carries names and counts.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import {
  tf, initBackend, Learner, Linear, DataLoader, DataLoaders, tensorDataset, crossEntropy, binaryCrossEntropy, seededRandom,
  getPreds, ClassificationInterpretation, resetPlotlyInlining,
} from "../lib/src/index";
import { topLossCaption } from "../lib/src/interpret";
import { assertClose, assertSameOnBackends } from "./helpers";

/** 10 items of 16 inputs (4x4 images), 3 classes, in an unshuffled loader of batches of 4 (the last has 2). */
function data(seed: number, classes = 3) {
  const rand = seededRandom(seed);
  const x = tf.tensor2d(Array.from({ length: 160 }, () => rand() * 2 - 1), [10, 16]);
  const y = tf.tensor1d(Array.from({ length: 10 }, (_, i) => (i * 7) % classes), "int32");
  const dl = new DataLoader(tensorDataset(x, y), { bs: 4 });
  return { x, y, dls: new DataLoaders(dl, dl) };
}

test("getPreds on a 3-class model: softmax probabilities, argmax, and each item's cross-entropy", async () => {
  await initBackend("cpu");
  const { x, y, dls } = data(1);
  const learn = new Learner(dls, new Linear(16, 3, { seed: 1 }), { lossFunc: crossEntropy, progress: false });
  const before = tf.memory().numTensors;
  const p = getPreds(learn);
  assert.deepEqual([p.probs.shape, p.preds.shape, p.losses.shape, p.targets.shape], [[10, 3], [10], [10], [10]]);
  assert.equal(p.preds.dtype, "int32");
  const logits = tf.tidy(() => learn.predict(x).arraySync() as number[][]);
  const targets = Array.from(y.dataSync());
  const probs = p.probs.arraySync() as number[][];
  logits.forEach((row, i) => {
    const exps = row.map(Math.exp), sum = exps.reduce((a, b) => a + b, 0);
    assertClose(probs[i], exps.map((e) => e / sum), 1e-6, `probabilities of item ${i}`);
    assert.equal(p.preds.dataSync()[i], row.indexOf(Math.max(...row)), `prediction of item ${i}`);
    assertClose(p.losses.dataSync()[i], Math.log(sum) - row[targets[i]], 1e-5, `loss of item ${i}`);
  });
  assert.deepEqual(Array.from(p.targets.dataSync()), targets);
  const [meanOfItems, whole] = tf.tidy(() => [tf.mean(p.losses).dataSync()[0], crossEntropy(learn.predict(x), y).dataSync()[0]]);
  assertClose(meanOfItems, whole, 1e-6, "mean of the item losses = the loss of all");
  tf.dispose(Object.values(p));
  assert.equal(tf.memory().numTensors, before, "nothing left but what getPreds returned");
  tf.dispose([x, y]);
});

test("getPreds on a single-output model: sigmoid probabilities, 1 above 0.5, binary cross-entropy per item", async () => {
  await initBackend("cpu");
  const { x, y, dls } = data(2, 2);
  const learn = new Learner(dls, new Linear(16, 1, { seed: 2 }), { lossFunc: binaryCrossEntropy, progress: false });
  const p = learn.getPreds();
  assert.deepEqual(p.probs.shape, [10]);
  const logits = Array.from(learn.predict(x).dataSync());
  const targets = Array.from(y.dataSync());
  logits.forEach((z, i) => {
    const prob = 1 / (1 + Math.exp(-z));
    assertClose(p.probs.dataSync()[i], prob, 1e-6);
    assert.equal(p.preds.dataSync()[i], prob > 0.5 ? 1 : 0);
    assertClose(p.losses.dataSync()[i], -(targets[i] * Math.log(prob) + (1 - targets[i]) * Math.log(1 - prob)), 1e-5);
  });
  tf.dispose([...Object.values(p), x, y]);
});

/** 9 items of 3 classes, made up: actual and predicted classes chosen by hand. */
function handMade(): ClassificationInterpretation {
  const actual = [0, 0, 0, 1, 1, 1, 2, 2, 2];
  const predicted = [0, 1, 1, 1, 1, 2, 0, 2, 1];
  const probs = predicted.map((c, i) => [0, 1, 2].map((k) => (k === c ? 0.5 + i / 20 : (0.5 - i / 20) / 2)));
  const losses = [0.1, 2.5, 0.9, 0.2, 0.3, 1.7, 3.2, 0.05, 0.6];
  return new ClassificationInterpretation({
    probs: tf.tensor2d(probs), targets: tf.tensor1d(actual, "int32"), losses: tf.tensor1d(losses),
    preds: tf.tensor1d(predicted, "int32"), inputs: tf.tensor2d(Array.from({ length: 9 * 16 }, (_, i) => (i % 17) / 16), [9, 16]),
  }, ["cat", "dog", "bird"]);
}

test("getPreds calls the loss once per batch (reduction \"none\"), and item by item for a loss without it", async () => {
  await initBackend("cpu");
  const { x, y, dls } = data(4);
  const calls: string[] = [];
  const counted = (p: tf.Tensor, t: tf.Tensor, opts?: { reduction: "none" }) => {
    calls.push(opts?.reduction ?? "mean");
    return (opts ? crossEntropy(p, t, opts) : crossEntropy(p, t)) as tf.Scalar; // a LossFunc gives a scalar by default
  };
  const plain = (p: tf.Tensor, t: tf.Tensor) => { calls.push("plain"); return crossEntropy(p, t); };
  const model = new Linear(16, 3, { seed: 4 });
  const a = new Learner(dls, model, { lossFunc: counted, progress: false }).getPreds();
  assert.deepEqual(calls, ["none", "none", "none"], "10 items in batches of 4, 4 and 2");
  calls.length = 0;
  const b = new Learner(dls, model, { lossFunc: plain, progress: false }).getPreds();
  assert.equal(calls.length, 3 + 10, "one call per batch, then one per item");
  assertClose(Array.from(a.losses.dataSync()), Array.from(b.losses.dataSync()), 1e-6, "the same losses either way");
  tf.dispose([...Object.values(a), ...Object.values(b), x, y, ...model.parameters()]);
});

test("confusion matrix and mostConfused on a hand-made example", () => {
  const interp = handMade();
  // rows: actual cat, dog, bird; columns: predicted cat, dog, bird
  assert.deepEqual(interp.confusionMatrix(), [[1, 2, 0], [0, 2, 1], [1, 1, 1]]);
  assert.deepEqual(interp.mostConfused(), [["cat", "dog", 2], ["dog", "bird", 1], ["bird", "cat", 1], ["bird", "dog", 1]]);
  assert.deepEqual(interp.mostConfused(2), [["cat", "dog", 2]]);
  interp.dispose();
});

test("the confusion matrix heatmap has the class names on both axes and the counts in the cells", () => {
  resetPlotlyInlining();
  const interp = handMade();
  const html = interp.confusionMatrixHtml();
  assert.ok(html.includes('"type":"heatmap"'));
  assert.ok(html.includes('"z":[[1,2,0],[0,2,1],[1,1,1]]'));
  assert.ok(html.includes('"x":["cat","dog","bird"],"y":["cat","dog","bird"]'), "names on both axes");
  assert.ok(html.includes('"text":"Predicted"') && html.includes('"text":"Actual"'));
  const cells = [...html.matchAll(/"x":"(\w+)","y":"(\w+)","text":"(\d+)"/g)].map((m) => `${m[2]}->${m[1]}:${m[3]}`);
  assert.deepEqual(cells, ["cat->cat:1", "cat->dog:2", "cat->bird:0", "dog->cat:0", "dog->dog:2", "dog->bird:1", "bird->cat:1", "bird->dog:1", "bird->bird:1"]);
  assert.ok(html.includes('"autorange":"reversed"'), "first row at the top");
  interp.dispose();
});

test("topLosses: highest first, with predicted, actual, loss and the probability of the prediction", async () => {
  const interp = handMade();
  const top = interp.topLosses(3);
  assert.deepEqual(top.map((t) => [t.index, t.predicted, t.actual, t.loss]), [[6, "cat", "bird", 3.2], [1, "dog", "cat", 2.5], [5, "bird", "dog", 1.7]].map(([i, p, a, l]) => [i, p, a, Math.fround(l as number)]));
  assertClose(top.map((t) => t.probability), [0.5 + 6 / 20, 0.5 + 1 / 20, 0.5 + 5 / 20], 1e-6);
  await interp.plotTopLosses(3); // outside Jupyter: prints the heading and "[3 images]"
  // One fact per line, however the class names are spelled.
  assert.equal(topLossCaption({ index: 0, predicted: "Ankle boot", actual: "T-shirt/top", loss: 12.781, probability: 0.8349 }),
    "predicted Ankle boot\nactual T-shirt/top\nloss 12.78, prob 0.83");
  await assert.rejects(interp.plotTopLosses(2, { images: tf.zeros([4, 4, 4]) }), /4 images for 9 predictions/);
  interp.dispose();
});

test("bad vocabularies and targets are named", () => {
  const make = (targets: number[], vocab?: string[]) => new ClassificationInterpretation({
    probs: tf.tensor2d([[0.9, 0.1], [0.2, 0.8]]), targets: tf.tensor1d(targets), losses: tf.tensor1d([0.1, 0.2]), preds: tf.tensor1d([0, 1], "int32"),
  }, vocab);
  assert.throws(() => make([0, 1], ["a", "b", "c"]), /predicts 2 classes but the vocab has 3 names \(a, b, c\)/);
  assert.throws(() => make([0, 2]), /Target 2 \(item 1\) is not a class index from 0 to 1/);
  assert.throws(() => make([0, 0.5]), /Target 0.5 \(item 1\)/);
});

test("fromLearner and getPreds on wasm follow cpu", async () => {
  await assertSameOnBackends("getPreds", () => {
    const { x, y, dls } = data(3);
    const learn = new Learner(dls, new Linear(16, 3, { seed: 3 }), { lossFunc: crossEntropy, progress: false });
    const interp = ClassificationInterpretation.fromLearner(learn);
    const out = [interp.preds.probs.clone(), interp.preds.losses.clone(), interp.confusionMatrix().flat()];
    interp.dispose();
    tf.dispose([x, y]);
    return out;
  });
});
