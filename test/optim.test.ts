// Gradients that accumulate until zeroed, and the plain SGD step, against hand-computed values.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import { BasicOptim, backward, GradStore, SGDOptim, AdamOptim, SGD, sgd, adam, type Optimizer } from "../lib/src/optim";
import { initBackend } from "../lib/src/engine/backend";
import { assertClose, assertSameOnBackends } from "./helpers";

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

// ---- SGD with momentum, Adam, weight decay: a few steps each against numbers worked out by hand ----

/** Runs `n` steps of `opt` on loss(w), returning w after each step. */
function steps(opt: Optimizer, w: tf.Variable, loss: () => tf.Scalar, n: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    backward(loss, opt.params, opt.grads).dispose();
    opt.step();
    opt.zeroGrad();
    out.push(Array.from(w.dataSync()));
  }
  return out;
}

const halfSumSquares = (w: tf.Variable) => () => tf.mul(tf.sum(tf.square(w)), 0.5) as tf.Scalar; // gradient = w
const dotWith = (w: tf.Variable, c: number[]) => () => tf.sum(tf.mul(w, tf.tensor1d(c))) as tf.Scalar; // gradient = c

test("SGD with momentum: avg = mom·avg + grad, p -= lr·avg (three steps by hand)", async () => {
  await initBackend("cpu");
  const w = tf.variable(tf.tensor1d([1, -2]));
  const opt = new SGDOptim([w], 0.1, { mom: 0.9 });
  const before = tf.memory().numTensors;
  // grad = w. Step 1: avg = [1,-2], w = [0.9,-1.8]. Step 2: avg = 0.9·[1,-2] + [0.9,-1.8] = [1.8,-3.6],
  // w = [0.72,-1.44]. Step 3: avg = 0.9·[1.8,-3.6] + [0.72,-1.44] = [2.34,-4.68], w = [0.486,-0.972].
  const ws = steps(opt, w, halfSumSquares(w), 3);
  assertClose(ws[0], [0.9, -1.8], 1e-6, "step 1");
  assertClose(ws[1], [0.72, -1.44], 1e-6, "step 2");
  assertClose(ws[2], [0.486, -0.972], 1e-6, "step 3");
  assert.equal(tf.memory().numTensors, before + 1, "one momentum buffer kept");
  opt.dispose();
  assert.equal(tf.memory().numTensors, before, "dispose frees it");
  w.dispose();
});

test("Adam with bias correction and fastai's defaults (three steps by hand)", async () => {
  await initBackend("cpu");
  const w = tf.variable(tf.tensor1d([1, -2, 0.5]));
  const opt = new AdamOptim([w], 0.1, { wd: 0 });
  assert.deepEqual([opt.mom, opt.sqrMom, opt.eps], [0.9, 0.99, 1e-5]);
  assert.equal(new AdamOptim([w], 0.1).wd, 0.01, "fastai's default weight decay");
  const ws = steps(opt, w, halfSumSquares(w), 3);
  // Step 1 by hand: avg = 0.1·g, sqrAvg = 0.01·g²; debiased they are g and g², so w -= 0.1·g/(|g| + 1e-5).
  assertClose(ws[0], [1 - 0.1 / 1.00001, -2 + 0.1 * 2 / 2.00001, 0.5 - 0.1 * 0.5 / 0.50001], 1e-6, "step 1");
  // Steps 2 and 3 in plain arithmetic, element by element.
  const expected = [1, -2, 0.5].map((w0) => {
    let p = w0, avg = 0, sqr = 0;
    const trace: number[] = [];
    for (let t = 1; t <= 3; t++) {
      const g = p;
      avg = 0.9 * avg + 0.1 * g;
      sqr = 0.99 * sqr + 0.01 * g * g;
      p -= (0.1 * (avg / (1 - 0.9 ** t))) / (Math.sqrt(sqr / (1 - 0.99 ** t)) + 1e-5);
      trace.push(p);
    }
    return trace;
  });
  for (let t = 0; t < 3; t++) assertClose(ws[t], expected.map((e) => e[t]), 1e-5, `step ${t + 1}`);
  opt.dispose();
  w.dispose();
});

