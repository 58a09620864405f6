// The single-kernel losses on wasm (lib/src/loss-kernels.ts) must give the plain ops' values and
// gradients, computed on cpu, and reject bad targets clearly.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import { initBackend } from "../lib/src/backend";
import { crossEntropy, mnistLoss } from "../lib/src/losses";
import { skipUnlessWebgpu } from "./helpers";

/** Loss and d loss / d logits on a backend, as plain arrays. */
async function lossAndGrad(backend: string, loss: (x: tf.Tensor, y: tf.Tensor) => tf.Scalar, x: number[][], y: number[] | number[][], ydtype: "int32" | "float32") {
  await initBackend(backend);
  const logits = tf.tensor2d(x);
  const targets = ydtype === "int32" ? tf.tensor1d(y as number[], "int32") : tf.tensor(y as number[][]);
  const { value, grads } = tf.variableGrads(() => loss(tf.mul(logits, v) as tf.Tensor, targets), [v]);
  const out = { value: value.dataSync()[0], grad: Array.from(grads[v.name].dataSync()) };
  tf.dispose([logits, targets, value, grads[v.name]]);
  return out;
}
const v = tf.variable(tf.scalar(1), true, "scale"); // the gradient flows to the logits through this factor

function close(a: number, b: number, what: string, backend = "wasm") {
  assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${what}: ${backend} ${a}, cpu ${b}`);
}

test("crossEntropy on wasm (one kernel) equals the plain ops on cpu, with large logits too", async () => {
  const logits = [[2, -1, 0.5], [100, 99, -50], [-3, -3, -3], [0.1, 0.2, 0.3]];
  const labels = [0, 1, 2, 1];
  const ref = await lossAndGrad("cpu", crossEntropy, logits, labels, "int32");
  const wasm = await lossAndGrad("wasm", crossEntropy, logits, labels, "int32");
  assert.ok(Number.isFinite(ref.value));
  close(wasm.value, ref.value, "loss");
  close(wasm.grad[0], ref.grad[0], "d loss / d scale");
});

test("crossEntropy's gradient on wasm matches cpu element by element", async () => {
  const grads = async (backend: string) => {
    await initBackend(backend);
    const x = tf.randomNormal([16, 10], 0, 3, "float32", 3);
    const y = tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i * 7) % 10), "int32");
    const g = tf.grad((l: tf.Tensor) => crossEntropy(l, y))(x);
    return Array.from(g.dataSync());
  };
  const cpu = await grads("cpu"), wasm = await grads("wasm");
  cpu.forEach((g, i) => close(wasm[i], g, `element ${i}`));
});

test("mnistLoss on wasm (one kernel) equals the plain ops on cpu, value and gradient", async () => {
  const grads = async (backend: string) => {
    await initBackend(backend);
    const x = tf.randomNormal([32, 1], 0, 4, "float32", 5);
    const t = tf.randomUniform([32, 1], 0, 1, "float32", 6).round();
    const loss = mnistLoss(x, t).dataSync()[0];
    const g = tf.grad((l: tf.Tensor) => mnistLoss(l, t))(x);
    return { loss, g: Array.from(g.dataSync()) };
  };
  const cpu = await grads("cpu"), wasm = await grads("wasm");
  close(wasm.loss, cpu.loss, "loss");
  cpu.g.forEach((g, i) => close(wasm.g[i], g, `element ${i}`));
});

test("crossEntropy on wasm names a target that is not a class index", async () => {
  await initBackend("wasm");
  assert.throws(() => crossEntropy(tf.zeros([2, 3]), tf.tensor1d([0, 3], "int32")), /target 3 \(row 1\) is not a class index in 0\.\.2/);
});

test("on webgpu (plain ops), crossEntropy and mnistLoss give cpu's values and gradients", async (t) => {
  const skip = await skipUnlessWebgpu();
  if (skip) return t.skip(skip);
  const logits = [[2, -1, 0.5], [100, 99, -50], [-3, -3, -3], [0.1, 0.2, 0.3]];
  const ref = await lossAndGrad("cpu", crossEntropy, logits, [0, 1, 2, 1], "int32");
  const gpu = await lossAndGrad("webgpu", crossEntropy, logits, [0, 1, 2, 1], "int32");
  close(gpu.value, ref.value, "crossEntropy", "webgpu");
  close(gpu.grad[0], ref.grad[0], "d crossEntropy / d scale", "webgpu");
  const x = [[-2], [0.5], [3], [-0.1]], y = [[1], [0], [1], [0]];
  const refM = await lossAndGrad("cpu", mnistLoss, x, y, "float32");
  const gpuM = await lossAndGrad("webgpu", mnistLoss, x, y, "float32");
  close(gpuM.value, refM.value, "mnistLoss", "webgpu");
  close(gpuM.grad[0], refM.grad[0], "d mnistLoss / d scale", "webgpu");
});
