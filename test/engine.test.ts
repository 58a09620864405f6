// The engine must not change results: each of its kernels and gradients is checked against TensorFlow.js's
// own ops on `cpu`, and a few seeded training steps must give the same losses on every backend present.
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import { assertSameOnBackends, maxRelDiff, skipUnlessWebgpu, slow } from "./helpers";
import { initBackend } from "../lib/src/engine/backend";
import { conv2dFilterGrad, conv2dInputGrad } from "../lib/src/engine/gradients";
import { isOverridden, originalKernel, overrideKernel, restoreOverrides, stockKernel } from "../lib/src/engine/registry";
import { BatchNorm1d, BatchNorm2d, Conv2d, GlobalAvgPool, Linear, ReLU, Reshape, Sequential, type Module } from "../lib/src/nn";
import { BasicOptim, backward } from "../lib/src/optim";
import { binaryCrossEntropy, mnistLoss } from "../lib/src/losses";
import { loadBlas, usingBlas } from "../lib/src/engine/blas";
import { restoreStockSaves, useLeanSavesOnWasm } from "../lib/src/engine/tape";
import { restoreStockDispatch, useLeanDispatchOnWasm } from "../lib/src/engine/dispatch";
import { restoreStockBackprop, useLeanBackpropOnWasm } from "../lib/src/engine/backprop";
import { fastPaths } from "../lib/src/fast-paths";

const CONV_CASES = [[1, "same", 7], [2, "same", 7], [2, "same", 8], [1, "valid", 6], [2, "valid", 7], [2, "same", 28]] as const;

test("conv2dInputGrad and conv2dFilterGrad equal TensorFlow.js's conv2d gradients (cpu)", async () => {
  await initBackend("cpu");
  for (const [stride, mode, size] of CONV_CASES) {
    const x = tf.randomNormal([2, size, size, 3], 0, 1, "float32", 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 2) as tf.Tensor4D;
    const y = tf.conv2d(x, w, stride, mode);
    const dy = tf.randomNormal(y.shape, 0, 1, "float32", 3) as tf.Tensor4D;
    // The reference: gradients of sum(conv2d · dy), whose output gradient is dy.
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, mode), dy)))([x, w]);
    assert.ok(maxRelDiff(conv2dInputGrad(dy, w, x.shape, stride, mode), gx) < 1e-5, `input grad, stride ${stride} ${mode} ${size}px`);
    assert.ok(maxRelDiff(conv2dFilterGrad(x, dy, 3, stride, mode), gw) < 1e-5, `filter grad, stride ${stride} ${mode} ${size}px`);
  }
});

test("on wasm, conv2d trains (its missing filter-gradient kernel is replaced) with cpu's gradients", async () => {
  for (const [stride, mode, size] of CONV_CASES) {
    await assertSameOnBackends(`conv2d gradients, stride ${stride} ${mode} ${size}px`, () => {
      const x = tf.randomNormal([2, size, size, 3], 0, 1, "float32", 1) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 2) as tf.Tensor4D;
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, mode))))([x, w]);
    }, { tol: 1e-4 });
  }
});

test("on webgpu, conv2d's gradients equal cpu's", async (t) => {
  const skip = await skipUnlessWebgpu();
  if (skip) return t.skip(skip);
  for (const [stride, mode, size] of CONV_CASES) {
    await assertSameOnBackends(`conv2d gradients on webgpu, stride ${stride} ${mode} ${size}px`, () => {
      const x = tf.randomNormal([2, size, size, 3], 0, 1, "float32", 1) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 2) as tf.Tensor4D;
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, mode))))([x, w]);
    }, { backends: ["cpu", "webgpu"], tol: 1e-4 });
  }});

