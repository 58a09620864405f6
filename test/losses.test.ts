// Losses and metrics against values worked out by hand, the chapter's own numbers, and no leaked tensors.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import {
  binaryCrossEntropy, crossEntropy, l1Loss, mnistLoss, mnistLossOnProbabilities, mseLoss, rmseLoss, sigmoid,
} from "../lib/src/losses";
import { accuracy, batchAccuracy } from "../lib/src/metrics";
import { tf } from "../lib/src/tf";
import { assertClose } from "./helpers";

const close = (actual: number, expected: number, tol = 1e-5) => assertClose(actual, expected, tol * Math.max(1, Math.abs(expected)));

/** Evaluates a loss on fresh tensors, disposes everything, and checks that nothing was left allocated. */
function value(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Scalar, a: () => tf.Tensor, b: () => tf.Tensor): number {
  const [ta, tb] = [a(), b()];
  const before = tf.memory().numTensors;
  const out = fn(ta, tb);
  assert.deepEqual(out.shape, [], "a scalar");
  const v = out.dataSync()[0]!;
  out.dispose();
  assert.equal(tf.memory().numTensors, before, `${fn.name} leaves no tensors behind`);
  tf.dispose([ta, tb]);
  return v;
}

const t1 = (xs: number[]) => () => tf.tensor1d(xs);
const col = (xs: number[]) => () => tf.tensor2d(xs, [xs.length, 1]);
const ints = (xs: number[]) => () => tf.tensor1d(xs, "int32");

test("l1Loss, mseLoss and rmseLoss", () => {
  // diffs 0.5, 0, 2 -> |.| mean 2.5/3; squares 0.25, 0, 4 -> mean 4.25/3 = 1.416667 -> sqrt 1.190238
  close(value(l1Loss, t1([1, 2, 3]), t1([1.5, 2, 1])), 2.5 / 3);
  close(value(mseLoss, t1([1, 2, 3]), t1([1.5, 2, 1])), 4.25 / 3);
  close(value(rmseLoss, t1([1, 2, 3]), t1([1.5, 2, 1])), 1.190238);
});

test("a [N,1] prediction is compared item by item with [N] targets, not broadcast to [N,N]", () => {
  // item by item: |1-1|, |2-4| -> mean 1 (broadcasting would give |[[0,3],[1,2]]| -> 1.5)
  close(value(l1Loss, col([1, 2]), t1([1, 4])), 1);
  assert.throws(() => l1Loss(tf.zeros([2, 1]), tf.zeros([3])), /different numbers of values/);
});

test("sigmoid is 1/(1+e^-x): 0.5 at 0, equal to tf.sigmoid, finite at the extremes", () => {
  const x = tf.tensor1d([-100, -5, -1, 0, 2, 10, 100]);
  const ours = sigmoid(x).dataSync(), theirs = tf.sigmoid(x).dataSync();
  ours.forEach((v, i) => close(v, theirs[i]!, 1e-6));
  close(ours[3]!, 0.5);
  close(ours[0]!, 0, 1e-30);
  close(ours[6]!, 1);
  assert.ok(ours.every(Number.isFinite));
  tf.dispose(x);
});

test("mnistLossOnProbabilities gives the book's 0.4333 and 0.2333", () => {
  // targets 1,0,1: distances 1-0.9, 0.4, 1-0.2 = 0.1, 0.4, 0.8 -> 1.3/3
  close(value(mnistLossOnProbabilities, t1([0.9, 0.4, 0.2]), t1([1, 0, 1])), 1.3 / 3);
  // a better third prediction: 0.1, 0.4, 0.2 -> 0.7/3
  close(value(mnistLossOnProbabilities, t1([0.9, 0.4, 0.8]), t1([1, 0, 1])), 0.7 / 3);
  // int32 labels in a column, as the chapter's train_y
  close(value(mnistLossOnProbabilities, col([0.9, 0.4, 0.8]), () => tf.tensor2d([1, 0, 1], [3, 1], "int32")), 0.7 / 3);
});

test("mnistLoss applies sigmoid to logits first", () => {
  // sigmoid(0) = 0.5 (target 1 -> 0.5); sigmoid(ln 3) = 3/4 (target 0 -> 0.75); mean 0.625
  close(value(mnistLoss, t1([0, Math.log(3)]), t1([1, 0])), 0.625);
  close(value(mnistLoss, col([0, Math.log(3)]), t1([1, 0])), 0.625);
});