test("weight decay: decoupled shrinks the weights, L2 adds wd·p to the gradient (SGD with momentum, by hand)", async () => {
  await initBackend("cpu");
  const c = [3, 1]; // gradient of the loss, constant
  const run = (decoupleWd: boolean) => {
    const w = tf.variable(tf.tensor1d([1, -2]));
    const opt = new SGDOptim([w], 0.5, { mom: 0.9, wd: 0.1, decoupleWd });
    const ws = steps(opt, w, dotWith(w, c), 2);
    opt.dispose();
    w.dispose();
    return ws;
  };
  // Decoupled: w ← w·(1 − 0.5·0.1), then the momentum step. Step 1: [0.95,-1.9] − 0.5·[3,1] = [-0.55,-2.4].
  // Step 2: [-0.5225,-2.28] − 0.5·(0.9·[3,1] + [3,1]) = [-3.3725,-3.23].
  const dec = run(true);
  assertClose(dec[0], [-0.55, -2.4], 1e-6, "decoupled step 1");
  assertClose(dec[1], [-3.3725, -3.23], 1e-6, "decoupled step 2");
  // L2: g = c + 0.1·w. Step 1: g = [3.1,0.8], w = [-0.55,-2.4]. Step 2: g = [2.945,0.76],
  // avg = 0.9·[3.1,0.8] + g = [5.735,1.48], w = [-3.4175,-3.14].
  const l2 = run(false);
  assertClose(l2[0], [-0.55, -2.4], 1e-6, "L2 step 1");
  assertClose(l2[1], [-3.4175, -3.14], 1e-6, "L2 step 2");
});

test("Adam's decoupled weight decay: p·(1 − lr·wd) before the step", async () => {
  await initBackend("cpu");
  const w = tf.variable(tf.tensor1d([2, -1]));
  const opt = new AdamOptim([w], 0.01, { wd: 0.5 });
  const [w1] = steps(opt, w, dotWith(w, [4, -0.5]), 1);
  // The first Adam step moves each weight by lr·g/(|g| + eps) ≈ lr·sign(g).
  assertClose(w1, [2 * (1 - 0.005) - 0.01 * 4 / 4.00001, -1 * (1 - 0.005) + 0.01 * 0.5 / 0.50001], 1e-6);
  opt.dispose();
  w.dispose();
});

test("SGD: the default factory steps exactly as BasicOptim, and has no momentum to schedule", async () => {
  await initBackend("cpu");
  const a = tf.variable(tf.tensor1d([0.3, -1.7, 2.2]));
  const b = tf.variable(tf.tensor1d([0.3, -1.7, 2.2]));
  const plain = SGD([a], 0.37);
  assert.equal(plain.mom, undefined);
  assert.equal(plain.wd, 0);
  const wa = steps(plain, a, halfSumSquares(a), 3);
  const wb = steps(new BasicOptim([b], 0.37), b, halfSumSquares(b), 3);
  assert.deepEqual(wa, wb, "bit-identical");
  assert.equal(sgd({ mom: 0.9 })([a], 0.1).mom, 0.9);
  assert.throws(() => sgd({ mom: 1.5 })([a], 0.1), /mom must be between 0 and 1; got 1.5/);
  tf.dispose([a, b]);
});

test("Adam gives the same steps on wasm as on cpu", async () => {
  await assertSameOnBackends("Adam, 3 steps", () => {
    const w = tf.variable(tf.tensor2d([[0.5, -1.5, 3], [2, 0.25, -0.75]]));
    const opt = adam({ wd: 0.1 })([w], 0.05);
    const ws = steps(opt, w, halfSumSquares(w), 3);
    opt.dispose?.();
    w.dispose();
    return ws.flat();
  });
});
