// The webgpu backend in Node (lib/src/engine/webgpu-node.ts): synchronous reads, the adapter choice, a short
// fit against cpu, and the chapter's notebooks. Without a GPU these run on a software adapter (Mesa's
// lavapipe, installed by scripts/webgpu-software.sh); where neither is present they are skipped with the
// reason, except under CI=true. The backend comparisons in engine.test.ts and loss-kernels.test.ts run
// on webgpu too.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import { describeBackend, initBackend } from "../lib/src/engine/backend";
import { isSoftwareAdapter, waitUntilMapped, webgpuAdapter } from "../lib/src/engine/webgpu-node";
import { isOverridden } from "../lib/src/engine/registry";
import { Learner, type BatchSource } from "../lib/src/index";
import { Linear, ReLU, Sequential } from "../lib/src/nn";
import { mnistLoss } from "../lib/src/losses";
import { batchAccuracy } from "../lib/src/metrics";
import { skipUnlessMnist, skipUnlessWebgpu } from "./helpers";
import { spawnSync } from "node:child_process";

test("webgpu: a synchronous read that never completes gives up after its time limit with a clear error", () => {
  const started = Date.now();
  assert.throws(() => waitUntilMapped({ mapState: "pending" }, 200),
    /webgpu: a synchronous read \(dataSync, arraySync, \.\.\.\) waited 0\.\d s for the GPU and gave up.*FASTBOOK_WEBGPU_READ_TIMEOUT/);
  const took = Date.now() - started;
  assert.ok(took >= 200 && took < 2000, `gave up after ${took} ms`);
  assert.throws(() => waitUntilMapped({ mapState: "unmapped" }, 200), /reading a tensor back from the GPU failed \(buffer state "unmapped"\)/);
});

test("the automatic choice never takes a software adapter; asked for, webgpu names its adapter", async (t) => {
  const skip = await skipUnlessWebgpu();
  if (skip) return t.skip(skip);
  const chosen = await initBackend("webgpu");
  const info = webgpuAdapter()!;
  const text = describeBackend(chosen);
  t.diagnostic(text);
  assert.equal(chosen.name, "webgpu");
  assert.equal(tf.getBackend(), "webgpu");
  for (const part of [`vendor ${info.vendor}`, `device ${info.device}`, `architecture ${info.architecture}`]) assert.ok(text.includes(part), `"${part}" in: ${text}`);
  const auto = await initBackend("");
  if (isSoftwareAdapter(info)) {
    assert.notEqual(auto.name, "webgpu", "a software adapter is not picked automatically");
    assert.match(auto.skipped.join("\n"), /webgpu: only a software adapter, ".+" \(architecture \w+\), used only when asked for \(TFJS_BACKEND=webgpu\)/);
    assert.match(text, /software rendering on the CPU/);
  } else {
    assert.ok(["tensorflow", "webgpu"].includes(auto.name), `a hardware adapter (${info.description}) is picked before wasm: got ${auto.name}`);
  }
});

/** Runs `code` in a fresh Node process (the library through tsx); returns its stdout and stderr. */
// Under tsx the child loads the library's sources. The single-file bundle of this test for a GPU machine
// (scripts/gpu/run.sh, run from the project root) has no tsx there: its child loads the built library.
const bundled = !__filename.endsWith(".ts");
const source = (file: string) => (bundled ? `./lib/dist/${file}.js` : `./lib/src/${file}.ts`);

function fresh(code: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [...(bundled ? [] : ["--import", "tsx"]), "-e", code],
    { cwd: bundled ? process.cwd() : `${__dirname}/..`, encoding: "utf8", timeout: 900_000 });
}

test("Dawn's notes on lowered limits are kept out of stderr; everything else written there still arrives", () => {
  const r = fresh(`const fs = require("node:fs");
    const { withoutDawnLimitNotes } = require("${source("engine/dawn-log")}");
    withoutDawnLimitNotes(async () => {
      fs.writeSync(2, "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\\n");
      fs.writeSync(2, "a real problem\\n");
      return 7;
    }).then((v) => console.log("returned " + v));`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "returned 7\n");
  assert.equal(r.stderr, "a real problem\n");
});

test("starting webgpu prints nothing to stderr (no Dawn limit notes, no TensorFlow.js advice)", async (t) => {
  const skip = await skipUnlessWebgpu();
  if (skip) return t.skip(skip);
  const r = fresh(`const { initBackend, tf } = require("${source("index")}");
    initBackend("webgpu").then((b) => console.log(b.name, tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).dataSync()[0]));`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^webgpu 2$/m);
  assert.equal(r.stderr, "");
});

