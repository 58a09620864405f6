// The bench's count of useful arithmetic: the multiply-adds of one training step's products, read from the
// profiled kernels' shapes, against counts worked out by hand from the layers' sizes.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf, initBackend, Linear, ReLU, Sequential, Conv2d, Reshape, GlobalAvgPool, mnistLoss, binaryCrossEntropy } from "../lib/src/index";
import { kernelMacs, profileStep } from "../scripts/bench/arith";

test("a training step's multiply-adds match the hand count: simple net 784-30-1, batch 256", async () => {
  await initBackend();
  const net = new Sequential(new Linear(784, 30, { seed: 1 }), new ReLU(), new Linear(30, 1, { seed: 2 }));
  const [x, y] = [tf.randomUniform([256, 784], 0, 1, "float32", 3), tf.cast(tf.greater(tf.randomUniform([256, 1], 0, 1, "float32", 4), 0.5), "float32")];
  const p = await profileStep(net, mnistLoss, x, y, 0.1, 1);
  // Forward x·W1 (256·784·30) and h·W2 (256·30·1); backward dW2 = hᵀ·dy (30·1·256), dh = dy·W2ᵀ (256·1·30),
  // dW1 = xᵀ·dh (784·30·256). No gradient of the data x.
  assert.equal(p.macs, 256 * 784 * 30 * 2 + 256 * 30 * 3);
  assert.equal(p.reads, 1, "one read per step: the loss");
  assert.ok(p.stepMs > 0 && p.profiledMs > 0);
  tf.dispose([x, y, ...net.parameters()]);
});

test("a training step's multiply-adds match the hand count: one stride-2 convolution, pooled, batch 8", async () => {
  await initBackend();
  const net = new Sequential(new Reshape([28, 28, 1]), new Conv2d(1, 8, 3, { stride: 2, seed: 5 }), new ReLU(), new GlobalAvgPool(), new Linear(8, 1, { seed: 6 }));
  const [x, y] = [tf.randomUniform([8, 784], 0, 1, "float32", 7), tf.cast(tf.greater(tf.randomUniform([8, 1], 0, 1, "float32", 8), 0.5), "float32")];
  const p = await profileStep(net, binaryCrossEntropy, x, y, 0.1, 1);
  // Convolution: 14·14 outputs × 8 channels × 3·3 taps × 1 input channel per image, forward and filter
  // gradient (no input gradient: the input is the data). Linear 8 -> 1: forward, dW, and d(pooled).
  const conv = 8 * 14 * 14 * 8 * 9, linear = 8 * 8;
  assert.equal(p.macs, 2 * conv + 3 * linear);
  tf.dispose([x, y, ...net.parameters()]);
});

test("kernelMacs reads products from their shapes, transposed or not, and counts nothing else", () => {
  const k = (name: string, inputShapes: number[][], outputShapes: number[][]) => kernelMacs({ name, inputShapes, outputShapes, kernelTimeMs: 0 });
  assert.equal(k("MatMul", [[5, 7], [7, 3]], [[5, 3]]), 105);
  assert.equal(k("MatMul", [[7, 5], [7, 3]], [[5, 3]]), 105); // a transposed
  assert.equal(k("BatchMatMul", [[2, 5, 7], [2, 7, 3]], [[2, 5, 3]]), 210);
  assert.equal(k("Conv2D", [[2, 8, 8, 3], [3, 3, 3, 4]], [[2, 8, 8, 4]]), 2 * 64 * 4 * 27);
  // A 2x2 stride-2 transposed convolution of [1, 4, 4, 6] to [1, 8, 8, 5]: each output pixel meets one tap of 6 inputs.
  assert.equal(k("Conv2DBackpropInput", [[1, 4, 4, 6], [2, 2, 5, 6]], [[1, 8, 8, 5]]), 1 * 8 * 8 * 5 * 6);
  assert.equal(k("Conv2DBackpropFilter", [[2, 8, 8, 3], [2, 8, 8, 4]], [[3, 3, 3, 4]]), 2 * 64 * 4 * 27);
  assert.equal(k("Add", [[5, 3], [5, 3]], [[5, 3]]), 0);
});
