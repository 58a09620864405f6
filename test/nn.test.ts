// Layers: shapes, the tf.layers.dense initialisation, and forward passes against hand-computed values.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import { Conv2d, countParameters, GlobalAvgPool, Linear, ReLU, Reshape, Sequential } from "../lib/src/nn";

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