test("tf.gather along rows (the shuffled mini-batch) gives cpu's values on wasm, for every dtype, and rejects bad rows", async () => {
  const rows = [9, 0, 3, 3, 7];
  await assertSameOnBackends("gather rows", () => {
    const x = tf.randomNormal([10, 3, 2], 0, 1, "float32", 4);
    const labels = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "int32");
    const flags = tf.tensor1d([1, 0, 1, 1, 0, 0, 1, 0, 1, 1], "bool");
    const idx = tf.tensor1d(rows, "int32");
    return [tf.gather(x, idx), tf.gather(labels, idx), tf.gather(flags, idx), tf.gather(x, tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32")), tf.gather(x, [1, 0], 1)];
  }, { tol: 0 });
  await initBackend("wasm");
  assert.ok(isOverridden("GatherV2", "wasm"));
  const g = tf.gather(tf.tensor1d([5, 6, 7], "int32"), tf.tensor1d([2, 0], "int32"));
  assert.equal(g.dtype, "int32");
  assert.deepEqual(g.arraySync(), [7, 5]);
  assert.throws(() => tf.gather(tf.zeros([10, 3]), [10]), /index value 10 is not in \[0, 9\]/);
});

test("tf.gather's rows copied side by side on wasm: every row size and count, bit for bit as on cpu", async () => {
  // Row sizes: below one 64-byte chunk, chunks with a tail, 784 floats (a digit), groups of 4 from 4 KB and one
  // row at a time from 16 KB; counts below, at and between groups of 8; one-word rows (labels) and bool rows.
  const cases: [number[], number[]][] = [
    [[3], [1, 7, 8, 9, 19, 64]], [[10], [1, 7, 8, 9, 19, 64]], [[20], [1, 7, 8, 9, 19, 64]], [[16], [8, 9, 64]],
    [[784], [1, 7, 8, 9, 19, 64]], [[7, 4], [9, 19]], [[1500], [3, 4, 9, 19]], [[5000], [1, 9]],
  ];
  for (const [rowShape, counts] of cases) {
    await assertSameOnBackends(`gathered rows of ${rowShape.join("x")}`, () => {
      const n = 37;
      const x = tf.randomNormal([n, ...rowShape], 0, 1, "float32", rowShape[0]!);
      return counts.map((count) => tf.gather(x, tf.tensor1d(Int32Array.from({ length: count }, (_, i) => (i * 17 + count) % n), "int32")));
    }, { tol: 0 });
  }
  await assertSameOnBackends("gathered labels and flags", () => {
    const idx = tf.tensor1d(Int32Array.from({ length: 19 }, (_, i) => (i * 5) % 11), "int32");
    return [
      tf.gather(tf.range(0, 11, 1, "int32"), idx), tf.gather(tf.range(0, 11).reshape([11, 1]), idx),
      tf.gather(tf.tensor2d(Array.from({ length: 88 }, (_, i) => (i * 7) % 3 === 0), [11, 8], "bool"), idx).cast("int32"),
    ];
  }, { tol: 0 });
  await initBackend("wasm");
  const x = tf.zeros([12, 784]);
  for (const bad of [-1, 12, 2 ** 31 - 1]) {
    const rows = Int32Array.from({ length: 20 }, (_, i) => i % 12);
    rows[13] = bad;
    const before = tf.memory().numTensors;
    assert.throws(() => tf.gather(x, tf.tensor1d(rows, "int32")), new RegExp(`index value ${bad} is not in \\[0, 11\\]`));
    assert.equal(tf.memory().numTensors, before + 1, "only the index tensor is left: no output was made");
  }
});

test("tf.slice on wasm (one copy per run of kept rows) gives cpu's values: crops, every rank and dtype, -1 and empty sizes", async () => {
  await assertSameOnBackends("slices", () => {
    const x4 = tf.randomNormal([2, 9, 9, 1], 0, 1, "float32", 7), x3 = tf.randomNormal([4, 5, 6], 0, 1, "float32", 8);
    const x5 = tf.randomNormal([2, 3, 4, 5, 2], 0, 1, "float32", 9);
    const ints = tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [3, 3], "int32"), flags = tf.tensor1d([1, 0, 1, 1, 0], "bool");
    return [
      tf.slice(x4, [0, 1, 2, 0], [2, 6, 5, 1]), // a U-Net's crop
      tf.slice(x3, [1, 0, 2], [2, 5, 3]), tf.slice(x3, [1, 0, 0], [2, -1, -1]), tf.slice(x3, [0, 2, 1], [4, 1, 5]),
      tf.slice(x5, [1, 1, 0, 2, 0], [1, 2, 4, 3, 2]), tf.slice(x5, [0, 0, 1, 0, 1], [2, 3, 2, 5, 1]),
      tf.slice(ints, [1, 1], [2, 2]), tf.slice(flags, [1], [3]), tf.slice(x3, [2, 0, 0], [0, 5, 6]),
    ];
  }, { tol: 0 });
  await initBackend("wasm");
  assert.ok(isOverridden("Slice", "wasm"));
  assert.throws(() => tf.slice(tf.zeros([2, 3]), [1, 1], [2, 2]), /begin\[0\] \+ size\[0\] \(3\) would overflow input.shape\[0\] \(2\)/);
});

test("relu's gradient on wasm (one kernel) equals cpu's dy·step(x): zeros, NaN in x or dy, infinities, odd lengths", async () => {
  const xs = [-2, -0, 0, 1e-30, 3, NaN, -Infinity, Infinity, 0.5, -1, 2];
  const dys = [1, 2, 3, 4, -5, 6, Infinity, NaN, NaN, -Infinity, 0.25];
  const grads: Record<string, number[][]> = {};
  for (const backend of ["cpu", "wasm"]) {
    await initBackend(backend);
    grads[backend] = tf.tidy(() => {
      const f = (x: tf.Tensor) => tf.relu(x).mul(tf.tensor1d(dys)).sum();
      const big = tf.randomNormal([3, 37, 5], 0, 1, "float32", 12); // not a multiple of four values
      return [tf.grad(f)(tf.tensor1d(xs)), tf.grad((x: tf.Tensor) => tf.relu(x).square().sum())(big)].map((t) => Array.from(t.dataSync()));
    });
  }
  const same = (a: number, b: number) => (Number.isNaN(a) && Number.isNaN(b)) || a === b;
  grads.cpu!.forEach((ref, k) => ref.forEach((v, i) => assert.ok(same(grads.wasm![k]![i]!, v), `case ${k} [${i}]: wasm ${grads.wasm![k]![i]}, cpu ${v}`)));
  assert.ok(isOverridden("FastbookReluGrad", "wasm"));
});

