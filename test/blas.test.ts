// OpenBLAS behind matMul on wasm (lib/src/engine/blas.ts): every shape the kernel accepts must give cpu's numbers,
// and what it does not take must still work through the original kernel. On this project's machines
// OpenBLAS is installed (.ci/run installs libopenblas0-pthread): there, not finding it is a failure.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { tf } from "../lib/src/tf";
import { assertSameOnBackends, maxRelDiff } from "./helpers";
import { initBackend, describeBackend } from "../lib/src/engine/backend";
import { loadBlas, usingBlas } from "../lib/src/engine/blas";
import { NO_TRANS, ROW_MAJOR } from "../lib/src/engine/blas-common";
import { heapView, type WasmBackend } from "../lib/src/engine/wasm-heap";
import { reluInPlace, type Heap } from "../lib/src/engine/blas-conv";
import { Conv2d, Linear, ReLU, Sequential, type Module } from "../lib/src/nn";

function requireBlas(t: { skip(msg: string): void }): boolean {
  if (loadBlas()) return true;
  if (process.env.CI === "true") assert.fail("OpenBLAS (or koffi) is missing: .ci/run installs libopenblas0-pthread");
  t.skip("no OpenBLAS on this machine (apt-get install libopenblas0-pthread)");
  return false;
}

// [a shape, b shape, transposeA, transposeB]
const CASES: [number[], number[], boolean, boolean][] = [
  [[5, 7], [7, 3], false, false],
  [[7, 5], [7, 3], true, false],
  [[5, 7], [3, 7], false, true],
  [[7, 5], [3, 7], true, true],
  [[256, 784], [784, 1], false, false], // a linear model's forward pass
  [[256, 784], [256, 30], true, false], // the weight gradient aᵀ·dy
  [[2, 4, 6], [2, 6, 3], false, false], // batched
  [[2, 6, 4], [2, 3, 6], true, true],
  [[1, 4, 6], [3, 6, 2], false, false], // a batch of 1 broadcast
  [[3, 4, 6], [6, 2], false, false], // rank 3 by rank 2
  [[2, 3, 4, 5], [2, 3, 5, 2], false, false], // two batch dimensions
  [[1, 1, 4, 5], [3, 5, 2], false, false], // broadcast keeps the larger rank
  [[2, 1, 4, 5], [3, 5, 2], false, false], // general broadcasting: the original kernel's work
  [[0, 5], [5, 3], false, false], // empty output
  [[4, 0], [0, 3], false, false], // empty inner size: zeros
  // Results 9-63 wide, not a multiple of 8, with enough rows × inner: made on a result 8-aligned (widened)
  [[256, 784], [784, 30], false, false], // the simple net's forward
  [[256, 784], [30, 784], false, true],
  [[784, 256], [784, 30], true, false],
  [[100, 700], [700, 13], false, false],
  [[128, 600], [600, 63], false, false],
  [[128, 600], [9, 600], false, true],
  [[2, 256, 300], [2, 300, 30], false, false],
];

test("matMul through OpenBLAS on wasm equals cpu for plain, transposed, batched, broadcast and empty operands", async (t) => {
  if (!requireBlas(t)) return;
  const products = async (backend: string) => {
    await initBackend(backend);
    return CASES.map(([sa, sb, ta, tb], i) => {
      const a = tf.randomNormal(sa, 0, 1, "float32", 2 * i + 1);
      const b = tf.randomNormal(sb, 0, 1, "float32", 2 * i + 2);
      const c = tf.matMul(a, b, ta, tb);
      return { shape: c.shape, values: Array.from(c.dataSync()) };
    });
  };
  const cpu = await products("cpu");
  const wasm = await products("wasm");
  assert.ok(usingBlas(), "initBackend('wasm') put OpenBLAS behind matMul");
  cpu.forEach((ref, i) => {
    const [sa, sb, ta, tb] = CASES[i];
    const what = `[${sa}]·[${sb}] transposeA=${ta} transposeB=${tb}`;
    assert.deepEqual(wasm[i].shape, ref.shape, what);
    if (ref.values.length) assert.ok(maxRelDiff(tf.tensor(wasm[i].values), tf.tensor(ref.values)) < 1e-5, what);
  });
  assert.deepEqual(cpu[14].values, new Array(12).fill(0), "an empty inner size gives zeros");
});

