// The single-kernel losses on wasm (lib/src/engine/loss-kernels.ts) and on webgpu (webgpu-kernels.ts) must
// give the plain ops' values and gradients, computed on cpu, and on wasm reject bad targets clearly.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import { initBackend } from "../lib/src/engine/backend";
import { crossEntropy, mnistLoss } from "../lib/src/losses";
import { assertSameOnBackends, skipUnlessWebgpu } from "./helpers";
import { fastCrossEntropy } from "../lib/src/engine/loss-kernels";

// The computations compared across backends, each with its own scale for the tolerance.
const cases: Record<string, () => tf.Tensor[]> = {
  "crossEntropy and d loss / d scale, large logits too": () => {
    const logits = tf.tensor2d([[2, -1, 0.5], [100, 99, -50], [-3, -3, -3], [0.1, 0.2, 0.3]]);
    const labels = tf.tensor1d([0, 1, 2, 1], "int32");
    // The gradient flows to the logits through this factor.
    const { value, grad } = tf.valueAndGrad((s: tf.Tensor) => crossEntropy(tf.mul(logits, s), labels))(tf.scalar(1));
    return [value, grad];
  },
  // More rows than the 256 threads that sum the loss on webgpu.
  "d crossEntropy / d logits, element by element": () => {
    const x = tf.randomNormal([300, 10], 0, 3, "float32", 3);
    const y = tf.tensor1d(Array.from({ length: 300 }, (_, i) => (i * 7) % 10), "int32");
    return [crossEntropy(x, y), tf.grad((l: tf.Tensor) => crossEntropy(l, y))(x)];
  },
  // 15 and 6 values: the wasm kernel's exponentials take the last few one by one. e^-100 and e^-200 underflow
  // float32, yet the loss of a target 100 below the largest is still 100.
  "crossEntropy with extremes, value and d loss / d logits": () => {
    const x = tf.tensor2d([[0, -100, -200], [3, 2, 1], [-1e30, 0, 1], [50, -50, 0], [1e-3, 2e-3, 3e-3]]);
    const y = tf.tensor1d([1, 2, 2, 1, 0], "int32");
    const two = tf.tensor2d([[4, -4], [-1, 30], [0, 0]]);
    return [crossEntropy(x, y), tf.grad((l: tf.Tensor) => crossEntropy(l, y))(x), crossEntropy(two, tf.tensor1d([1, 0, 1], "int32"))];
  },
  "mnistLoss and its gradient": () => {
    const x = tf.randomNormal([600, 1], 0, 4, "float32", 5);
    const t = tf.randomUniform([600, 1], 0, 1, "float32", 6).round();
    // Targets made by a comparison and a cast (on webgpu a float32 tensor whose buffer holds int32).
    const cast = tf.cast(tf.greater(x, 1), "float32");
    return [mnistLoss(x, t), tf.grad((l: tf.Tensor) => mnistLoss(l, t))(x), mnistLoss(x, cast), tf.grad((l: tf.Tensor) => mnistLoss(l, cast))(x)];
  },
};

test("crossEntropy on wasm (one kernel) equals the plain ops on cpu, with large logits too", async () => {
  const [cpu] = await assertSameOnBackends("crossEntropy and d loss / d scale", cases["crossEntropy and d loss / d scale, large logits too"]!);
  assert.ok(cpu.every(Number.isFinite));
});

test("crossEntropy's gradient on wasm matches cpu element by element", async () => {
  await assertSameOnBackends("d crossEntropy / d logits", cases["d crossEntropy / d logits, element by element"]!);
});

test("crossEntropy on wasm as on cpu: sizes that are not a multiple of 4, logits far below the row's largest, two classes", async () => {
  await assertSameOnBackends("crossEntropy with extremes", cases["crossEntropy with extremes, value and d loss / d logits"]!);
  for (const backend of ["cpu", "wasm"]) {
    await initBackend(backend);
    const loss = crossEntropy(tf.tensor2d([[NaN, 0, 1], [1, 2, 3]]), tf.tensor1d([1, 0], "int32"));
    assert.ok(Number.isNaN(loss.dataSync()[0]), `${backend}: a NaN logit gives a NaN loss`);
    loss.dispose();
  }
});