test("binaryCrossEntropy matches -[y log σ(x) + (1-y) log(1-σ(x))], also for huge logits", () => {
  // x=0, y=1: -log(1/2) = ln 2
  close(value(binaryCrossEntropy, t1([0]), t1([1])), Math.LN2);
  // x=2, y=0: -log(1 - σ(2)) = log(1 + e^2) = 2.126928
  close(value(binaryCrossEntropy, t1([2]), t1([0])), 2.126928);
  // x=-3, y=1: -log σ(-3) = log(1 + e^3) = 3.048587
  close(value(binaryCrossEntropy, t1([-3]), t1([1])), 3.048587);
  // the three together: their mean
  close(value(binaryCrossEntropy, col([0, 2, -3]), ints([1, 0, 1])), (Math.LN2 + 2.126928 + 3.048587) / 3);
  // confidently wrong costs about |x|; confidently right costs about 0; never Infinity or NaN
  close(value(binaryCrossEntropy, t1([100]), t1([0])), 100);
  close(value(binaryCrossEntropy, t1([-100]), t1([1])), 100);
  close(value(binaryCrossEntropy, t1([100, -100]), t1([1, 0])), 0);
});

test("the gradients of the logit losses are right at 0 and finite at the extremes", () => {
  const x = tf.tensor1d([0, 0, -100, 100]);
  const y = tf.tensor1d([1, 0, 1, 0]);
  // d/dx of mean BCE is (σ(x) - y) / N: (0.5-1)/4, 0.5/4, (0-1)/4, (1-0)/4
  const g = tf.grad((a: tf.Tensor) => binaryCrossEntropy(a, y))(x).dataSync();
  [-0.125, 0.125, -0.25, 0.25].forEach((v, i) => close(g[i]!, v));
  // mnistLoss: d/dx of mean(1-σ(x)) is -σ'(x)/N, σ'(0) = 1/4; vanishing (not NaN) far out
  const m = tf.grad((a: tf.Tensor) => mnistLoss(a, y))(x).dataSync();
  [-1 / 16, 1 / 16, 0, 0].forEach((v, i) => close(m[i]!, v));
  tf.dispose([x, y]);
});

test("crossEntropy on a 2x3 example, and with huge logits", () => {
  // row 0: equal logits -> softmax 1/3 each; target 2 -> -log(1/3) = ln 3
  // row 1: logits ln1, ln2, ln3 -> softmax 1/6, 2/6, 3/6; target 0 -> -log(1/6) = ln 6
  const logits = () => tf.tensor2d([[0, 0, 0], [0, Math.log(2), Math.log(3)]]);
  close(value(crossEntropy, logits, ints([2, 0])), (Math.log(3) + Math.log(6)) / 2);
  // softmax of [1000, 0, -1000] is [1, e^-1000, ...]: target 0 costs 0, target 1 costs 1000
  close(value(crossEntropy, () => tf.tensor2d([[1000, 0, -1000]]), ints([0])), 0);
  close(value(crossEntropy, () => tf.tensor2d([[1000, 0, -1000]]), ints([1])), 1000);
  assert.throws(() => crossEntropy(tf.zeros([2, 3]), tf.zeros([3], "int32")), /2 rows of logits but 3 targets/);
});

test("batchAccuracy thresholds sigmoid at 0.5", () => {
  // logits 2, -1, 0.5, -3 -> predicted 1, 0, 1, 0 against 1, 1, 0, 0: right, wrong, wrong, right
  close(value(batchAccuracy, t1([2, -1, 0.5, -3]), t1([1, 1, 0, 0])), 0.5);
  close(value(batchAccuracy, col([2, -1, 0.5, -3]), ints([1, 1, 0, 0])), 0.5);
  // a logit of exactly 0 is sigmoid 0.5, not above it: predicted 0
  close(value(batchAccuracy, t1([0]), t1([0])), 1);
  assert.equal(batchAccuracy.name, "batchAccuracy");
});

test("accuracy takes the argmax of each row", () => {
  // argmax per row: 1, 0, 2, 0 against 1, 0, 0, 0 -> 3 of 4
  const logits = () => tf.tensor2d([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0, 0, 1], [2, 1, 0]]);
  close(value(accuracy, logits, ints([1, 0, 0, 0])), 0.75);
  assert.equal(accuracy.name, "accuracy");
});