test("a product made 8-aligned (widened) scales, adds onto C and keeps to C's and B's columns, as sgemm does", async (t) => {
  if (!requireBlas(t)) return;
  await initBackend("wasm");
  const backend = tf.backend() as unknown as WasmBackend;
  const [m, k, n] = [256, 300, 30];
  // B and C are the first n columns of wider matrices (ldb 33, ldc 40): the columns past n must stay as they are.
  const a = tf.randomNormal([m, k], 0, 1, "float32", 41), b = tf.randomNormal([k, 33], 0, 1, "float32", 42);
  const c0 = tf.randomNormal([m, 40], 0, 1, "float32", 43), c = tf.add(c0, 0); // c: its own copy, written below
  loadBlas()!.sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, 0.5, heapView(backend, a) as Float32Array, k,
    heapView(backend, b) as Float32Array, 33, 2, heapView(backend, c) as Float32Array, 40);
  const [av, bv, c0v, cv] = [a, b, c0, c].map((x) => x.dataSync());
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = n; j < 40; j++) assert.equal(cv[i * 40 + j], c0v[i * 40 + j], `column ${j} of row ${i} is past n: untouched`);
    for (let j = 0; j < n; j++) {
      let want = 2 * c0v[i * 40 + j]!;
      for (let p = 0; p < k; p++) want += 0.5 * av[i * k + p]! * bv[p * 33 + j]!;
      worst = Math.max(worst, Math.abs(cv[i * 40 + j]! - want));
    }
  }
  assert.ok(worst < 1e-4, `off by ${worst}`);
  tf.dispose([a, b, c0, c]);
});

test("matMul gradients through OpenBLAS on wasm equal cpu's", async (t) => {
  if (!requireBlas(t)) return;
  await assertSameOnBackends("matMul gradients", () => {
    const a = tf.randomNormal([16, 9], 0, 1, "float32", 11);
    const b = tf.randomNormal([9, 4], 0, 1, "float32", 12);
    return tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, w))))([a, b]);
  });
});

test("mismatched inner sizes are the same clear error as on cpu; int32 products work (through cpu's kernel)", async (t) => {
  if (!requireBlas(t)) return;
  await initBackend("wasm");
  assert.throws(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2])), /Error in matMul: inner shapes \(3\) and \(4\) of Tensors with shapes 2,3 and 4,2/);
  const c = tf.matMul(tf.tensor2d([[1, 2, 3], [4, 5, 6]], undefined, "int32"), tf.tensor2d([[1, 0], [0, 1], [1, 1]], undefined, "int32"));
  assert.equal(c.dtype, "int32");
  assert.deepEqual(c.arraySync(), [[4, 5], [10, 11]]);
});

test("describeBackend says whether OpenBLAS does the products; FASTBOOK_BLAS=off turns it off", async (t) => {
  if (!requireBlas(t)) return;
  assert.match(describeBackend(await initBackend("wasm")), /matMul and conv2d through libopenblas/);
  const code = `const { initBackend, describeBackend, tf } = require("./lib/src/index.ts");
    initBackend("wasm").then((c) => { console.log(describeBackend(c)); console.log(tf.matMul(tf.ones([2, 3]), tf.ones([3, 1])).dataSync().join(",")); });`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { env: { ...process.env, FASTBOOK_BLAS: "off" }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /matMul and conv2d in wasm: turned off by FASTBOOK_BLAS=off/);
  assert.match(r.stdout, /^3,3$/m, "and the wasm kernel still multiplies");
});

test("OpenBLAS's idle threads spin for 2^18 cycles, not 2^28, unless the user set OPENBLAS_THREAD_TIMEOUT; the variable is not left set", (t) => {
  if (!requireBlas(t)) return;
  const timeout = require("koffi").load(loadBlas()!.library).func("int openblas_thread_timeout()") as () => number;
  const own = process.env.OPENBLAS_THREAD_TIMEOUT;
  assert.equal(timeout(), own === undefined ? 18 : Number(own), "the timeout OpenBLAS read as it loaded");
  if (own === undefined) assert.equal(process.env.OPENBLAS_THREAD_TIMEOUT, undefined, "not left for child processes");
  // A value the user sets is kept.
  const code = `const { loadBlas } = require("./lib/src/engine/blas.ts"); const b = loadBlas();
    console.log(require("koffi").load(b.library).func("int openblas_thread_timeout()")(), process.env.OPENBLAS_THREAD_TIMEOUT);`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { env: { ...process.env, OPENBLAS_THREAD_TIMEOUT: "26" }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^26 26$/m);
});

