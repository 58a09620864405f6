// The single-kernel losses on wasm (lib/src/engine/loss-kernels.ts) must give the plain ops' values and
// gradients, computed on cpu, and reject bad targets clearly.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import { initBackend } from "../lib/src/engine/backend";
import { crossEntropy, mnistLoss } from "../lib/src/losses";
import { assertSameOnBackends, skipUnlessWebgpu } from "./helpers";
import { fastCrossEntropy } from "../lib/src/engine/loss-kernels";test("crossEntropy on wasm (one kernel) equals the plain ops on cpu, with large logits too", async () => {
  const [cpu] = await assertSameOnBackends("crossEntropy and d loss / d scale", () => {
    const logits = tf.tensor2d([[2, -1, 0.5], [100, 99, -50], [-3, -3, -3], [0.1, 0.2, 0.3]]);
    const labels = tf.tensor1d([0, 1, 2, 1], "int32");
    // The gradient flows to the logits through this factor.
    const { value, grad } = tf.valueAndGrad((s: tf.Tensor) => crossEntropy(tf.mul(logits, s), labels))(tf.scalar(1));
    return [value, grad];
  });
  assert.ok(cpu.every(Number.isFinite));
});

test("crossEntropy's gradient on wasm matches cpu element by element", async () => {
  await assertSameOnBackends("d crossEntropy / d logits", () => {
    const x = tf.randomNormal([16, 10], 0, 3, "float32", 3);
    const y = tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i * 7) % 10), "int32");
    return tf.grad((l: tf.Tensor) => crossEntropy(l, y))(x);
  });
});

test("mnistLoss on wasm (one kernel) equals the plain ops on cpu, value and gradient", async () => {
  await assertSameOnBackends("mnistLoss and its gradient", () => {
    const x = tf.randomNormal([32, 1], 0, 4, "float32", 5);
    const t = tf.randomUniform([32, 1], 0, 1, "float32", 6).round();
    return [mnistLoss(x, t), tf.grad((l: tf.Tensor) => mnistLoss(l, t))(x)];
  });
});

test("crossEntropy on wasm names a target that is not a class index: the library's check first, the kernel's own behind it", async () => {
  await initBackend("wasm");
  assert.throws(() => crossEntropy(tf.zeros([2, 3]), tf.tensor1d([0, 3], "int32")), /crossEntropy: class 3 at \[1\] is out of range/);
  assert.throws(() => fastCrossEntropy(tf.zeros([2, 3]), tf.tensor1d([0, 3], "int32")), /target 3 \(row 1\) is not a class index in 0\.\.2/);
});

test("on webgpu (plain ops), crossEntropy and mnistLoss give cpu's values and gradients", async (t) => {
  const skip = await skipUnlessWebgpu();
  if (skip) return t.skip(skip);
  await assertSameOnBackends("crossEntropy and mnistLoss on webgpu, values and d loss / d scale", () => {
    const logits = tf.tensor2d([[2, -1, 0.5], [100, 99, -50], [-3, -3, -3], [0.1, 0.2, 0.3]]);
    const labels = tf.tensor1d([0, 1, 2, 1], "int32");
    const x = tf.tensor2d([[-2], [0.5], [3], [-0.1]]), y = tf.tensor2d([[1], [0], [1], [0]]);
    const ce = tf.valueAndGrad((s: tf.Tensor) => crossEntropy(tf.mul(logits, s), labels))(tf.scalar(1));
    const ml = tf.valueAndGrad((s: tf.Tensor) => mnistLoss(tf.mul(x, s), y))(tf.scalar(1));
    return [ce.value, ce.grad, ml.value, ml.grad];
  }, { backends: ["cpu", "webgpu"] });
});
