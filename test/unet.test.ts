// The U-Net for salt segmentation: its shapes and parameters, the same logits, loss and gradients as the
// same network written in PyTorch (fixtures/unet_reference.py), the join of skip features as a channel
// concatenation, evaluation mode, no cpu fallback in a training step on wasm, and a few steps of learning.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { tf } from "../lib/src/tf";
import { initBackend } from "../lib/src/engine/backend";
import { cpuFallbackCalls } from "../lib/src/engine/cpu-fallback";
import { countParameters } from "../lib/src/nn";
import { adam, backward, GradStore } from "../lib/src/optim";
import { JoinConvBnRelu, UNet, bceLovaszLoss } from "../lib/src/segmentation/unet";
import { pixelBCE } from "../lib/src/segmentation/losses";
import { maxRelDiff } from "./helpers";

const PYTHON = "/usr/bin/python3";
const torchMissing = spawnSync(PYTHON, ["-c", "import torch, numpy"], { stdio: "ignore" }).status !== 0
  ? `${PYTHON} cannot import torch and numpy (Debian: apt-get install python3-torch python3-numpy)` : undefined;
if (torchMissing && process.env.CI === "true") throw new Error(`CI=true and ${torchMissing}.`);

test("UNet: one logit per pixel, cropped to the masks' size; its parameters counted by hand", async () => {
  await initBackend("cpu");
  const net = new UNet({ channels: [4, 8, 16], outputSize: [11, 13], seed: 1 });
  const x = tf.randomNormal([2, 16, 16, 1], 0, 1, "float32", 3);
  const y = net.forward(x);
  assert.deepEqual(y.shape, [2, 11, 13, 1]);
  const conv = (i: number, o: number) => 9 * i * o, bn = (c: number) => 2 * c;
  const byHand = conv(1, 4) + bn(4) + conv(4, 4) + bn(4) + conv(4, 8) + bn(8) + conv(8, 8) + bn(8) + conv(8, 16) + bn(16) + conv(16, 16) + bn(16) +
    (4 * 16 * 8 + 8) + (4 * 8 * 4 + 4) + // up-convolutions 16 -> 8 and 8 -> 4, with biases
    conv(16, 8) + bn(8) + conv(8, 8) + bn(8) + // decoder at the 8-channel level: [up 8, skip 8] -> 8
    conv(8, 4) + bn(4) + conv(4, 4) + bn(4) + (4 + 1); // the 4-channel level, then the 1x1 head
  assert.equal(countParameters(net), byHand);
  assert.equal(net.buffers().length, 2 * 10, "each of the ten BatchNorms keeps a running mean and variance");
  assert.throws(() => net.forward(tf.zeros([1, 18, 18, 1])), /UNet with 3 levels takes images .* divide by 4; got \[1,18,18,1\]/);
  assert.throws(() => new UNet({ channels: [8] }), /two or more positive whole numbers/);
  tf.dispose([x, y, ...net.parameters(), ...net.buffers()]);
});

test("the decoder's join is a convolution over the channel concatenation [up, skip]", async () => {
  await initBackend("cpu");
  const join = new JoinConvBnRelu(3, 5, 4, 9);
  join.train(false); // running statistics 0 and 1: the plain convolution shows through
  const up = tf.randomNormal([2, 6, 6, 3], 0, 1, "float32", 1), skip = tf.randomNormal([2, 6, 6, 5], 0, 1, "float32", 2);
  const joined = join.join(up, skip);
  const filter = tf.concat([join.fromUp.filter, join.fromSkip.filter], 2) as tf.Tensor4D;
  const direct = tf.relu(tf.div(tf.conv2d(tf.concat([up, skip], 3) as tf.Tensor4D, filter, 1, "same"), Math.sqrt(1 + 1e-5)));
  assert.ok(maxRelDiff(joined, direct) < 1e-5);
  tf.dispose([up, skip, joined, filter, direct, ...join.parameters(), ...join.buffers()]);
});

