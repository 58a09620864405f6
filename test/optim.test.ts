// Gradients that accumulate until zeroed, and the plain SGD step, against hand-computed values.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import { BasicOptim, backward, GradStore } from "../lib/src/optim";

test("backward adds gradients into the store until zero() (PyTorch's .grad behaviour)", () => {
  const w = tf.variable(tf.tensor1d([3, 4, 10]));
  const store = new GradStore();
  const loss = () => tf.sum(tf.square(w)) as tf.Scalar; // d/dw sum(w²) = 2w
  const l1 = backward(loss, [w], store);
  assert.equal(l1.dataSync()[0], 125);
  assert.deepEqual(Array.from(store.get(w)!.dataSync()), [6, 8, 20]);
  backward(loss, [w], store).dispose();
  assert.deepEqual(Array.from(store.get(w)!.dataSync()), [12, 16, 40], "second backward doubles the stored gradient");
  store.zero();
  assert.equal(store.get(w), undefined);
  tf.dispose([l1, w]);
});

test("BasicOptim.step moves each parameter by -lr × gradient; zeroGrad clears", () => {
  const w = tf.variable(tf.tensor1d([1, -2]));
  const b = tf.variable(tf.scalar(0.5));
  const opt = new BasicOptim([w, b], 0.1);
  // loss = sum(w)·3 + b²  ->  dL/dw = [3, 3], dL/db = 2b = 1
  backward(() => tf.add(tf.mul(tf.sum(w), 3), tf.square(b)) as tf.Scalar, opt.params, opt.grads).dispose();
  const before = tf.memory().numTensors;
  opt.step();
  assert.equal(tf.memory().numTensors, before, "step allocates nothing that stays");
  const wv = Array.from(w.dataSync());
  assert.ok(Math.abs(wv[0] - 0.7) < 1e-6 && Math.abs(wv[1] + 2.3) < 1e-6, `w = ${wv}`);
  assert.ok(Math.abs(b.dataSync()[0] - 0.4) < 1e-6);
  opt.zeroGrad();
  opt.step(); // no gradients: nothing moves
  assert.ok(Math.abs(b.dataSync()[0] - 0.4) < 1e-6);
  tf.dispose([w, b]);
});