test("add, sub and mul on wasm (one SIMD pass) equal cpu's: equal shapes, scalars and rows on either side, NaN, infinities, odd lengths", async () => {
  const special = [0, -0, 1, -2.5, 3e38, -3e38, 1e-40, NaN, Infinity, -Infinity, 7, 0.1, -0.3];
  const shapes: [number[], number[]][] = [
    [[13], [13]], [[3, 37, 5], [3, 37, 5]], [[256, 10], [10]], [[10], [256, 10]], [[7, 3], [1, 3]], [[2, 4, 6], [4, 6]],
    [[4, 6], [2, 4, 6]], [[5, 9], []], [[], [5, 9]], [[5, 9], [1, 1]], [[1], [6]], [[0, 4], [4]], [[3, 1], [1, 3]],
  ];
  const results: Record<string, number[][]> = {};
  for (const backend of ["cpu", "wasm"]) {
    await initBackend(backend);
    results[backend] = tf.tidy(() => shapes.flatMap(([sa, sb], k) => {
      const fill = (shape: number[], seed: number) => {
        const n = shape.reduce((p, d) => p * d, 1);
        return tf.tensor(Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? special[(i + seed) % special.length]! : Math.sin(i * 7 + seed) * 100)), shape);
      };
      const [a, b] = [fill(sa, k), fill(sb, k + 5)];
      return [tf.add(a, b), tf.sub(a, b), tf.mul(a, b), tf.sub(b, a)].map((t) => [...t.shape, -1, ...Array.from(t.dataSync())]);
    }));
  }
  const same = (a: number, b: number) => (Number.isNaN(a) && Number.isNaN(b)) || Object.is(a, b);
  results.cpu!.forEach((ref, k) => {
    assert.equal(results.wasm![k]!.length, ref.length, `case ${k}: shapes`);
    ref.forEach((v, i) => assert.ok(same(results.wasm![k]![i]!, v), `case ${k} [${i}]: wasm ${results.wasm![k]![i]}, cpu ${v}`));
  });
  // The kernel is the one in force, and leaves int32 to the original.
  await initBackend("wasm");
  assert.ok(isOverridden("Sub", "wasm"));
  assert.deepEqual(Array.from(tf.sub(tf.tensor1d([5, 7], "int32"), tf.tensor1d([2, 9], "int32")).dataSync()), [3, -2]);
});

/** Losses of a few seeded SGD steps, as the notebooks train. */
function seededLosses(make: () => Module, loss: typeof mnistLoss, lr: number): number[] {
  const x = tf.randomUniform([64, 784], 0, 1, "float32", 5);
  const y = tf.randomUniform([64, 1], 0, 1, "float32", 6).round();
  const model = make();
  const opt = new BasicOptim(model.parameters(), lr);
  const losses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const l = backward(() => loss(model.forward(x), y), opt.params, opt.grads);
    losses.push(l.dataSync()[0]);
    l.dispose();
    opt.step();
    opt.zeroGrad();
  }
  tf.dispose(model.parameters());
  return losses;
}

const MODELS: [string, () => Module, typeof mnistLoss, number][] = [
  ["linear", () => new Linear(784, 1, { seed: 1 }), mnistLoss, 1.0],
  ["simple net", () => new Sequential(new Linear(784, 30, { seed: 2 }), new ReLU(), new Linear(30, 1, { seed: 3 })), mnistLoss, 0.1],
  ["cnn", () => new Sequential(new Reshape([28, 28, 1]), new Conv2d(1, 8, 3, { stride: 2, seed: 4 }), new ReLU(),
    new Conv2d(8, 16, 3, { stride: 2, seed: 5 }), new ReLU(), new GlobalAvgPool(), new Linear(16, 1, { seed: 6 })), binaryCrossEntropy, 0.5],
];

for (const [name, make, loss, lr] of MODELS) {
  test(`${name}: four seeded SGD steps give the same losses on wasm as on cpu`, name === "cnn" ? slow : {}, async () => {
    const [cpu] = await assertSameOnBackends(`${name} losses`, () => seededLosses(make, loss, lr), { tol: 1e-4 });
    assert.ok(cpu[3] < cpu[0], `the loss falls: ${cpu}`);
  });
  test(`${name}: four seeded SGD steps give the same losses on webgpu as on cpu`, async (t) => {
    const skip = await skipUnlessWebgpu();
    if (skip) return t.skip(skip);
    await assertSameOnBackends(`${name} losses on webgpu`, () => seededLosses(make, loss, lr), { backends: ["cpu", "webgpu"], tol: 1e-4 });
  });
}