// [input NHWC, filter [kh, kw, ci, co], strides, pad]
type Shape4 = [number, number, number, number];
const CONVS: [Shape4, Shape4, number | [number, number], "same" | "valid" | number][] = [
  [[2, 7, 7, 3], [3, 3, 3, 4], 1, "same"],
  [[2, 8, 8, 3], [3, 3, 3, 4], 2, "same"],
  [[3, 28, 28, 1], [3, 3, 1, 8], 2, "same"], // the notebook's first layer
  [[2, 9, 7, 5], [5, 3, 5, 2], [2, 1], "valid"], // non-square everything
  [[1, 6, 6, 4], [1, 1, 4, 3], 1, "valid"], // 1×1
  [[2, 5, 5, 2], [3, 3, 2, 3], 1, 2], // explicit padding of 2
  [[1, 2, 2, 2], [3, 3, 2, 2], 2, "same"], // the window hangs over on every side
  // Few channels take the direct loops (forward and both gradients, at stride 1 with channels divisible by 4):
  [[2, 7, 7, 4], [3, 3, 4, 4], 1, "same"], // the U-Net's top level
  [[2, 6, 5, 8], [3, 3, 8, 4], 1, "valid"],
  [[2, 7, 6, 4], [2, 2, 4, 4], 1, "same"], // "same" with an even window: padded only below and right
  [[2, 5, 5, 4], [3, 3, 4, 8], 1, 2],
  [[1, 2, 2, 4], [3, 3, 4, 4], 1, "same"], // windows past every edge
  [[1, 3, 3, 4], [3, 3, 4, 4], 1, 3], // padding wider than the window: some windows see only zeros
  [[3, 19, 11, 8], [3, 3, 8, 8], 1, "same"], // rows longer than four pixels, several images
  [[2, 6, 6, 4], [2, 2, 4, 8], 2, "same"], // stride 2: im2col and sgemm
  [[1, 4, 6, 12], [3, 3, 12, 8], 1, "same"], // more channels: sgemm again
  // A few images at a time (PART_BYTES), forward, filter gradient (its parts' products added up) and input
  // gradient: parts of 18, 18 and 4 images; one image per part.
  [[40, 14, 14, 8], [3, 3, 8, 16], 2, "same"],
  [[2, 40, 40, 8], [3, 3, 8, 16], 1, "same"],
  // One input channel takes the direct loops at any stride (forward and filter gradient) up to kh·kw·co = 144:
  [[2, 9, 7, 1], [3, 3, 1, 4], [2, 1], "valid"],
  [[2, 10, 10, 1], [3, 3, 1, 16], 1, "same"], // the limit
  [[1, 5, 6, 1], [2, 2, 1, 4], 3, 2], // stride 3, explicit padding: windows past the edges
  [[2, 4, 4, 1], [3, 3, 1, 12], 2, "same"],
  [[2, 11, 13, 1], [3, 3, 1, 4], 1, "same"], // pixels two at a time inside, one at a time at the edges and the odd last
  [[1, 7, 7, 1], [5, 5, 1, 8], 2, "same"], // over the limit: sgemm
  [[2, 6, 6, 1], [3, 3, 1, 6], 1, "same"], // channels not a multiple of four: sgemm
  [[2, 1, 1, 1], [3, 3, 1, 4], 2, "same"], // a filter wider than the image: taps past both edges
  [[1, 3, 2, 1], [3, 3, 1, 8], 2, "same"],
];

test("conv2d and both of its gradients through OpenBLAS on wasm equal cpu's", async (t) => {
  if (!requireBlas(t)) return;
  const run = async (backend: string) => {
    await initBackend(backend);
    return CONVS.map(([xs, fs, s, pad], i) => {
      const x = tf.randomNormal(xs, 0, 1, "float32", 10 + i) as tf.Tensor4D;
      const w = tf.randomNormal(fs, 0, 1, "float32", 20 + i) as tf.Tensor4D;
      const bias = tf.randomNormal([fs[3]], 0, 1, "float32", 30 + i);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad)));
      const [gx, gw] = tf.grads(f)([x, w]);
      const fused = tf.fused.conv2d({ x, filter: w, strides: s, pad, bias, activation: "relu" });
      return [tf.conv2d(x, w, s, pad), gx, gw, fused].map((r) => ({ shape: r.shape, values: Array.from(r.dataSync()) }));
    });
  };
  const cpu = await run("cpu"), wasm = await run("wasm");
  cpu.forEach((outs, i) => outs.forEach((ref, j) => {
    const what = `case ${i} (${JSON.stringify(CONVS[i])}), ${["forward", "input gradient", "filter gradient", "fused + bias + relu"][j]}`;
    assert.deepEqual(wasm[i][j].shape, ref.shape, what);
    assert.ok(maxRelDiff(tf.tensor(wasm[i][j].values), tf.tensor(ref.values)) < 1e-5, what);
  }));
});