test("crossEntropy's softmax on wasm is within 1e-6 of the float64 softmax, over the whole range of exp", async () => {
  // 100 rows of 10: a 0 (the target, so each row's largest), then nine logits going down to -80 (e^-80 is 2e-35; much
  // lower, softmax · (1/n), the gradient read here, leaves float32's normal numbers).
  await initBackend("wasm");
  const n = 100, c = 10;
  const rows = Array.from({ length: n }, (_, i) => Array.from({ length: c }, (_, j) => (j === 0 ? 0 : -80 * (i * (c - 1) + j) / (n * (c - 1)))));
  const x = tf.tensor2d(rows);
  const g = tf.grad((l: tf.Tensor) => crossEntropy(l, tf.zeros([n], "int32")))(x);
  const got = g.dataSync(), logits = x.dataSync(), scale = Math.fround(1 / n);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const sum = Array.from({ length: c }, (_, j) => Math.exp(logits[i * c + j]!)).reduce((a, b) => a + b);
    for (let j = 1; j < c; j++) {
      const want = (Math.exp(logits[i * c + j]!) / sum) * scale;
      worst = Math.max(worst, Math.abs(got[i * c + j]! - want) / want);
    }
  }
  assert.ok(worst < 1e-6, `the softmax is off by ${worst} (relative) somewhere`);
  tf.dispose([x, g]);
});

test("mnistLoss on wasm (one kernel) equals the plain ops on cpu, value and gradient", async () => {
  await assertSameOnBackends("mnistLoss and its gradient", cases["mnistLoss and its gradient"]!);
});

test("crossEntropy on wasm names a target that is not a class index: the library's check first, the kernel's own behind it", async () => {
  await initBackend("wasm");
  assert.throws(() => crossEntropy(tf.zeros([2, 3]), tf.tensor1d([0, 3], "int32")), /crossEntropy: class 3 at \[1\] is out of range/);
  assert.throws(() => fastCrossEntropy(tf.zeros([2, 3]), tf.tensor1d([0, 3], "int32")), /target 3 \(row 1\) is not a class index in 0\.\.2/);
});

test("on webgpu (the library's kernels), crossEntropy and mnistLoss give cpu's values and gradients; NaN stays NaN", async (t) => {
  const skip = await skipUnlessWebgpu();
  if (skip) return t.skip(skip);
  for (const [what, compute] of Object.entries(cases)) await assertSameOnBackends(`${what} on webgpu`, compute, { backends: ["cpu", "webgpu"] });
  await initBackend("webgpu");
  // The losses and their gradients ran as the library's kernels: one each (crossEntropy's has the softmax as
  // a second output).
  const x = tf.randomNormal([8, 3]), y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32"), b = tf.randomNormal([8, 1]), tb = tf.ones([8, 1]);
  const { kernels } = await tf.profile(() => {
    tf.dispose([tf.grad((l: tf.Tensor) => crossEntropy(l, y))(x), tf.grad((l: tf.Tensor) => mnistLoss(l, tb))(b)]);
  });
  const names = kernels.map((k) => k.name);
  for (const k of ["FastbookSoftmaxCrossEntropy", "FastbookSoftmaxCrossEntropyGrad", "FastbookMnistLoss", "FastbookMnistLossGrad"]) {
    assert.ok(names.includes(k), `${k} ran on webgpu: ${names.join(", ")}`);
  }
  assert.ok(!names.includes("LogSoftmax") && !names.includes("Sigmoid"), `no plain-op loss on webgpu: ${names.join(", ")}`);
  const nanCe = crossEntropy(tf.tensor2d([[NaN, 0, 1], [1, 2, 3]]), tf.tensor1d([1, 0], "int32"));
  const nanMnist = mnistLoss(tf.tensor2d([[NaN], [1]]), tf.tensor2d([[1], [0]]));
  assert.ok(Number.isNaN(nanCe.dataSync()[0]) && Number.isNaN(nanMnist.dataSync()[0]), "a NaN logit gives a NaN loss on webgpu");
  tf.dispose([x, y, b, tb, nanCe, nanMnist]);
});