test("sums over leading axes on wasm (a bias gradient) equal a float64 sum: few columns by loop, more by sgemm, NaN and infinities, empty", async () => {
  // [shape, axes]: 4-16 columns go through the per-channel sum loop (rows not a multiple of 4 or of its 256-row
  // blocks), 3, 30 and 32 columns through sgemm, inner axes through TensorFlow.js's kernel.
  const cases: [number[], number[]][] = [
    [[7, 5, 5, 8], [0, 1, 2]], [[1031, 4], [0]], [[3, 16], [0]], [[2, 3, 12], [0, 1]], [[515, 30], [0]], [[65, 32], [0]],
    [[9, 3], [0]], [[4, 6, 8], [1]], [[0, 8], [0]], [[5, 0], [0]], [[64, 8], [-2]],
  ];
  await initBackend("wasm");
  assert.ok(usingBlas(), "OpenBLAS is behind wasm's products here");
  for (const [shape, axes] of cases) {
    const n = shape.reduce((p, d) => p * d, 1);
    // Values around 1000 with small parts: a float32 running sum over a thousand rows would lose the small parts.
    const values = Float32Array.from({ length: n }, (_, i) => 1000 + Math.sin(i * 1.7) * 0.01 * (i % 13));
    const x = tf.tensor(values, shape);
    for (const keepDims of [false, true]) {
      const got = tf.sum(x, axes, keepDims);
      const k = axes.map((a) => (a < 0 ? a + shape.length : a));
      const outShape = shape.map((d, i) => (k.includes(i) ? 1 : d));
      assert.deepEqual(got.shape, keepDims ? outShape : shape.filter((_, i) => !k.includes(i)), `[${shape}] over [${axes}] keepDims ${keepDims}: shape`);
      // float64 reference: every output element sums the inputs that share its kept coordinates.
      const expect = new Float64Array(got.size);
      const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
      const outStrides = outShape.map((_, i) => outShape.slice(i + 1).reduce((p, d) => p * d, 1));
      for (let i = 0; i < n; i++) {
        let o = 0;
        shape.forEach((_, a) => { if (!k.includes(a)) o += (Math.floor(i / strides[a]!) % shape[a]!) * outStrides[a]!; });
        expect[o] += values[i]!;
      }
      const g = got.dataSync();
      expect.forEach((e, i) => assert.ok(Math.abs(g[i]! - e) <= 1e-6 * Math.max(1, Math.abs(e)), `[${shape}] over [${axes}] [${i}]: ${g[i]} against ${e}`));
      got.dispose();
    }
    x.dispose();
  }
  // NaN and infinities reach their own column only.
  const special = tf.tensor2d([[1, NaN, 2, 3], [Infinity, 1, 2, 3], [1, 1, -Infinity, 3], [1, 1, 2, 3], [1, 1, 2, 3]]);
  assert.deepEqual(Array.from(tf.sum(special, 0).dataSync()), [Infinity, NaN, -Infinity, 15]);
  special.dispose();
});

test("on wasm, the tape's saved tensors share data without an Identity kernel each: same gradients, second order too, nothing leaks", async () => {
  await initBackend("wasm");
  const model = new Sequential(new Linear(20, 8, { seed: 11 }), new ReLU(), new Linear(8, 1, { seed: 12 }));
  const x = tf.randomNormal([16, 20], 0, 1, "float32", 13), y = tf.randomUniform([16, 1], 0, 1, "float32", 14).round();
  const params = model.parameters();
  const grads = () => {
    const { value, grads } = tf.variableGrads(() => mnistLoss(model.forward(x), y) as tf.Scalar, params);
    const out = [value, ...params.map((p) => grads[p.name]!)].map((t) => Array.from(t.dataSync()));
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  grads(); // the first call makes the engine's one-off tensors
  const before = tf.memory().numTensors;
  const profile = await tf.profile(() => { grads(); });
  assert.equal(tf.memory().numTensors, before, "tensors left behind by a gradient");
  assert.equal(profile.kernels.filter((k) => k.name === "Identity").length, 0, "Identity kernels in a first-order gradient");
  const lean = grads();
  restoreStockSaves();
  try {
    const stock = grads();
    assert.deepEqual(lean, stock); // the same arithmetic: equal to the last bit
    const kernels = (await tf.profile(() => { grads(); })).kernels.filter((k) => k.name === "Identity").length;
    assert.ok(kernels > 0, "TensorFlow.js's own saves clone through Identity");
  } finally {
    useLeanSavesOnWasm();
  }
  // A gradient of a gradient keeps TensorFlow.js's clones: d²/dx² of Σx³ is 6x.
  const xs = tf.tensor1d([-2, 0.5, 3]);
  const second = tf.grad((v: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.pow(u, 3)))(v).sum())(xs);
  assert.deepEqual(Array.from(second.dataSync()), [-12, 3, 18]);
  tf.dispose([x, y, xs, second, ...params]);
});