/** Values made on cpu, for comparing what webgpu reads back. */
function sample(): Record<string, tf.Tensor> {
  return {
    // Larger than the 256x256 pixels the canvas-based read handled at a time, and not a multiple of it.
    big: tf.randomNormal([301, 701], 0, 1, "float32", 11),
    ints: tf.tensor2d([[1, -2, 3], [2147483, 0, -7]], [2, 3], "int32"),
    flags: tf.tensor1d([true, false, true, true, false], "bool"),
    scalar: tf.scalar(-0.125),
    complex: tf.complex([1, -2, 3.5], [0.5, 4, -6]),
  };
}

test("on webgpu, dataSync, arraySync and bufferSync read what cpu computes", async (t) => {
  const skip = await skipUnlessWebgpu();
  if (skip) return t.skip(skip);
  await initBackend("cpu");
  const ref = Object.fromEntries(Object.entries(sample()).map(([k, v]) => [k, { data: Array.from(v.dataSync()), array: v.arraySync(), dtype: v.dtype }]));
  const refProduct = tf.tidy(() => tf.matMul(tf.randomNormal([64, 700], 0, 1, "float32", 1), tf.randomNormal([700, 30], 0, 1, "float32", 2)).arraySync() as number[][]);
  await initBackend("webgpu");
  // Small ops on values still on the CPU are otherwise computed there: keep everything on the GPU.
  const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  t.after(() => tf.env().set("WEBGPU_CPU_FORWARD", forward));
  const before = tf.memory().numTensors;
  const made = sample();
  for (const [name, tensor] of Object.entries(made)) {
    // A fresh result of a GPU op, so that the values live only on the GPU when read.
    const onGpu = tf.tidy(() => tensor.dtype === "complex64" ? tf.complex(tf.real(tensor), tf.imag(tensor)) : tf.add(tensor, tf.zerosLike(tensor)).cast(tensor.dtype));
    assert.equal(onGpu.dtype, ref[name].dtype);
    assert.deepEqual(Array.from(onGpu.dataSync()), ref[name].data, `${name}: dataSync`);
    assert.deepEqual(onGpu.arraySync(), ref[name].array, `${name}: arraySync`);
    onGpu.dispose();
  }
  const product = tf.tidy(() => tf.matMul(tf.randomNormal([64, 700], 0, 1, "float32", 1), tf.randomNormal([700, 30], 0, 1, "float32", 2)));
  const got = product.arraySync() as number[][];
  const worst = Math.max(...got.flatMap((row, i) => row.map((v, j) => Math.abs(v - refProduct[i][j]))));
  assert.ok(worst < 1e-3, `matMul on webgpu read synchronously is cpu's within 1e-3: ${worst}`);
  assert.deepEqual(product.bufferSync().get(3, 4), got[3][4]);
  // A synchronous read while an asynchronous one is still waiting: both complete, with the same values.
  const a = tf.sum(made.big), b = tf.mean(made.big);
  const pending = a.data();
  const meanNow = b.dataSync()[0];
  assert.equal((await pending)[0], a.dataSync()[0]);
  assert.ok(Math.abs(meanNow * made.big.size - a.dataSync()[0]) < 1e-2 * made.big.size, "the sum and the mean agree");
  tf.dispose([product, a, b, ...Object.values(made)]);
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
});

/** A seeded two-class problem in batches of 32: a fresh pair of tensors per batch, as a DataLoader gives. */
function blobs(): { train: BatchSource; valid: BatchSource } {
  const x = tf.tidy(() => tf.randomNormal([192, 20], 0, 1, "float32", 21).arraySync() as number[][]);
  const y = x.map((r) => [r[0] + 0.5 * r[1] - 0.25 * r[2] > 0 ? 1 : 0]);
  const source = (from: number, to: number): BatchSource => ({
    length: Math.ceil((to - from) / 32),
    *[Symbol.iterator]() {
      for (let i = from; i < to; i += 32) yield [tf.tensor2d(x.slice(i, i + 32)), tf.tensor2d(y.slice(i, i + 32))];
    },
  });
  return { train: source(0, 128), valid: source(128, 192) };
}

async function shortFit(backend: string) {
  await initBackend(backend);
  const model = new Sequential(new Linear(20, 8, { seed: 1 }), new ReLU(), new Linear(8, 1, { seed: 2 }));
  const learn = new Learner(blobs(), model, { lossFunc: mnistLoss, metrics: [batchAccuracy], progress: false });
  await learn.fit(3, 0.5);
  const out = { batch: learn.recorder.batchLosses, epochs: learn.recorder.values.map((v) => [v.trainLoss, v.validLoss, v.metrics.batchAccuracy]) };
  model.parameters().forEach((p) => p.dispose());
  return out;
}