test("repeated convolutions of the same input reuse, and changed inputs rebuild, the im2col matrix", async (t) => {
  if (!requireBlas(t)) return;
  await initBackend("wasm");
  // A product of over 16 M multiply-adds (1,152 x 288 x 64): smaller ones go in parts and keep no matrix.
  const w = tf.randomNormal([3, 3, 32, 64], 0, 1, "float32", 1) as tf.Tensor4D;
  const a = tf.randomNormal([8, 12, 12, 32], 0, 1, "float32", 2) as tf.Tensor4D;
  const b = tf.randomNormal([8, 12, 12, 32], 0, 1, "float32", 3) as tf.Tensor4D; // same geometry, other values
  const ya = Array.from(tf.conv2d(a, w, 1, "same").dataSync());
  const yb = Array.from(tf.conv2d(b, w, 1, "same").dataSync());
  assert.notDeepEqual(yb, ya);
  assert.deepEqual(Array.from(tf.conv2d(a, w, 1, "same").dataSync()), ya, "back to a: its own values again");
});

test("the committed wasm bytes are what conv-loops.wat compiles to (npm run build:wasm)", async () => {
  const { compileConvLoops } = await import("../lib/scripts/build-wasm.mjs");
  const { CONV_LOOPS_WASM } = await import("../lib/src/engine/conv-loops-wasm");
  assert.equal((await compileConvLoops()).toString("base64"), CONV_LOOPS_WASM, "run npm run build:wasm after editing the .wat");
});

test("Linear, and Conv2d as a single kernel on wasm (conv2dWithBias): values and all gradients equal cpu's", async (t) => {
  if (!requireBlas(t)) return;
  await assertSameOnBackends("Linear and Conv2d: value and gradients", () => {
    const x = tf.randomNormal([5, 7], 0, 1, "float32", 1) as tf.Tensor2D;
    const lin = new Linear(7, 3, { seed: 2 });
    lin.bias.assign(tf.randomNormal([3], 0, 1, "float32", 3));
    const img = tf.randomNormal([2, 9, 9, 3], 0, 1, "float32", 4) as tf.Tensor4D;
    const conv = new Conv2d(3, 4, 3, { stride: 2, seed: 5 });
    conv.bias.assign(tf.randomNormal([4], 0, 1, "float32", 6));
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.add(tf.sum(tf.square(lin.forward(a))), tf.sum(tf.square(conv.forward(b))));
    const { value, grads } = tf.variableGrads(() => f(x, img) as tf.Scalar, [...lin.parameters(), ...conv.parameters()]);
    const [gx, gimg] = tf.grads(f)([x, img]);
    const out = [value, ...Object.values(grads), gx, gimg].map((g) => Array.from(g.dataSync()));
    tf.dispose([...lin.parameters(), ...conv.parameters()]);
    return out;
  });
  assert.ok(usingBlas());
});

// Nets with every pairing Sequential fuses (Linear then ReLU, Conv2d then ReLU, with a stride, "same" and
// "valid") and ones it must leave alone (a pair at the end, a layer with a numeric padding, no bias).
function fusableNets(): { mlp: Sequential; cnn: Sequential } {
  const mlp = new Sequential(new Linear(7, 6, { seed: 11 }), new ReLU(), new Linear(6, 4, { seed: 12 }), new ReLU(),
    new Linear(4, 3, { seed: 13, bias: false }), new ReLU());
  const cnn = new Sequential(new Conv2d(3, 4, 3, { stride: 2, seed: 14 }), new ReLU(), new Conv2d(4, 8, 3, { padding: "valid", seed: 15 }),
    new ReLU(), new Conv2d(8, 4, 1, { padding: 0, seed: 16 }), new ReLU());
  for (const p of [...mlp.parameters(), ...cnn.parameters()]) {
    if (p.rank === 1) p.assign(tf.randomNormal(p.shape, 0, 1, "float32", p.size)); // biases that move some outputs across 0
  }
  return { mlp, cnn };
}

/** The net's loss, its value and every gradient (parameters and input), through `forward`. */
function valueAndGrads(net: Module, x: tf.Tensor, forward: (x: tf.Tensor) => tf.Tensor): tf.Tensor[] {
  const loss = (a: tf.Tensor) => tf.sum(tf.mul(forward(a), tf.linspace(-1, 1, tf.util.sizeFromShape(forward(a).shape)).reshape(forward(a).shape)));
  const { value, grads } = tf.variableGrads(() => loss(x) as tf.Scalar, net.parameters());
  return [value, ...Object.values(grads), tf.grad(loss)(x)];
}