test("the short dispatch on wasm: the same values and gradients as TensorFlow.js's runKernel, second order too; it restores the kernel depth after a throw, and tf.profile still lists kernels", async () => {
  await initBackend("wasm");
  const engine = tf.engine() as unknown as { runKernel: unknown; state: { kernelDepth: number } };
  assert.notEqual(engine.runKernel, Object.getPrototypeOf(engine).runKernel, "the short dispatch is in force");
  const model = new Sequential(new Linear(20, 8, { seed: 31 }), new ReLU(), new Linear(8, 3, { seed: 32 }));
  const x = tf.randomNormal([16, 20], 0, 1, "float32", 33), y = tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3), "int32");
  const params = model.parameters();
  const run = () => {
    // Beside the network's kernels: one with several outputs (Split), one whose gradient saves all its inputs
    // (Concat) and one whose gradient saves its output (Exp).
    const { value, grads } = tf.variableGrads(() => {
      const [left, right] = tf.split(tf.concat([model.forward(x), tf.exp(model.forward(x))], 1), 2, 1);
      return tf.add(tf.losses.softmaxCrossEntropy(tf.oneHot(y, 3), left!), tf.mean(right!)) as tf.Scalar;
    }, params);
    const xs = tf.tensor1d([-2, 0.5, 3]);
    const second = tf.grad((v: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.sin(u), tf.square(u))))(v).sum())(xs);
    const out = [value, second, ...params.map((p) => grads[p.name]!)].map((t) => Array.from(t.dataSync()));
    tf.dispose([value, xs, second, ...Object.values(grads)]);
    return out;
  };
  run(); // the engine's one-off tensors
  const before = tf.memory().numTensors;
  const short = run();
  assert.equal(tf.memory().numTensors, before, "tensors left behind");
  restoreStockDispatch();
  try {
    assert.deepEqual(short, run()); // the same kernels in the same order: equal to the last bit
  } finally {
    useLeanDispatchOnWasm();
  }
  // A kernel that throws (an index out of range) leaves the depth at 0: the ops after it are on the tape.
  const v = tf.variable(tf.tensor1d([1, 2, 3]));
  const { grads } = tf.variableGrads(() => {
    assert.throws(() => tf.gather(v, tf.tensor1d([5], "int32")), /index value 5/);
    return tf.sum(tf.square(v)) as tf.Scalar;
  }, [v]);
  assert.equal(engine.state.kernelDepth, 0);
  assert.deepEqual(Array.from(grads[v.name]!.dataSync()), [2, 4, 6]);
  // Profiling takes TensorFlow.js's own runKernel, which records each kernel.
  const profile = await tf.profile(() => tf.tidy(() => { tf.add(tf.mul(v, 2), 1); }));
  assert.deepEqual(profile.kernels.map((k) => k.name), ["Multiply", "Add"]);
  tf.dispose([x, y, v, ...Object.values(grads), ...params]);
});

test("the backward pass on wasm: TensorFlow.js's gradients to the last bit (shared inputs, unused outputs, a given dy, second order), its errors, nothing left behind", async () => {
  await initBackend("wasm");
  const engine = tf.engine() as unknown as { gradients: unknown };
  assert.notEqual(engine.gradients, Object.getPrototypeOf(engine).gradients, "the lean backward pass is in force");
  const model = new Sequential(new Linear(12, 6, { seed: 41 }), new ReLU(), new Linear(6, 4, { seed: 42 }));
  const x = tf.randomNormal([9, 12], 0, 1, "float32", 43);
  const params = model.parameters();
  const run = () => {
    // x·W is used twice (its gradients add up), Split's second output is unused (a zero dy), and a tensor made
    // inside (the constant) is not a function of the parameters.
    const { value, grads } = tf.variableGrads(() => {
      const h = model.forward(x);
      const [left] = tf.split(tf.add(h, tf.mul(h, tf.scalar(3))), 2, 1);
      return tf.sum(tf.mul(left!, tf.sigmoid(h.slice([0, 0], [9, 2])))) as tf.Scalar;
    }, params);
    const at = tf.tensor1d([0, 1, -1]), dy = tf.tensor1d([0.5, -2, 1]);
    const given = tf.grad((v: tf.Tensor) => tf.exp(v))(at, dy);
    const xs = tf.tensor1d([-2, 0.5, 3]);
    const second = tf.grad((v: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.sin(u), tf.square(u))))(v).sum())(xs);
    const out = [value, given, second, ...params.map((p) => grads[p.name]!)].map((t) => Array.from(t.dataSync()));
    tf.dispose([value, at, dy, given, xs, second, ...Object.values(grads)]);
    return out;
  };
  run(); // the engine's one-off tensors
  const before = tf.memory().numTensors;
  const lean = run();
  assert.equal(tf.memory().numTensors, before, "tensors left behind");
  const errors = () => [
    () => tf.grad(() => tf.scalar(1))(tf.scalar(2)), // y is not a function of x
    () => tf.grad((v: tf.Tensor) => tf.sum(v))(tf.tensor1d([1, 2]), tf.tensor1d([1, 2], "int32")), // an int dy
    () => tf.grads((v: tf.Tensor) => tf.sum(v))([]),
  ].map((f) => { try { f(); return "no error"; } catch (e) { return (e as Error).message; } });
  const leanErrors = errors();
  restoreStockBackprop();
  try {
    assert.deepEqual(lean, run());
    assert.deepEqual(leanErrors, errors());
  } finally {
    useLeanBackpropOnWasm();
  }
  assert.match(leanErrors[0]!, /Cannot compute gradient of y=f\(x\) with respect to x/);
  tf.dispose([x, ...params]);
});