test("on webgpu, relu gives cpu's values bit for bit (NaN kept, -0 to 0) and cpu's gradients", async (t) => {
  const skip = await skipUnlessWebgpu();
  if (skip) return t.skip(skip);
  // A ragged length, so that the last workgroup is partly empty.
  const values = [NaN, -Infinity, -3.5, -1e-45, -0, 0, 1e-45, 2, Infinity, -NaN];
  const inputs = Array.from({ length: 301 }, (_, i) => values[i % values.length] * (i % 7 === 6 ? 1e30 : 1));
  const run = () => tf.tidy(() => {
    // A fresh GPU result (not values still on the CPU), and relu's gradient through the tape.
    const x = tf.add(tf.tensor1d(inputs), tf.zeros([inputs.length]));
    const [y, dx] = [tf.relu(x), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), tf.range(0, inputs.length))))(x)];
    const ints = tf.tensor1d([-2, 0, 3], "int32");
    // int32 as is, and cast to float32 (on webgpu that keeps the int32 buffer under a float32 tensor).
    return { y: Array.from(y.dataSync()), dx: Array.from(dx.dataSync()), ints: [...tf.relu(ints).dataSync(), ...tf.relu(tf.cast(ints, "float32")).dataSync()] };
  });
  await initBackend("cpu");
  const ref = run();
  await initBackend("webgpu");
  const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  t.after(() => tf.env().set("WEBGPU_CPU_FORWARD", forward));
  const got = run();
  got.y.forEach((v, i) => assert.ok(Object.is(v, ref.y[i]), `relu(${inputs[i]}): webgpu ${v}, cpu ${ref.y[i]}`));
  got.dx.forEach((v, i) => assert.ok(Object.is(v, ref.dx[i]), `relu's gradient at ${inputs[i]}: webgpu ${v}, cpu ${ref.dx[i]}`));
  assert.deepEqual(got.ints, [0, 0, 3, 0, 0, 3]);
  assert.ok(isOverridden("Relu", "webgpu"), "the library's ReLU kernel is in place on webgpu");
});

test("on webgpu, a short fit with the Learner and Recorder gives cpu's losses", async (t) => {
  const skip = await skipUnlessWebgpu();
  if (skip) return t.skip(skip);
  const cpu = await shortFit("cpu");
  const gpu = await shortFit("webgpu");
  assert.equal(gpu.batch.length, cpu.batch.length);
  assert.ok(cpu.epochs[2][1] < cpu.epochs[0][1], `the validation loss falls on cpu: ${cpu.epochs.map((e) => e[1])}`);
  cpu.batch.forEach((l, i) => assert.ok(Math.abs(l - gpu.batch[i]) <= 1e-4, `batch ${i}: cpu ${l}, webgpu ${gpu.batch[i]}`));
  cpu.epochs.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - gpu.epochs[i][j]) <= 1e-4, `epoch ${i}, column ${j}: cpu ${v}, webgpu ${gpu.epochs[i][j]}`)));
});

/**
 * Which notebooks run on webgpu: FASTBOOK_WEBGPU_NOTEBOOKS=04 (the default: 04b is left out, as on a software
 * adapter it takes many minutes, most of it the CNN), all, or none.
 */
function notebookSetting(file: string): string | false {
  const setting = (process.env.FASTBOOK_WEBGPU_NOTEBOOKS || "04").trim().toLowerCase();
  if (!["all", "04", "none"].includes(setting)) throw new Error(`FASTBOOK_WEBGPU_NOTEBOOKS="${setting}": use all, 04 or none.`);
  if (setting === "none" || (setting === "04" && !file.startsWith("04_"))) return `left out by FASTBOOK_WEBGPU_NOTEBOOKS=${setting}`;
  return false;
}

for (const file of ["04_mnist_basics.ipynb", "04b_training_a_digit_classifier.ipynb"]) {
  test(`notebook ${file} runs on webgpu and shows the chapter's results`, async (t) => {
    const skip = notebookSetting(file) || (await skipUnlessMnist()) || (await skipUnlessWebgpu());
    if (skip) return t.skip(skip);
    // Loaded here, so that the bundle for a GPU machine (scripts/gpu/run.sh), which has no Jupyter, leaves it out.
    const { runAndCheck } = await import("./notebook-checks");
    const { text, seconds } = await runAndCheck(file, { TFJS_BACKEND: "webgpu" });
    assert.match(text, /on backend "webgpu" from @tensorflow\/tfjs-backend-webgpu on Dawn \(webgpu\), adapter "/, "the notebook ran on webgpu");
    t.diagnostic(`${file} on webgpu: ${seconds.toFixed(0)} s`);
  });
}
