// The wasm backend as initBackend() sets it up: kernels it lacks run through the cpu backend's kernels
// (lib/src/engine/cpu-fallback.ts), the library's own OpenBLAS kernels give cpu's numbers, the hot kernels
// never leave wasm, and errors read as they do on cpu. Every result is compared with the cpu backend's.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { tf } from "../lib/src/tf";
import { initBackend } from "../lib/src/engine/backend";
import { usingBlas } from "../lib/src/engine/blas";
import { cpuFallbackCalls, isCpuFallback } from "../lib/src/engine/cpu-fallback";
import { maxRelDiff, tempDir } from "./helpers";
import { buffersOf, Sequential } from "../lib/src/nn";
import { resnet18 } from "../lib/src/models/resnet";
import { createHead } from "../lib/src/vision";
import { Adam, backward } from "../lib/src/optim";
import { crossEntropy } from "../lib/src/losses";

type Values = { shape: number[]; dtype: string; values: number[] };
const read = (t: tf.Tensor): Values => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number>) });

/** Runs `f` on cpu and on the default wasm setup; returns both results as plain values. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Values[]; wasm: Values[] }> {
  const run = async (backend: string) => {
    await initBackend(backend);
    return tf.tidy(() => { const out = f(); return (Array.isArray(out) ? out : [out]).map(read); });
  };
  return { cpu: await run("cpu"), wasm: await run("wasm") };
}

function assertClose(cpu: Values[], wasm: Values[], what: string, tol = 1e-5): void {
  assert.equal(wasm.length, cpu.length, what);
  cpu.forEach((c, i) => {
    assert.deepEqual(wasm[i].shape, c.shape, `${what}: shape of output ${i}`);
    assert.equal(wasm[i].dtype, c.dtype, `${what}: dtype of output ${i}`);
    if (c.values.length) assert.ok(maxRelDiff(tf.tensor(wasm[i].values), tf.tensor(c.values)) < tol, `${what}: values of output ${i}`);
  });
}

const seeded = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

test("conv2dTranspose whose dy is larger than the convolution's output reads dy as cpu does", async () => {
  // tfjs-core's own spec case: a 4x4 output with an 8x8 filter, given an 8x8x8 input.
  const { cpu, wasm } = await onBoth(() => {
    const x = tf.tensor4d(Array.from({ length: 512 }, (_, i) => i % 5), [1, 8, 8, 8]);
    const w = tf.tensor4d(Array.from({ length: 8 * 8 * 8 * 8 }, (_, i) => i % 5), [8, 8, 8, 8]);
    return tf.conv2dTranspose(x, w, [1, 4, 4, 8], 1, "same");
  });
  assertClose(cpu, wasm, "conv2dTranspose 8x8 dy, 4x4 output");
  assert.equal(cpu[0].values[0], 512, "the spec's first expected value");
});

test("conv2d gradients equal cpu's, filters larger than the output included", async () => {
  // [x shape, filter shape, stride, pad]
  const cases: [number[], number[], number, "same" | "valid"][] = [
    [[2, 4, 4, 3], [8, 8, 3, 5], 1, "same"], // filter larger than input and output
    [[1, 3, 3, 2], [5, 5, 2, 4], 2, "same"],
    [[2, 6, 5, 3], [3, 3, 3, 4], 2, "valid"],
    [[1, 1, 14, 1], [1, 3, 1, 1], 1, "valid"], // conv1d as conv2d: a filter that is not square
    [[3, 9, 9, 2], [4, 4, 2, 3], 3, "same"],
  ];
  for (const [xs, fs_, stride, pad] of cases) {
    const { cpu, wasm } = await onBoth(() => {
      const x = seeded(xs, 1) as tf.Tensor4D, f = seeded(fs_, 2) as tf.Tensor4D;
      const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad).square().sum())([x, f]);
      return [tf.conv2d(x, f, stride, pad), dx, df];
    });
    assertClose(cpu, wasm, `conv2d x=[${xs}] f=[${fs_}] s=${stride} ${pad}`, 1e-4);
  }
});

test("tf.gather's gradient (UnsortedSegmentSum, which wasm lacks) runs through cpu's kernel", async () => {
  const before = cpuFallbackCalls("UnsortedSegmentSum");
  const { cpu, wasm } = await onBoth(() => {
    const x = seeded([5, 3], 3);
    const idx = tf.tensor1d([4, 0, 4, 2, 0, 0], "int32");
    return tf.grad((t: tf.Tensor) => tf.gather(t, idx).mul(seeded([6, 3], 4)).sum())(x);
  });
  assertClose(cpu, wasm, "gather gradient");
  assert.ok(cpuFallbackCalls("UnsortedSegmentSum") > before, "wasm ran UnsortedSegmentSum through cpu");
  // Rows never gathered get no gradient.
  assert.deepEqual(wasm[0].values.slice(3, 6), [0, 0, 0]);
});

test("tf.math.confusionMatrix (an int32 matMul, which wasm rejects) gives the counts", async () => {
  const labels = [0, 1, 2, 1, 0, 2, 2, 1], preds = [0, 2, 2, 1, 1, 2, 0, 1];
  const { cpu, wasm } = await onBoth(() => tf.math.confusionMatrix(tf.tensor1d(labels, "int32"), tf.tensor1d(preds, "int32"), 3));
  const counted = new Array(9).fill(0);
  labels.forEach((l, i) => counted[3 * l + preds[i]]++);
  assert.deepEqual(wasm[0].values, counted);
  assert.deepEqual(wasm[0], cpu[0]);
});

test("complex64 tensors live on wasm: tf.complex, fft and back", async () => {
  const { cpu, wasm } = await onBoth(() => {
    const c = tf.complex(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([0, -1, 0.5, 2]));
    const f = tf.spectral.fft(c);
    return [f, tf.real(tf.spectral.ifft(f)), tf.abs(f)];
  });
  assertClose(cpu, wasm, "fft");
  assert.deepEqual(wasm[1].values.map((v) => Math.round(v * 1e4) / 1e4), [1, 2, 3, 4], "ifft(fft(x)) = x");
});

test("string tensors on wasm: comparisons and tile, which abort the stock wasm module", async () => {
  const { cpu, wasm } = await onBoth(() => {
    const a = tf.tensor1d(["a", "b", "c"]), b = tf.tensor1d(["a", "c", "b"]);
    return [tf.equal(a, b), tf.greater(a, b)];
  });
  assert.deepEqual(wasm, cpu);
  assert.deepEqual(wasm[0].values, [1, 0, 0]);
  await initBackend("wasm");
  assert.deepEqual(tf.tile(tf.tensor1d(["x", "y"]), [2]).arraySync(), ["x", "y", "x", "y"]);
});

test("the hot kernels stay in wasm (OpenBLAS where present): a training step calls no cpu kernel", async () => {
  await initBackend("wasm");
  const before = cpuFallbackCalls();
  tf.tidy(() => {
    const x = seeded([4, 8, 8, 2], 5) as tf.Tensor4D, f = seeded([3, 3, 2, 4], 6) as tf.Tensor4D;
    const w = seeded([8 * 8 * 4, 10], 7), b = tf.zeros([10]);
    tf.grads((f_: tf.Tensor, w_: tf.Tensor, b_: tf.Tensor) => {
      const h = tf.relu(tf.conv2d(x, f_ as tf.Tensor4D, 1, "same")).reshape([4, -1]);
      const logits = tf.fused.matMul({ a: h as tf.Tensor2D, b: w_ as tf.Tensor2D, bias: b_, activation: "relu" });
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([1, 2, 3, 4], "int32"), 10), logits).add(tf.sum(h, 0).mean());
    })([f, w, b]).forEach((g) => g.dataSync());
  });
  assert.equal(cpuFallbackCalls() - before, 0, "no kernel of a conv + dense training step ran on cpu");
  // With OpenBLAS, the registered kernels are the library's own, which call the fallback wrappers only for
  // what they do not take (other dtypes, layouts).
  const hot = ["BatchMatMul", "_FusedMatMul", "Conv2D", "FusedConv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "Sum"];
  if (usingBlas()) for (const name of hot) assert.ok(!isCpuFallback(tf.getKernel(name, "wasm")!.kernelFunc), `${name} is an OpenBLAS kernel`);
  assert.ok(isCpuFallback(tf.getKernel("UnsortedSegmentSum", "wasm")!.kernelFunc), "a kernel wasm lacks is a cpu delegate");
});

test("a training step of resnet18 with fastai's head (batch norm, max-pool, dropout, Adam) calls no cpu kernel", async () => {
  await initBackend("wasm");
  const model = new Sequential(resnet18({ inChannels: 1, seed: 1 }).body, createHead(512, 2, { seed: 2 }));
  const opt = Adam(model.parameters(), 1e-3);
  const before = cpuFallbackCalls();
  const x = seeded([4, 28, 28, 1], 8), y = tf.tensor1d([0, 1, 1, 0], "int32");
  for (const training of [true, false]) {
    model.train(training);
    if (training) {
      backward(() => crossEntropy(model.forward(x), y), opt.params, opt.grads).dispose();
      opt.step();
      opt.zeroGrad();
    } else tf.tidy(() => model.forward(x).dataSync());
  }
  assert.equal(cpuFallbackCalls() - before, 0, "no kernel of a resnet18 training step or validation ran on cpu");
  if (usingBlas()) assert.ok(!isCpuFallback(tf.getKernel("MaxPoolGrad", "wasm")!.kernelFunc), "MaxPoolGrad is the library's kernel");
  opt.dispose?.();
  tf.dispose([x, y, ...model.parameters(), ...buffersOf(model)]);
});

test("shape errors on wasm name the shapes as cpu's do (matMul by a 1-D tensor)", async () => {
  const message = async (backend: string) => {
    await initBackend(backend);
    try {
      tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3]) as unknown as tf.Tensor2D));
    } catch (e) {
      return (e as Error).message;
    }
    return "no error";
  };
  const cpu = await message("cpu");
  assert.match(cpu, /Error in matMul.*2,3 and 3/);
  assert.equal(await message("wasm"), cpu);
});

test("an uncaught error after the wasm backend loaded prints its own message and stack, exit code 1", () => {
  const dir = tempDir();
  const tsx = path.resolve(__dirname, "..", "node_modules", ".bin", "tsx");
  const backend = path.resolve(__dirname, "..", "lib", "src", "engine", "backend.ts");
  for (const [how, code] of [["throw", "setTimeout(() => { throw new Error('the real problem'); }, 0);"],
                             ["reject", "Promise.reject(new Error('the real problem'));"]]) {
    const script = path.join(dir, `${how}.ts`);
    fs.writeFileSync(script, `import { initBackend } from ${JSON.stringify(backend)};\n` +
      `initBackend("wasm").then(() => { ${code} });\n`);
    const r = spawnSync(tsx, [script], { encoding: "utf8", env: { ...process.env, TFJS_BACKEND: "" } });
    assert.equal(r.status, 1, `${how}: exit code (the wasm glue's rethrow exits with 7)\n${r.stderr.slice(0, 500)}`);
    assert.match(r.stderr, /Error: the real problem\n\s+at /, `${how}: the message and stack`);
    assert.ok(r.stderr.length < 5000, `${how}: no minified glue source printed (${r.stderr.length} characters)`);
  }
});