const layerByLayer = (net: Sequential) => (x: tf.Tensor) => net.layers.reduce((h, l) => l.forward(h), x);

test("Sequential runs a Linear or Conv2d and the ReLU after it as one kernel on wasm: value and gradients equal cpu's", async (t) => {
  if (!requireBlas(t)) return;
  await assertSameOnBackends("fused layer and ReLU: value and gradients", () => {
    const { mlp, cnn } = fusableNets();
    const out = [
      ...valueAndGrads(mlp, tf.randomNormal([5, 7], 0, 1, "float32", 1), (x) => mlp.forward(x)),
      ...valueAndGrads(cnn, tf.randomNormal([2, 9, 9, 3], 0, 1, "float32", 2), (x) => cnn.forward(x)),
    ].map((g) => Array.from(g.dataSync()));
    tf.dispose([...mlp.parameters(), ...cnn.parameters()]);
    return out;
  });
});

test("the fused layer and ReLU give the very values of the two layers one after another, NaN included, with no Relu kernel of their own", async (t) => {
  if (!requireBlas(t)) return;
  await initBackend("wasm");
  const { mlp, cnn } = fusableNets();
  const rows = tf.randomNormal([5, 7], 0, 1, "float32", 1).bufferSync();
  rows.set(NaN, 2, 3); // one NaN input: its row's outputs and gradients are NaN both ways
  const cases: [Sequential, tf.Tensor][] = [[mlp, rows.toTensor()], [cnn, tf.randomNormal([2, 9, 9, 3], 0, 1, "float32", 2)]];
  for (const [net, x] of cases) {
    const fused = valueAndGrads(net, x, (a) => net.forward(a)).map((g) => Array.from(g.dataSync()));
    const plain = valueAndGrads(net, x, layerByLayer(net)).map((g) => Array.from(g.dataSync()));
    assert.equal(fused.length, plain.length);
    fused.forEach((vals, i) => vals.forEach((v, j) => assert.ok(Object.is(v, plain[i]![j]), `result ${i}, value ${j}: ${v} fused, ${plain[i]![j]} layer by layer`)));
    // Only the last pair runs its ReLU apart: a Linear without bias, a Conv2d with a numeric padding.
    const { kernels } = await tf.profile(() => tf.tidy(() => net.forward(x)));
    const names = kernels.map((k) => k.name);
    assert.deepEqual(names.filter((n) => n === "Relu" || n.endsWith("Relu")),
      net === mlp ? ["FastbookLinearRelu", "FastbookLinearRelu", "Relu"] : ["FastbookConv2dBiasRelu", "FastbookConv2dBiasRelu", "Relu"], names.join(", "));
  }
  tf.dispose([...mlp.parameters(), ...cnn.parameters(), rows.toTensor()]);
});

test("a ReLU or layer whose forward pass is not its class's own runs as written, not fused", async (t) => {
  if (!requireBlas(t)) return;
  await initBackend("wasm");
  class LeakyReLU extends ReLU { override forward(x: tf.Tensor) { return tf.leakyRelu(x, 0.1); } }
  const halved = new ReLU();
  halved.forward = (x) => tf.mul(tf.relu(x), 0.5);
  const lin = () => new Linear(3, 2, { seed: 1 });
  const x = tf.tensor2d([[1, -2, 3], [-4, 5, -6]]);
  for (const [net, expected] of [
    [new Sequential(lin(), new LeakyReLU()), (h: tf.Tensor) => tf.leakyRelu(h, 0.1)],
    [new Sequential(lin(), halved), (h: tf.Tensor) => tf.mul(tf.relu(h), 0.5)],
  ] as const) {
    const want = expected((net.layers[0] as Linear).forward(x)).arraySync();
    assert.deepEqual(net.forward(x).arraySync(), want);
    tf.dispose(net.parameters());
  }
});

test("the fused kernels' in-place ReLU gives tf.relu's values on cpu, −0 and NaN included, in the vector loop and its tail", async () => {
  const values = [-0, NaN, -1, 2, -3, 0.5, -0, NaN, 1e-30, -1e-30, Infinity, -Infinity, 0, -0, 3]; // 3 vectors of 4, then 3
  await initBackend("cpu");
  const want = Array.from(tf.relu(tf.tensor1d(values)).dataSync());
  await initBackend("wasm");
  const t = tf.tensor1d(values);
  reluInPlace(tf.backend() as unknown as Heap, t);
  const got = Array.from(t.dataSync());
  got.forEach((v, i) => assert.ok(Object.is(v, want[i]), `relu(${values[i]}): ${v} in place, ${want[i]} from tf.relu on cpu`));
  t.dispose();
});