test("Linear's one-kernel forward on wasm gives matMul + add's values and gradients, to the last bit, and cpu's within rounding", async () => {
  const run = () => tf.tidy(() => {
    const lin = new Linear(50, 7, { seed: 21 });
    lin.bias.assign(tf.randomNormal([7], 0, 1, "float32", 22));
    const x = tf.randomNormal([33, 50], 0, 1, "float32", 23);
    const f = (v: tf.Tensor) => tf.sum(tf.square(lin.forward(v)));
    const { value, grads } = tf.variableGrads(() => f(x) as tf.Scalar, lin.parameters());
    const dx = tf.grad(f)(x); // a layer after another one needs its input's gradient too
    const out = [lin.forward(x), value, grads[lin.weight.name]!, grads[lin.bias.name]!, dx].map((t) => Array.from(t.dataSync()));
    tf.dispose(lin.parameters());
    return out;
  });
  await initBackend("wasm");
  assert.ok(usingBlas() && fastPaths.linear, "the fast path is in force");
  const fast = run();
  const saved = fastPaths.linear;
  fastPaths.linear = undefined;
  let plain: number[][];
  try { plain = run(); } finally { fastPaths.linear = saved; }
  assert.deepEqual(fast, plain);
  await initBackend("cpu");
  const cpu = run();
  const relDiff = (a: number[], b: number[]) => maxRelDiff(tf.tensor(a), tf.tensor(b));
  cpu.forEach((ref, k) => assert.ok(relDiff(fast[k]!, ref) < 1e-5, `output ${k}: ${relDiff(fast[k]!, ref)}`));
  await initBackend("wasm");
});

test("the reported wasm fused matMul bug (transposeB with bias and relu): does it hit us?", async (t) => {
  const run = async (backend: string) => {
    await initBackend(backend);
    const a = tf.randomNormal([8, 5], 0, 1, "float32", 7) as tf.Tensor2D;
    const b = tf.randomNormal([3, 5], 0, 1, "float32", 8) as tf.Tensor2D;
    const bias = tf.randomNormal([3], 0, 1, "float32", 9);
    const fused = tf.fused.matMul({ a, b, transposeB: true, bias, activation: "relu" }).arraySync();
    const lin = new Linear(5, 3);
    lin.weight.assign(tf.transpose(b));
    lin.bias.assign(bias);
    return { fused, ours: tf.relu(lin.forward(a)).arraySync() };
  };
  const cpu = await run("cpu"), wasm = await run("wasm");
  const fusedOk = maxRelDiff(tf.tensor(wasm.fused), tf.tensor(cpu.fused)) < 1e-5;
  t.diagnostic(`tf.fused.matMul(transposeB, bias, relu) on wasm ${fusedOk ? "matches" : "DIFFERS FROM"} cpu` +
    (usingBlas() ? " (OpenBLAS does the fused kernel here)" : " (wasm's own fused kernel)"));
  // With OpenBLAS our fused kernel replaces the faulty one; without it the bug is there, and harmless to
  // the library, which never calls fused matMul: its layers compute matMul, then add, then relu.
  if (loadBlas()) assert.ok(fusedOk, "the fused kernel through OpenBLAS gives cpu's values");
  assert.ok(maxRelDiff(tf.tensor(wasm.ours), tf.tensor(cpu.ours)) < 1e-5, "Linear + ReLU on wasm equals cpu");
  assert.ok(maxRelDiff(tf.tensor(cpu.ours), tf.tensor(cpu.fused)) < 1e-5, "and equals the fused op on cpu");
});

test("on wasm, tf.clone shares the data instead of copying it, and nothing leaks", async () => {
  await initBackend("wasm");
  const before = tf.memory().numBytes;
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const ids = backend.numDataIds();
  const a = tf.tensor1d([1, 2, 3]);
  const b = a.clone();
  assert.equal(backend.numDataIds(), ids + 1, "one buffer for both");
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3], "the clone outlives the original");
  b.dispose();
  assert.equal(backend.numDataIds(), ids);
  assert.equal(tf.memory().numBytes, before);
});

