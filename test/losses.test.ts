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
  assert.throws(() => l1Loss(tf.zeros([2, 1]), tf.zeros([3])), /l1Loss: predictions \[2,1\] and targets \[3\] hold different numbers of values/);
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
  assert.throws(() => crossEntropy(tf.zeros([2, 3]), tf.zeros([3], "int32")), /crossEntropy: the targets must be 2 class indices, shape \[2\]/);
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

// Each case: the call, and what its error must say (the function, the shapes, the offending value).
const badInputs: [string, () => unknown, RegExp][] = [
  ["mnistLoss with labels 3 and 7", () => mnistLoss(tf.zeros([2, 1]), tf.tensor2d([[3], [7]])),
    /mnistLoss: the targets must be 0 or 1 .*found 3 at \[0,0\] \(logits \[2,1\], targets \[2,1\]\)/],
  ["binaryCrossEntropy with a 2", () => binaryCrossEntropy(tf.zeros([3]), tf.tensor1d([0, 1, 2], "int32")),
    /binaryCrossEntropy: the targets must be 0 or 1 .*found 2 at \[2\] \(logits \[3\], targets \[3\]\)/],
  ["binaryCrossEntropy with a soft label", () => binaryCrossEntropy(tf.zeros([2]), tf.tensor1d([0.5, 1])), /found 0.5 at \[0\]/],
  ["batchAccuracy with a NaN label", () => batchAccuracy(tf.zeros([2]), tf.tensor1d([1, NaN])), /batchAccuracy: .*found NaN at \[1\]/],
  ["mnistLoss with int32 logits", () => mnistLoss(tf.zeros([2], "int32"), tf.zeros([2])), /mnistLoss: logits must be float32; got int32/],
  ["mnistLoss, sizes differ", () => mnistLoss(tf.zeros([4, 1]), tf.zeros([3])),
    /mnistLoss: predictions \[4,1\] and targets \[3\] hold different numbers of values/],
  ["mnistLossOnProbabilities given logits", () => mnistLossOnProbabilities(tf.tensor1d([0.5, 2.5]), tf.tensor1d([1, 0])),
    /mnistLossOnProbabilities: the predictions must be probabilities in \[0, 1\]; found 2.5 at \[1\]/],
  ["mseLoss with a NaN target", () => mseLoss(tf.zeros([2]), tf.tensor1d([1, NaN])), /mseLoss: the targets must be finite numbers; found NaN at \[1\]/],
  ["crossEntropy, class out of range", () => crossEntropy(tf.zeros([3, 10]), tf.tensor1d([1, 10, 2], "int32")),
    /crossEntropy: class 10 at \[1\] is out of range: logits with 10 columns take classes 0..9 \(logits \[3,10\], targets \[3\]\)/],
  ["crossEntropy, negative class", () => crossEntropy(tf.zeros([2, 10]), tf.tensor1d([-1, 0], "int32")), /class -1 at \[0\] is out of range/],
  ["crossEntropy, non-integer class", () => crossEntropy(tf.zeros([2, 3]), tf.tensor1d([0, 1.5])), /crossEntropy: the targets must be whole class indices; found 1.5 at \[1\]/],
  ["crossEntropy, one-hot targets", () => crossEntropy(tf.zeros([2, 3]), tf.tensor2d([[0, 1, 0], [1, 0, 0]])),
    /crossEntropy: the targets look one-hot \(logits \[2,3\], targets \[2,3\]\); give one class index per item instead, shape \[2\], e.g. tf.argMax\(targets, 1\)/],
  ["crossEntropy, bool targets", () => crossEntropy(tf.zeros([2, 3]), tf.tensor1d([true, false] as unknown as number[], "bool")),
    /crossEntropy: targets must be int32 or float32; got bool/],
  ["crossEntropy on one output per item", () => crossEntropy(tf.zeros([4, 1]), tf.zeros([4], "int32")),
    /crossEntropy: logits must have shape \[N, classes\].*got \[4,1\].*use a binary loss/],
  ["accuracy, class out of range", () => accuracy(tf.zeros([2, 3]), tf.tensor1d([0, 3], "int32")), /accuracy: class 3 at \[1\] is out of range/],
  ["accuracy, 1-D logits", () => accuracy(tf.zeros([4]), tf.zeros([4], "int32")), /accuracy: logits must have shape \[N, classes\]/],
];

test("every loss and metric rejects bad inputs with the same message on cpu and on wasm (fused kernels included)", async () => {
  const { initBackend } = await import("../lib/src/engine/backend");
  for (const backend of ["cpu", "wasm"] as const) {
    await initBackend(backend);
    for (const [what, call, message] of badInputs) {
      tf.engine().startScope();
      try {
        assert.throws(call, message, `${what} on ${backend}`);
      } finally {
        tf.engine().endScope();
      }
    }
  }
});