test("UNet gives PyTorch's logits, loss and gradients for the same weights and batch", { skip: torchMissing ?? false }, async () => {
  for (const backend of ["cpu", "wasm"]) {
    await initBackend(backend);
    const channels = [4, 8, 16];
    const net = new UNet({ channels, outputSize: [13, 13], seed: 5 });
    // Random BatchNorm weights and biases, so that they are exercised too.
    net.parameters().forEach((p, i) => { if (p.rank === 1) p.assign(tf.randomUniform(p.shape, 0.5, 1.5, "float32", 100 + i)); });
    const x = tf.randomNormal([3, 16, 16, 1], 0, 1, "float32", 7);
    const y = tf.cast(tf.greater(tf.randomUniform([3, 13, 13, 1], 0, 1, "float32", 8), 0.6), "float32");
    const params = net.parameters();
    const grads = new GradStore();
    let logits: tf.Tensor | undefined;
    const loss = backward(() => {
      logits = tf.keep(net.forward(x));
      return pixelBCE(logits, y);
    }, params, grads);
    const q = {
      channels, crop: [13, 13], params: params.map((p) => [Array.from(p.dataSync()), p.shape]),
      x: Array.from(x.dataSync()), x_shape: x.shape, y: Array.from(y.dataSync()),
    };
    const r = spawnSync(PYTHON, [path.join(__dirname, "fixtures", "unet_reference.py")], { input: JSON.stringify(q), encoding: "utf8", maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    const ref = JSON.parse(r.stdout) as { logits: number[]; loss: number; grads: number[][] };
    assert.ok(maxRelDiff(logits!, tf.tensor(ref.logits, logits!.shape)) < 1e-4, `${backend}: logits`);
    assert.ok(Math.abs(loss.dataSync()[0]! - ref.loss) < 1e-5, `${backend}: loss ${loss.dataSync()[0]} vs ${ref.loss}`);
    params.forEach((p, i) => {
      const g = grads.get(p)!;
      assert.ok(maxRelDiff(g, tf.tensor(ref.grads[i]!, p.shape)) < 1e-3, `${backend}: gradient of parameter ${i} [${p.shape}]`);
    });
    tf.dispose([x, y, logits!, loss, ...params, ...net.buffers()]);
    grads.zero();
  }
});

test("evaluation mode uses the running statistics: an image's prediction no longer depends on its batch", async () => {
  await initBackend("cpu");
  const net = new UNet({ channels: [4, 8], seed: 2 });
  const a = tf.randomNormal([2, 8, 8, 1], 0, 1, "float32", 1), b = tf.randomNormal([2, 8, 8, 1], 3, 2, "float32", 2);
  const first = (t: tf.Tensor) => tf.slice(t, 0, 1);
  const withB = net.forward(tf.concat([a, b])), alone = net.forward(a);
  assert.ok(maxRelDiff(first(withB), first(alone)) > 1e-3, "in training mode the batch's statistics matter");
  net.train(false);
  const withBEval = net.forward(tf.concat([a, b])), aloneEval = net.forward(a);
  assert.ok(maxRelDiff(first(withBEval), first(aloneEval)) < 1e-6, "in evaluation mode they do not");
  tf.dispose([a, b, withB, alone, withBEval, aloneEval, ...net.parameters(), ...net.buffers()]);
});

test("a U-Net training step (BCE + Lovász, Adam) runs on wasm without the cpu fallback", async () => {
  await initBackend("wasm");
  const net = new UNet({ channels: [4, 8, 16], outputSize: [13, 13], seed: 3 });
  const opt = adam()(net.parameters(), 1e-3);
  const x = tf.randomNormal([4, 16, 16, 1], 0, 1, "float32", 4);
  const y = tf.cast(tf.greater(tf.randomUniform([4, 13, 13, 1], 0, 1, "float32", 5), 0.5), "float32");
  const before = cpuFallbackCalls();
  const loss = backward(() => bceLovaszLoss(net.forward(x), y), opt.params, opt.grads);
  opt.step();
  opt.zeroGrad();
  loss.dataSync();
  assert.equal(cpuFallbackCalls() - before, 0, "no kernel of the forward pass, the loss, the gradients or the step ran on cpu");
  tf.dispose([x, y, loss, ...net.parameters(), ...net.buffers()]);
});

test("a small U-Net learns a simple mask: the loss falls over a few Adam steps", async () => {
  await initBackend("wasm");
  // Images: noise, with a brighter textured square; the mask is the square.
  const n = 8, size = 16;
  const masks = tf.tidy(() => {
    const rows = tf.range(0, size).reshape([1, size, 1, 1]), cols = tf.range(0, size).reshape([1, 1, size, 1]);
    const start = tf.tensor1d([2, 4, 6, 3, 5, 1, 7, 2]).reshape([n, 1, 1, 1]);
    const inside = (v: tf.Tensor) => tf.logicalAnd(tf.greaterEqual(v, start), tf.less(v, tf.add(start, 7)));
    return tf.cast(tf.logicalAnd(inside(rows), inside(cols)), "float32");
  });
  const x = tf.tidy(() => tf.add(tf.randomNormal([n, size, size, 1], 0, 0.5, "float32", 9), tf.mul(masks, 1.5)));
  const net = new UNet({ channels: [4, 8], seed: 4 });
  const opt = adam()(net.parameters(), 1e-2);
  const losses: number[] = [];
  for (let step = 0; step < 30; step++) {
    const loss = backward(() => pixelBCE(net.forward(x), masks), opt.params, opt.grads);
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
    opt.step();
    opt.zeroGrad();
  }
  assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `the loss fell from ${losses[0]} to ${losses.at(-1)}`);
  tf.dispose([x, masks, ...net.parameters(), ...net.buffers()]);
});