test("without OpenBLAS (FASTBOOK_BLAS=off), wasm still trains a CNN to cpu's losses through the replaced conv gradients", slow, async () => {
  // A fresh process, since OpenBLAS is chosen once per process.
  const code = `const { tf, initBackend, Sequential, Reshape, Conv2d, ReLU, GlobalAvgPool, Linear, BasicOptim, backward, binaryCrossEntropy } = require("./lib/src/index.ts");
    const { usingBlas } = require("./lib/src/engine/index.ts");
    (async () => {
      await initBackend(process.env.BACKEND);
      const x = tf.randomUniform([16, 784], 0, 1, "float32", 5), y = tf.randomUniform([16, 1], 0, 1, "float32", 6).round();
      const m = new Sequential(new Reshape([28, 28, 1]), new Conv2d(1, 4, 3, { stride: 2, seed: 4 }), new ReLU(), new Conv2d(4, 8, 3, { stride: 2, seed: 5 }), new ReLU(), new GlobalAvgPool(), new Linear(8, 1, { seed: 6 }));
      const opt = new BasicOptim(m.parameters(), 0.5), losses = [];
      for (let i = 0; i < 3; i++) { const l = backward(() => binaryCrossEntropy(m.forward(x), y), opt.params, opt.grads); losses.push(l.dataSync()[0]); l.dispose(); opt.step(); opt.zeroGrad(); }
      console.log(JSON.stringify({ losses, blas: usingBlas() }));
    })();`;
  const run = (backend: string) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { env: { ...process.env, FASTBOOK_BLAS: "off", BACKEND: backend }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { losses: number[]; blas: boolean };
  };
  const cpu = run("cpu"), wasm = run("wasm");
  assert.equal(wasm.blas, false, "OpenBLAS is off");
  cpu.losses.forEach((l, i) => assert.ok(Math.abs(l - wasm.losses[i]) <= 1e-4 * Math.max(1, Math.abs(l)), `step ${i}: cpu ${l}, wasm ${wasm.losses[i]}`));
});

test("the registry: overriding twice wraps the original, and restoreOverrides brings TensorFlow.js's kernels back", async () => {
  await initBackend("wasm");
  const stock = stockKernel("Neg", "wasm")!;
  const base = originalKernel("Neg", "wasm")!; // the cpu-fallback layer around the stock kernel
  assert.notEqual(base.kernelFunc, stock.kernelFunc);
  const calls: string[] = [];
  overrideKernel("Neg", "wasm", (args) => { calls.push("first"); return base.kernelFunc(args) as tf.TensorInfo; });
  overrideKernel("Neg", "wasm", (args) => { calls.push("second"); return originalKernel("Neg", "wasm")!.kernelFunc(args) as tf.TensorInfo; });
  assert.deepEqual(tf.neg(tf.tensor1d([1, -2])).arraySync(), [-1, 2]);
  assert.deepEqual(calls, ["second"], "the second override replaced the first and called the base layer");
  assert.equal(originalKernel("Neg", "wasm"), base);
  restoreOverrides();
  assert.equal(isOverridden("GatherV2", "wasm"), false);
  assert.equal(tf.getKernel("Neg", "wasm")!.kernelFunc, stock.kernelFunc);
  assert.equal(usingBlas(), false, "OpenBLAS kernels are gone with the rest");
  assert.deepEqual(tf.gather(tf.tensor1d([4, 5, 6]), [2, 0]).arraySync(), [6, 4], "the stock kernels work");
  assert.ok(Math.abs(mnistLoss(tf.tensor1d([0]), tf.tensor1d([1])).dataSync()[0] - 0.5) < 1e-6, "losses fall back to the plain formula");
  await initBackend("wasm"); // installs everything again
  assert.ok(isOverridden("GatherV2", "wasm"));
  assert.equal(usingBlas(), Boolean(loadBlas()));
  assert.deepEqual(tf.math.confusionMatrix(tf.tensor1d([0, 1, 1], "int32"), tf.tensor1d([0, 1, 0], "int32"), 2).arraySync(),
    [[1, 0], [1, 1]], "integer matMul works again through the base layer under OpenBLAS's kernel");
});

test("mean over middle axes on wasm (GlobalAvgPool, one pass) equals cpu's, its gradient to the last bit; other means keep the original", async () => {
  // [shape, axes, keepDims]: the first four take the new kernels; the others (inner size not a multiple of 4,
  // the last axis, an empty batch, int32) the original ones.
  const cases: [number[], number[], boolean, "float32" | "int32"][] = [
    [[256, 2, 2, 32], [1, 2], false, "float32"], [[3, 5, 7, 8], [1, 2], true, "float32"], [[4, 6, 12], [0, 1], false, "float32"],
    [[2, 3, 4, 4], [-3, -2], false, "float32"], [[4, 6, 5], [1], false, "float32"], [[4, 6, 8], [2], false, "float32"],
    [[0, 3, 3, 4], [1, 2], false, "float32"], [[2, 3, 4], [1], false, "int32"],
  ];
  const results: Record<string, { y: tf.Tensor; g: number[] }[]> = {};
  for (const backend of ["cpu", "wasm"]) {
    await initBackend(backend);
    results[backend] = cases.map(([shape, axes, keepDims, dtype], i) => {
      const x = tf.tidy(() => tf.randomNormal(shape, 0, 3, "float32", i + 1).toInt().cast(dtype).add(tf.randomNormal(shape, 0, 1, "float32", i + 9).cast(dtype)));
      const y = tf.mean(x, axes, keepDims);
      const dy = tf.randomNormal(y.shape, 0, 1, "float32", i + 50);
      const g = dtype === "float32" ? Array.from(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mean(t, axes, keepDims), dy)))(x).dataSync()) : [];
      return { y: tf.tensor(Array.from(y.dataSync()), y.shape, y.dtype), g };
    });
  }
  cases.forEach(([shape, axes, keepDims, dtype], i) => {
    const what = `mean of ${dtype} [${shape}] over [${axes}]${keepDims ? " keepDims" : ""}`;
    const [c, w] = [results.cpu![i]!, results.wasm![i]!];
    assert.deepEqual(w.y.shape, c.y.shape, `${what}: shape`);
    assert.equal(w.y.dtype, c.y.dtype, `${what}: dtype`);
    if (c.y.size) assert.ok(maxRelDiff(w.y, c.y) < 1e-6, `${what}: values`);
    assert.deepEqual(w.g, c.g, `${what}: gradient`);
  });
  assert.ok(isOverridden("Mean", "wasm"), "the mean kernel is in force on wasm");
});

