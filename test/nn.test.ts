// Layers: shapes, the tf.layers.dense initialisation, and forward passes against hand-computed values.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import {
  BatchNorm1d, BatchNorm2d, buffersOf, Conv2d, countParameters, Dropout, Flatten, GlobalAvgPool, Linear, MaxPool2d, ReLU, Reshape, Sequential,
} from "../lib/src/nn";
import { BasicBlock } from "../lib/src/models/resnet";

test("Linear computes x·W + b", () => {
  const lin = new Linear(2, 1);
  lin.weight.assign(tf.tensor2d([[2], [-1]]));
  lin.bias.assign(tf.tensor1d([0.5]));
  assert.deepEqual(lin.forward(tf.tensor2d([[1, 1], [3, 0]])).arraySync(), [[1.5], [6.5]]);
});

test("Linear starts as tf.layers.dense does: zero bias, weights uniform within ±sqrt(6/(in+out)), seeded", () => {
  const a = new Linear(784, 30, { seed: 7 }), b = new Linear(784, 30, { seed: 7 });
  const limit = Math.sqrt(6 / (784 + 30));
  const w = a.weight.dataSync();
  assert.ok(w.every((v) => Math.abs(v) <= limit));
  assert.ok(Math.max(...w) > 0.9 * limit && Math.min(...w) < -0.9 * limit, "spreads over the whole range");
  assert.ok(a.bias.dataSync().every((v) => v === 0));
  assert.deepEqual(Array.from(a.weight.dataSync()), Array.from(b.weight.dataSync()), "same seed, same weights");
  assert.equal(countParameters(a), 784 * 30 + 30);
});

test("Sequential chains layers; ReLU clips negatives", () => {
  const lin = new Linear(1, 2);
  lin.weight.assign(tf.tensor2d([[1, -1]]));
  const net = new Sequential(lin, new ReLU());
  assert.deepEqual(net.forward(tf.tensor2d([[2], [-3]])).arraySync(), [[2, 0], [0, 3]]);
  assert.equal(net.parameters().length, 2);
});

test("Conv2d, Reshape and GlobalAvgPool keep NHWC shapes right", () => {
  const conv = new Conv2d(1, 4, 3, { stride: 2, seed: 1 });
  const x = tf.ones([2, 28, 28, 1]);
  assert.deepEqual(conv.forward(x).shape, [2, 14, 14, 4]);
  assert.deepEqual(new Reshape([28, 28, 1]).forward(tf.ones([2, 784])).shape, [2, 28, 28, 1]);
  assert.deepEqual(new Reshape().forward(x).shape, [2, 784]);
  assert.deepEqual(new GlobalAvgPool().forward(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1])).arraySync(), [[2.5]]);
  // A 1x1 filter of weight 2 and bias 1 doubles and shifts every pixel.
  const one = new Conv2d(1, 1, 1);
  one.filter.assign(tf.fill([1, 1, 1, 1], 2));
  one.bias.assign(tf.tensor1d([1]));
  assert.deepEqual(one.forward(tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1])).dataSync().join(","), "1,3,5,7");
});

test("a layer's only tensors are its parameters: disposing them leaves nothing (no initial tensors kept)", () => {
  const before = tf.memory().numTensors;
  const layers = [new Linear(4, 3, { seed: 1 }), new Conv2d(1, 2, 3, { seed: 2 })];
  const params = layers.flatMap((l) => l.parameters());
  assert.equal(tf.memory().numTensors - before, params.length);
  tf.dispose(params);
  assert.equal(tf.memory().numTensors, before);
});

test("Linear and Conv2d without bias learn only their weights; Kaiming-normal starts have standard deviation sqrt(2 / fan)", () => {
  const lin = new Linear(400, 300, { bias: false, init: "kaimingFanIn", seed: 3 });
  const conv = new Conv2d(16, 32, 3, { bias: false, init: "kaimingFanOut", seed: 4 });
  assert.equal(lin.bias, undefined);
  assert.deepEqual(lin.parameters(), [lin.weight]);
  assert.deepEqual(conv.parameters(), [conv.filter]);
  const std = (t: tf.Tensor) => Math.sqrt(tf.moments(t).variance.dataSync()[0]);
  assert.ok(Math.abs(std(lin.weight) / Math.sqrt(2 / 400) - 1) < 0.02, "fan-in: the 400 inputs");
  assert.ok(Math.abs(std(conv.filter) / Math.sqrt(2 / (3 * 3 * 32)) - 1) < 0.03, "fan-out: 3·3·32");
  assert.deepEqual(lin.forward(tf.ones([2, 400])).shape, [2, 300]);
  tf.dispose([...lin.parameters(), ...conv.parameters()]);
});

test("Conv2d with a numeric padding pads every side as PyTorch does: 28 -> 14 for 7x7 stride 2 padding 3", () => {
  const conv = new Conv2d(1, 1, 3, { stride: 1, padding: 1, bias: false });
  conv.filter.assign(tf.ones([3, 3, 1, 1]));
  // A 3x3 sum over a 2x2 image of ones padded by one: every output sees all four pixels.
  assert.deepEqual(conv.forward(tf.ones([1, 2, 2, 1])).reshape([4]).arraySync(), [4, 4, 4, 4]);
  assert.deepEqual(new Conv2d(1, 2, 7, { stride: 2, padding: 3 }).forward(tf.zeros([1, 28, 28, 1])).shape, [1, 14, 14, 2]);
});