test("good inputs still give the same numbers: bool and int32 binary labels, float class indices, [N,1] class indices", () => {
  const logits = [2, -1, 0.5, -3];
  const labels = [1, 1, 0, 0];
  const ref = value(mnistLoss, t1(logits), t1(labels));
  close(value(mnistLoss, col(logits), () => tf.tensor2d(labels.map(Boolean) as unknown as number[], [4, 1], "bool")), ref);
  close(value(binaryCrossEntropy, t1(logits), ints(labels)), value(binaryCrossEntropy, t1(logits), t1(labels)));
  const rows = () => tf.tensor2d([[0, 0, 0], [0, Math.log(2), Math.log(3)]]);
  const ce = (Math.log(3) + Math.log(6)) / 2;
  close(value(crossEntropy, rows, t1([2, 0])), ce);
  close(value(crossEntropy, rows, () => tf.tensor2d([2, 0], [2, 1], "int32")), ce);
});

test("crossEntropy warns once when given probabilities instead of logits", (t) => {
  const warned: string[] = [];
  t.mock.method(console, "warn", (msg: string) => warned.push(msg));
  // Logits that are not probabilities: no warning.
  value(crossEntropy, () => tf.tensor2d([[0.2, 0.9, 0.3], [0.1, 0.1, 0.1]]), ints([1, 0]));
  assert.equal(warned.length, 0);
  const probs = () => tf.softmax(tf.tensor2d([[1, 2, 3], [0, 0, 5]]));
  const loss = value(crossEntropy, probs, ints([2, 2]));
  assert.ok(Number.isFinite(loss));
  value(crossEntropy, probs, ints([0, 1]));
  assert.equal(warned.length, 1, "once");
  assert.match(warned[0], /crossEntropy expects logits .* every row of \[2,3\] lies in \[0, 1\] and sums to 1/);
});

test("label checks read the targets once: a metric given the batch a loss has checked reads nothing again", (t) => {
  const logits = tf.zeros([4, 3]), labels = tf.tensor1d([0, 1, 2, 1], "int32");
  const reads = t.mock.method(labels, "dataSync");
  tf.dispose([crossEntropy(logits, labels), accuracy(logits, labels), crossEntropy(logits, labels)]);
  assert.equal(reads.mock.callCount(), 1);
  tf.dispose([logits, labels]);
});

test("reduction \"none\" gives each item's loss, worked out by hand; their mean is the default; on cpu and wasm", async () => {
  const { initBackend } = await import("../lib/src/engine/backend");
  for (const backend of ["cpu", "wasm"] as const) {
    await initBackend(backend); // wasm has fused kernels for the mean of mnistLoss and crossEntropy
    const none = { reduction: "none" } as const;
    const logits = [2, -1, 0.5, -3], labels = [1, 1, 0, 0];
    const s = (z: number) => 1 / (1 + Math.exp(-z));
    const cases: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, () => tf.Tensor, () => tf.Tensor, number[]][] = [
      ["l1Loss", (a, b) => l1Loss(a, b, none), l1Loss, col([1, 2, 3]), t1([1.5, 2, 1]), [0.5, 0, 2]],
      ["mseLoss", (a, b) => mseLoss(a, b, none), mseLoss, col([1, 2, 3]), t1([1.5, 2, 1]), [0.25, 0, 4]],
      ["mnistLossOnProbabilities", (a, b) => mnistLossOnProbabilities(a, b, none), mnistLossOnProbabilities, t1([0.9, 0.4, 0.2]), t1([1, 0, 0]), [0.1, 0.4, 0.2]],
      ["mnistLoss", (a, b) => mnistLoss(a, b, none), mnistLoss, col(logits), t1(labels), logits.map((z, i) => (labels[i] ? 1 - s(z) : s(z)))],
      ["binaryCrossEntropy", (a, b) => binaryCrossEntropy(a, b, none), binaryCrossEntropy, t1(logits), ints(labels),
        logits.map((z, i) => -(labels[i] * Math.log(s(z)) + (1 - labels[i]) * Math.log(1 - s(z))))],
      ["crossEntropy", (a, b) => crossEntropy(a, b, none), crossEntropy, () => tf.tensor2d([[0, 0, 0], [0, Math.log(2), Math.log(3)]]), ints([2, 0]),
        [Math.log(3), Math.log(6)]],
    ];
    for (const [name, perItem, mean, a, b, expected] of cases) {
      const [ta, tb] = [a(), b()];
      const before = tf.memory().numTensors;
      const out = perItem(ta, tb);
      assert.deepEqual(out.shape, [expected.length], `${name}: one loss per item`);
      Array.from(out.dataSync()).forEach((v, i) => close(v, expected[i]!));
      const m = mean(ta, tb);
      close(m.dataSync()[0]!, expected.reduce((x, y) => x + y, 0) / expected.length);
      tf.dispose([out, m]);
      assert.equal(tf.memory().numTensors, before, `${name} leaves no tensors behind`);
      tf.dispose([ta, tb]);
    }
    assert.throws(() => mseLoss(tf.zeros([2]), tf.zeros([2]), { reduction: "sum" } as unknown as { reduction: "none" }),
      /reduction must be "mean" or "none"; got "sum"/);
  }
  await initBackend("cpu");
});