test("max-pool's gradient on wasm (one pass over the output) equals cpu's: padding, strides, ties, windows of padding", async () => {
  // [x shape, filter, stride, pad]
  const cases: [[number, number, number, number], number, number, "same" | "valid" | number][] = [
    [[2, 14, 14, 8], 3, 2, 1], // ResNet's stem pooling
    [[1, 7, 5, 3], 2, 2, 0],
    [[2, 6, 6, 4], 3, 1, "same"],
    [[1, 5, 5, 2], 3, 3, "same"], // windows past the edge
    [[3, 8, 6, 4], 2, 2, "valid"], // a U-Net's 2x2 pooling
  ];
  for (const [shape, k, s, pad] of cases) {
    await assertSameOnBackends(`maxPool grad x=[${shape}] k=${k} s=${s} pad=${pad}`, () => {
      // Rounded values make ties: the first largest value in the window takes the gradient, on both.
      const x = tf.round(tf.randomNormal(shape, 0, 2, "float32", 3)) as tf.Tensor4D;
      const g = tf.randomNormal(tf.maxPool(x, k, s, pad, typeof pad === "number" ? "floor" : undefined).shape, 0, 1, "float32", 4);
      return tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, k, s, pad, typeof pad === "number" ? "floor" : undefined).mul(g).sum())(x);
    });
  }
});

test("BatchNorm's training kernels on wasm give cpu's formula: output, all three gradients, running statistics", async () => {
  // Three channels take the plain formula on wasm too; 1,200 pixels span several of the kernels' blocks of 256.
  for (const shape of [[4, 6, 6, 3], [2, 5, 7, 8], [7, 4], [3, 20, 20, 12]]) {
    await assertSameOnBackends(`BatchNorm training x=[${shape}]`, () => {
      const bn = shape.length === 4 ? new BatchNorm2d(shape.at(-1)!) : new BatchNorm1d(shape.at(-1)!);
      bn.weight.assign(tf.randomNormal([shape.at(-1)!], 1, 0.5, "float32", 5));
      bn.bias.assign(tf.randomNormal([shape.at(-1)!], 0, 0.5, "float32", 6));
      // A large offset checks that the statistics do not lose the variance to rounding.
      const x = tf.add(tf.randomNormal(shape, 0, 2, "float32", 7), 50);
      const g = tf.randomNormal(shape, 0, 1, "float32", 8);
      const y = bn.forward(x);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(bn.forward(x), g)) as tf.Scalar, [bn.weight, bn.bias]);
      const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(bn.forward(t), g)))(x);
      return [y, value, dx, grads[bn.weight.name]!, grads[bn.bias.name]!, bn.runningMean, bn.runningVar];
    }, { tol: 1e-4 });
  }
});

test("tf is TensorFlow.js's namespace: every export the same value; in the built package, frozen plain properties", async () => {
  const tfjs = (await import("@tensorflow/tfjs")) as unknown as Record<string, unknown>;
  const names = Object.keys(tfjs).filter((k) => k !== "default");
  assert.ok(names.length > 400, `only ${names.length} exports`);
  for (const k of names) assert.equal((tf as unknown as Record<string, unknown>)[k], tfjs[k], `tf.${k}`);
  // What notebooks import: lib/dist, compiled by tsc. Each `tf.x` there must be a data property, not a getter.
  const code = `const { tf } = require("fastbook-ts"); const tfjs = require("@tensorflow/tfjs");
    const bad = Object.keys(tfjs).filter((k) => { const d = Object.getOwnPropertyDescriptor(tf, k); return !d || !("value" in d) || d.value !== tfjs[k]; });
    console.log(JSON.stringify({ n: Object.keys(tfjs).length, bad, frozen: Object.isFrozen(tf), tensor: tf.tensor([1, 2]).shape }));`;
  const r = spawnSync(process.execPath, ["-e", code], { cwd: path.resolve(__dirname, ".."), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.ok(out.n > 400);
  assert.deepEqual(out.bad, []);
  assert.equal(out.frozen, true);
  assert.deepEqual(out.tensor, [2]);
});