test("BatchNorm2d: batch statistics in training, running ones (updated with momentum 0.1, unbiased variance) in evaluation", () => {
  const bn = new BatchNorm2d(1);
  const x = tf.tensor4d([1, 2, 3, 6], [1, 2, 2, 1]); // mean 3, biased variance 3.5, unbiased 14/3
  const y = bn.forward(x).dataSync();
  const sd = Math.sqrt(3.5 + 1e-5);
  [1, 2, 3, 6].forEach((v, i) => assert.ok(Math.abs(y[i] - (v - 3) / sd) < 1e-6));
  assert.ok(Math.abs(bn.runningMean.dataSync()[0] - 0.1 * 3) < 1e-7);
  assert.ok(Math.abs(bn.runningVar.dataSync()[0] - (0.9 * 1 + 0.1 * 14 / 3)) < 1e-6);
  bn.train(false);
  const mean = 0.3, variance = 0.9 + 0.1 * 14 / 3;
  const z = bn.forward(x).dataSync();
  [1, 2, 3, 6].forEach((v, i) => assert.ok(Math.abs(z[i] - (v - mean) / Math.sqrt(variance + 1e-5)) < 1e-6));
  assert.ok(Math.abs(bn.runningMean.dataSync()[0] - 0.3) < 1e-7, "evaluation leaves the running statistics alone");
  assert.deepEqual(bn.parameters(), [bn.weight, bn.bias], "the running statistics are not parameters");
  assert.deepEqual(buffersOf(bn), [bn.runningMean, bn.runningVar]);
  assert.ok(!bn.runningMean.trainable && !bn.runningVar.trainable);
});

test("BatchNorm says what is wrong with its input", () => {
  assert.throws(() => new BatchNorm2d(3).forward(tf.zeros([2, 4, 4, 2])), /BatchNorm2d\(3\) takes images \[batch, height, width, channels\] with 3 channels last; got \[2,4,4,2\]/);
  assert.throws(() => new BatchNorm2d(3).forward(tf.zeros([2, 3])), /BatchNorm2d\(3\) takes images/);
  assert.throws(() => new BatchNorm1d(4).forward(tf.zeros([1, 4])), /more than one value per channel; got \[1,4\].*train\(false\)/);
  const bn = new BatchNorm1d(4);
  bn.train(false);
  assert.deepEqual(bn.forward(tf.zeros([1, 4])).shape, [1, 4], "one item is fine in evaluation mode");
});

test("Dropout: off in evaluation; in training it zeroes about p of the values and scales the rest by 1/(1-p), seeded", () => {
  const x = tf.fill([100, 100], 3);
  const drop = new Dropout(0.3, { seed: 5 });
  const y = drop.forward(x).dataSync();
  const zeros = y.filter((v) => v === 0).length / y.length;
  assert.ok(Math.abs(zeros - 0.3) < 0.03, `fraction zeroed ${zeros}`);
  assert.ok(y.every((v) => v === 0 || Math.abs(v - 3 / 0.7) < 1e-5), "survivors scaled by 1/(1-p)");
  const again = new Dropout(0.3, { seed: 5 });
  assert.deepEqual(Array.from(again.forward(x).dataSync()), Array.from(y), "same seed, same first mask");
  assert.notDeepEqual(Array.from(again.forward(x).dataSync()), Array.from(y), "a new mask every call");
  // The gradient is the mask, scaled: what reached the output.
  const g = tf.grad((t: tf.Tensor) => new Dropout(0.3, { seed: 5 }).forward(t).sum())(x).dataSync();
  g.forEach((v, i) => assert.ok(Math.abs(v - y[i] / 3) < 1e-6));
  drop.train(false);
  assert.deepEqual(Array.from(drop.forward(x).dataSync()), Array.from(x.dataSync()));
  assert.throws(() => new Dropout(1), /at least 0 and below 1; got 1/);
});

test("MaxPool2d and Flatten keep NHWC shapes as PyTorch's sizes; a padding over half the window is refused", () => {
  assert.deepEqual(new MaxPool2d(3, 2, 1).forward(tf.zeros([2, 14, 14, 3])).shape, [2, 7, 7, 3]);
  assert.deepEqual(new MaxPool2d(2).forward(tf.zeros([1, 5, 5, 1])).shape, [1, 2, 2, 1]);
  assert.deepEqual(new Flatten().forward(tf.zeros([2, 3, 4, 5])).shape, [2, 60]);
  assert.throws(() => new MaxPool2d(3, 1, 2), /padding \(2\) must be at most half the kernel size \(3\)/);
});

test("train(mode) reaches every BatchNorm and Dropout inside containers and residual blocks", () => {
  const block = new BasicBlock(4, 8, 2);
  const net = new Sequential(new Sequential(block, new Dropout(0.5)), new BatchNorm1d(3));
  const flags = () => [...block.residual.layers, ...block.downsample!.layers, (net.layers[0] as Sequential).layers[1], net.layers[1]]
    .filter((l) => "training" in l).map((l) => (l as unknown as { training: boolean }).training);
  assert.equal(flags().length, 5, "three batch norms in the block, the dropout and the last batch norm");
  assert.ok(flags().every((f) => f), "training mode by default, as PyTorch");
  net.train(false);
  assert.ok(flags().every((f) => !f));
  net.train(true);
  assert.ok(flags().every((f) => f));
  assert.equal(buffersOf(net).length, 2 * 4, "running mean and variance of each batch norm");
});
