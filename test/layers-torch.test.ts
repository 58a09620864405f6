// The layers against PyTorch: forward values, gradients with respect to the input and every parameter,
// in training and evaluation mode, and the running statistics after a training step, on the weights and
// inputs that scripts/fixtures/layers_torch.py gave PyTorch (test/fixtures/layers.json). Then ResNet-18
// whole, with weights both sides make from one integer hash, and its parameter count against torchvision's.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { tf } from "../lib/src/tf";
import { initBackend } from "../lib/src/engine/backend";
import {
  AdaptiveAvgPool2d, AdaptiveConcatPool2d, BatchNorm1d, BatchNorm2d, buffersOf, Conv2d, countParameters, MaxPool2d, type Module,
} from "../lib/src/nn";
import { BasicBlock, resnet18 } from "../lib/src/models/resnet";
import { createHead } from "../lib/src/vision";

type Stored = { shape: number[]; data: number[] };
type Run = { y: Stored; dx: Stored; grads: Stored[] | Record<string, Stored>; buffers: Stored[] | Record<string, Stored> };
type Case = { x: Stored; g: Stored; params: Stored[]; buffers: Stored[]; train?: Run; eval?: Run };
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "layers.json"), "utf8")) as {
  param_counts: Record<string, { resnet18: number; body: number }>;
  cases: Record<string, Case>;
  resnet18: { x: Stored; g: Stored; param_kinds: string[]; param_shapes: number[][]; train: Run; eval: Run };
};

const MODULES: Record<string, () => Module> = {
  batchnorm2d: () => new BatchNorm2d(3),
  batchnorm1d: () => new BatchNorm1d(4),
  maxpool_3_2_1: () => new MaxPool2d(3, 2, 1),
  maxpool_2_2_0: () => new MaxPool2d(2, 2, 0),
  adaptive_avg_1: () => new AdaptiveAvgPool2d(1),
  adaptive_avg_2: () => new AdaptiveAvgPool2d(2),
  adaptive_concat_1: () => new AdaptiveConcatPool2d(1),
  adaptive_concat_2: () => new AdaptiveConcatPool2d(2),
  conv_7_2_3_nobias: () => new Conv2d(2, 4, 7, { stride: 2, padding: 3, bias: false }),
  conv_3_2_1_bias: () => new Conv2d(3, 5, 3, { stride: 2, padding: 1 }),
  basicblock_4_8_2: () => new BasicBlock(4, 8, 2),
  basicblock_4_4_1: () => new BasicBlock(4, 4, 1),
  head_8_3: () => createHead(8, 3, { ps: 0, hidden: 6 }),
};

const tensorOf = (s: Stored) => tf.tensor(s.data, s.shape, "float32");

/** Sets a module's parameters and buffers, in order, checking each shape. */
function load(m: Module, params: tf.Tensor[], buffers: tf.Tensor[]): void {
  const [ps, bs] = [m.parameters(), buffersOf(m)];
  assert.equal(ps.length, params.length, "number of parameters");
  assert.equal(bs.length, buffers.length, "number of buffers");
  [...ps, ...bs].forEach((v, i) => {
    const t = [...params, ...buffers][i];
    assert.deepEqual(v.shape, t.shape, `shape of parameter/buffer ${i}`);
    v.assign(t);
  });
}

/** y, dL/dx, dL/dparams for L = sum(y·g), in the given mode, and the buffers afterwards (as plain numbers). */
function forwardBackward(m: Module, x: tf.Tensor, g: tf.Tensor, training: boolean) {
  m.train?.(training);
  const xv = tf.variable(x);
  let y: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    y = tf.keep(m.forward(xv));
    return tf.sum(tf.mul(y, g)) as tf.Scalar;
  }, [xv, ...m.parameters()]);
  const read = (t: tf.Tensor) => ({ shape: t.shape, data: Array.from(t.dataSync()) });
  const out = {
    y: read(y!), dx: read(grads[xv.name]),
    grads: m.parameters().map((p) => read(grads[p.name])),
    buffers: buffersOf(m).map(read),
  };
  tf.dispose([value, xv, y!, ...Object.values(grads)]);
  return out;
}

/** The largest absolute difference, after checking shapes. */
function maxAbsDiff(ours: Stored, ref: Stored, what: string): number {
  assert.deepEqual(ours.shape, ref.shape, `${what}: shape`);
  return ours.data.reduce((m, v, i) => Math.max(m, Math.abs(v - ref.data[i])), 0);
}

const scale = (ref: Stored) => Math.max(1, ...ref.data.map(Math.abs));
const diffs: Record<string, number> = {};

/** Asserts |ours − ref| ≤ tol·max(1, |ref|max) and records the difference for the summary. */
function assertClose(ours: Stored, ref: Stored, what: string, tol: number): void {
  const d = maxAbsDiff(ours, ref, what);
  diffs[what] = Math.max(diffs[what] ?? 0, d);
  assert.ok(d <= tol * scale(ref), `${what}: max |ours − PyTorch| = ${d.toExponential(2)} (allowed ${(tol * scale(ref)).toExponential(2)})`);
}

function compareRun(ours: ReturnType<typeof forwardBackward>, ref: Run, what: string, tol: number, pick?: (i: number) => boolean): void {
  assertClose(ours.y, ref.y, `${what} y`, tol);
  assertClose(ours.dx, ref.dx, `${what} dx`, tol);
  const entries = (r: Stored[] | Record<string, Stored>) => (Array.isArray(r) ? r.map((s, i) => [i, s] as const) : Object.entries(r).map(([i, s]) => [Number(i), s] as const));
  for (const [i, s] of entries(ref.grads)) assertClose(ours.grads[i], s, `${what} grad of parameter ${i}`, tol);
  for (const [i, s] of entries(ref.buffers)) if (!pick || pick(i)) assertClose(ours.buffers[i], s, `${what} buffer ${i} after`, tol);
}

for (const backend of ["wasm", "cpu"]) {
  test(`each layer's forward and backward, both modes, and the running statistics match PyTorch (${backend})`, async () => {
    await initBackend(backend);
    for (const [name, c] of Object.entries(fixture.cases)) {
      const m = MODULES[name]();
      for (const mode of ["train", "eval"] as const) {
        const ref = c[mode];
        if (!ref) continue;
        tf.tidy(() => {
          load(m, c.params.map(tensorOf), c.buffers.map(tensorOf));
          compareRun(forwardBackward(m, tensorOf(c.x), tensorOf(c.g), mode === "train"), ref, `${name} ${mode}`, 1e-5);
        });
      }
      tf.dispose([...m.parameters(), ...buffersOf(m)]);
    }
  });
}

/** lowbias32 over k·0x9E3779B1 + j·0x85EBCA77 + 1, over 2^32: the fixture script's det_uniform. */
function detUniform(j: number, n: number): Float64Array {
  const base = (Math.imul(j, 0x85ebca77) + 1) >>> 0;
  return Float64Array.from({ length: n }, (_, k) => {
    let h = (Math.imul(k, 0x9e3779b1) + base) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x7feb352d) >>> 0;
    h ^= h >>> 15;
    h = Math.imul(h, 0x846ca68b) >>> 0;
    h ^= h >>> 16;
    return (h >>> 0) / 2 ** 32;
  });
}

/** The fixture script's det_tensor: weights that keep activations near unit size. */
function detTensor(j: number, shape: number[], kind: string): tf.Tensor {
  const u = detUniform(j, shape.reduce((a, b) => a * b, 1));
  const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const f = {
    weight: (v: number) => (2 * v - 1) * Math.sqrt(3) * Math.sqrt(2 / fanIn),
    bn_weight: (v: number) => 1 + 0.2 * (2 * v - 1),
    bias: (v: number) => 0.1 * (2 * v - 1),
    mean: (v: number) => 0.1 * (2 * v - 1),
    var: (v: number) => 1 + 0.5 * v,
  }[kind]!;
  return tf.tensor(Float32Array.from(u, f), shape);
}

test("ResNet-18 whole (8 gray 28x28 images, 10 classes) matches torchvision's on the same weights, in both modes (wasm)", async () => {
  await initBackend("wasm");
  const r = fixture.resnet18;
  const m = resnet18({ inChannels: 1, numClasses: 10, seed: 1 });
  assert.deepEqual(m.parameters().map((p) => p.shape), r.param_shapes, "parameters in torchvision's order and shapes");
  const nParams = r.param_kinds.length;
  const params = r.param_kinds.map((kind, j) => detTensor(j, r.param_shapes[j], kind));
  const buffers = buffersOf(m).map((b, j) => detTensor(nParams + j, b.shape, j % 2 ? "var" : "mean"));
  for (const mode of ["eval", "train"] as const) {
    load(m, params, buffers);
    // Deeper sums in another order: float32 rounding adds up over 20 layers.
    tf.tidy(() => compareRun(forwardBackward(m, tensorOf(r.x), tensorOf(r.g), mode === "train"), r[mode], `resnet18 ${mode}`, 1e-4));
  }
  tf.dispose([...params, ...buffers, ...m.parameters(), ...buffersOf(m)]);
});

test("resnet18's parameter count equals torchvision's, with and without its classifier, for 1 and 3 input channels", () => {
  for (const [nIn, counts] of Object.entries(fixture.param_counts)) {
    const m = resnet18({ inChannels: Number(nIn) });
    assert.equal(countParameters(m), counts.resnet18, `${nIn} channel(s): whole`);
    assert.equal(countParameters(m.body), counts.body, `${nIn} channel(s): body`);
    tf.dispose([...m.parameters(), ...buffersOf(m)]);
  }
});

test.after(() => {
  const lines = Object.entries(diffs).map(([k, v]) => `${k.padEnd(48)} ${v.toExponential(2)}`);
  console.log(`max |ours − PyTorch|:\n${lines.join("\n")}`);
});
