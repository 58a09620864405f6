// The Learner: it converges on a tiny problem, fires events in order, and leaks no tensors.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import {
  tf, initBackend, Learner, CancelFit, CancelBatch, CancelTrain, CancelValidate, CancelEpoch, Linear, ReLU, Sequential, Interrupted, TrainingDiverged, InterruptWatch, interruptible,
  binaryCrossEntropy, mnistLoss, DataLoaders, type BatchSource, type Callback, type EventName,
} from "../lib/src/index";

/** y = 2x - 1 on 64 points, in batches of 16; a fresh pair of tensors per batch, as a DataLoader gives. */
function lineData(): { train: BatchSource; valid: BatchSource } {
  const xs = Array.from({ length: 64 }, (_, i) => i / 32 - 1);
  const source = (from: number, to: number): BatchSource => ({
    length: Math.ceil((to - from) / 16),
    *[Symbol.iterator]() {
      for (let i = from; i < to; i += 16) {
        const x = xs.slice(i, Math.min(i + 16, to));
        yield [tf.tensor2d(x, [x.length, 1]), tf.tensor2d(x.map((v) => 2 * v - 1), [x.length, 1])];
      }
    },
  });
  return { train: source(0, 48), valid: source(48, 64) };
}

const mse = (p: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mean(tf.square(tf.sub(p, t))) as tf.Scalar);
function meanAbsError(p: tf.Tensor, t: tf.Tensor) { return tf.tidy(() => tf.mean(tf.abs(tf.sub(p, t))) as tf.Scalar); }

test("fit converges on y = 2x - 1 and records a row per epoch", async () => {
  await initBackend("cpu");
  const model = new Linear(1, 1, { seed: 1 });
  const learn = new Learner(lineData(), model, { lossFunc: mse, metrics: [meanAbsError], progress: false });
  await learn.fit(60, 0.3);
  const [w, b] = [model.weight.dataSync()[0], model.bias.dataSync()[0]];
  assert.ok(Math.abs(w - 2) < 0.05 && Math.abs(b + 1) < 0.05, `w=${w} b=${b}`);
  const rows = learn.recorder.values;
  assert.equal(rows.length, 60);
  assert.ok(rows[59].validLoss < 1e-3 && rows[59].validLoss < rows[0].validLoss);
  assert.deepEqual(Object.keys(rows[0].metrics), ["meanAbsError"]);
  assert.equal(learn.recorder.batchLosses.length, 60 * 3);
});

test("callbacks hear the events in the loop's order", async () => {
  await initBackend("cpu");
  const heard: string[] = [];
  const events: EventName[] = ["beforeFit", "beforeEpoch", "beforeTrain", "beforeBatch", "afterPred", "afterLoss", "afterBackward",
    "afterStep", "afterBatch", "afterTrain", "beforeValidate", "afterValidate", "afterEpoch", "afterFit"];
  const spy: Callback = Object.fromEntries(events.map((e) => [e, (l: Learner) => heard.push(`${e}${l.training ? "" : "(v)"}`)]));
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 2 }), { lossFunc: mse, cbs: [spy], progress: false });
  await learn.fit(1, 0.1);
  const train = ["beforeBatch", "afterPred", "afterLoss", "afterBackward", "afterStep", "afterBatch"];
  const valid = ["beforeBatch(v)", "afterPred(v)", "afterLoss(v)", "afterBatch(v)"];
  assert.deepEqual(heard, [
    "beforeFit(v)", "beforeEpoch(v)", "beforeTrain", ...train, ...train, ...train, "afterTrain",
    "beforeValidate(v)", ...valid, "afterValidate(v)", "afterEpoch(v)", "afterFit(v)",
  ]);
});

test("a Cancel<Stage> ends only its stage: afterCancel<Stage>, then after<Stage>, and the loop goes on", async () => {
  await initBackend("cpu");
  const heard: string[] = [];
  const events: EventName[] = ["beforeEpoch", "beforeTrain", "afterStep", "afterCancelBatch", "afterBatch", "afterCancelTrain", "afterTrain",
    "beforeValidate", "afterCancelValidate", "afterValidate", "afterCancelEpoch", "afterEpoch", "afterFit"];
  const spy: Callback = { order: 10, ...Object.fromEntries(events.map((e) => [e, (l: Learner) => heard.push(`${e} ${l.epoch}${l.training ? "t" : "v"}${l.batchIndex}`)])) };
  const cancels: Callback = {
    afterLoss: (l) => { if (l.training && l.epoch === 0 && l.batchIndex === 1) throw new CancelBatch(); }, // no step for that batch
    beforeBatch: (l) => { if (l.training && l.epoch === 1 && l.batchIndex === 1) throw new CancelTrain(); },
    beforeValidate: (l) => { if (l.epoch === 1) throw new CancelValidate(); },
    afterTrain: (l) => { if (l.epoch === 2) throw new CancelEpoch(); },
  };
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 2 }), { lossFunc: mse, cbs: [cancels, spy], progress: false });
  await learn.fit(3, 0.1);
  assert.deepEqual(heard, [
    "beforeEpoch 0v0", "beforeTrain 0t0", "afterStep 0t0", "afterBatch 0t0", "afterCancelBatch 0t1", "afterBatch 0t1",
    "afterStep 0t2", "afterBatch 0t2", "afterTrain 0t3", "beforeValidate 0v0", "afterBatch 0v0", "afterValidate 0v1", "afterEpoch 0v1",
    "beforeEpoch 1v1", "beforeTrain 1t0", "afterStep 1t0", "afterBatch 1t0", "afterCancelTrain 1t1", "afterTrain 1t1",
    "afterCancelValidate 1v0", "afterValidate 1v0", "afterEpoch 1v0", // beforeValidate was cut short before the spy heard it
    "beforeEpoch 2v0", "beforeTrain 2t0", "afterStep 2t0", "afterBatch 2t0", "afterStep 2t1", "afterBatch 2t1", "afterStep 2t2", "afterBatch 2t2",
    "afterCancelEpoch 2t3", "afterEpoch 2t3", "afterFit 3t3", // as was afterTrain; after the loop, epoch is nEpoch
  ]);
  assert.equal(learn.stopped, undefined, "a cancelled stage is no stop of the fit");
  assert.equal(learn.iter, 3 + 1 + 3, "training batches run: 3, 1 and 3 (a cancelled batch still counts)");
  tf.dispose(learn.model.parameters());
});

test("no tensors leak: the count is the same after every epoch", async () => {
  await initBackend("cpu");
  const counts: number[] = [];
  const counter: Callback = { order: 20, afterEpoch: () => { counts.push(tf.memory().numTensors); } };
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 3 }), { lossFunc: mse, metrics: [meanAbsError], cbs: [counter], progress: false });
  const before = tf.memory().numTensors;
  await learn.fit(5, 0.1);
  assert.equal(new Set(counts).size, 1, `tensor counts per epoch: ${counts}`);
  assert.equal(tf.memory().numTensors, before, "nothing is left once fit returns");
});

test("a callback can stop training early with CancelFit", async () => {
  await initBackend("cpu");
  const stop: Callback = { afterEpoch: (l) => { if (l.epoch === 1) throw new CancelFit(); } };
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 4 }), { lossFunc: mse, cbs: [stop], progress: false });
  await learn.fit(10, 0.1);
  assert.equal(learn.recorder.values.length, 2);
});

test("a NaN loss stops training with an error that says what to do", async () => {
  await initBackend("cpu");
  const learn = new Learner(lineData(), new Linear(1, 1, { seed: 5 }), { lossFunc: mse, progress: false });
  await assert.rejects(learn.fit(3, 1e6), /Training diverged: the (training|validation) loss became (NaN|Infinity|-Infinity) in epoch 1\/3(, training batch \d+\/\d+| \(1 validation batch\)), at learning rate 1000000\..* Try a learning rate 10 times lower/);
});

/** Makes the training loss NaN at the given (1-based) epoch and batch, as a diverging model would. */
const nanAt = (epoch: number, batch: number): Callback => ({
  afterLoss: (l) => { if (l.training && l.epoch + 1 === epoch && l.batchIndex + 1 === batch) l.loss = tf.mul(l.loss!, NaN) as tf.Scalar; },
});
const weightsOf = (m: Linear) => [...m.weight.dataSync(), ...m.bias.dataSync()];

test("divergence stops fit at that batch, before its step; 1-based epoch and batch, learning rate, history kept", async () => {
  await initBackend("cpu");
  const model = new Linear(1, 1, { seed: 7 });
  let afterLastStep: number[] = [];
  const spy: Callback = { afterStep: () => { afterLastStep = weightsOf(model); } };
  const heard: string[] = [];
  const events: Callback = { afterCancelFit: (l) => heard.push(`cancel:${l.stopped?.reason}`), afterFit: () => heard.push("afterFit") };
  const learn = new Learner(lineData(), model, { lossFunc: mse, cbs: [nanAt(2, 2), spy, events], progress: false });
  const listeners = process.listenerCount("SIGINT");
  const before = tf.memory().numTensors;
  await assert.rejects(learn.fit(3, 0.1), (e: Error) => {
    assert.ok(e instanceof TrainingDiverged);
    assert.match(e.message, /^Training diverged: the training loss became NaN in epoch 2\/3, training batch 2\/3, at learning rate 0.1\. Its step was not taken/);
    assert.match(e.message, /restoreOnDivergence: true/);
    return true;
  });
  assert.deepEqual(weightsOf(model), afterLastStep, "the weights are those of the step before the NaN");
  assert.ok(afterLastStep.every(Number.isFinite));
  assert.equal(learn.recorder.values.length, 1, "epoch 1 recorded");
  assert.equal(learn.recorder.batchLosses.length, 4, "3 batches of epoch 1 and the first of epoch 2");
  assert.ok(learn.recorder.batchLosses.every(Number.isFinite));
  assert.equal(learn.recorder.stopped?.reason, "diverged");
  assert.deepEqual([learn.stopped?.epoch, learn.stopped?.phase, learn.stopped?.batchesDone, learn.iter], [2, "training", 1, 4]);
  assert.deepEqual(heard, ["cancel:diverged", "afterFit"]);
  assert.equal(process.listenerCount("SIGINT"), listeners, "no SIGINT listener left");
  assert.equal(tf.memory().numTensors, before, "nothing of the stopped batch is left");
  tf.dispose(model.parameters());
});

test("restoreOnDivergence puts back the weights from the start of the epoch", async () => {
  await initBackend("cpu");
  const model = new Linear(1, 1, { seed: 8 });
  const atEpochStart: number[][] = [];
  const spy: Callback = { beforeEpoch: () => { atEpochStart.push(weightsOf(model)); } };
  const learn = new Learner(lineData(), model, { lossFunc: mse, cbs: [nanAt(3, 3), spy], progress: false, restoreOnDivergence: true });
  const before = tf.memory().numTensors;
  await assert.rejects(learn.fit(4, 0.1), /epoch 3\/4, training batch 3\/3.*The weights were restored to those at the start of epoch 3\./);
  assert.equal(atEpochStart.length, 3);
  assert.notDeepEqual(atEpochStart[2], atEpochStart[1], "training moved the weights");
  assert.deepEqual(weightsOf(model), atEpochStart[2]);
  assert.equal(tf.memory().numTensors, before, "the saved weights are disposed");
  tf.dispose(model.parameters());
});

test("a loss that grows a thousandfold warns once, naming where", async (t) => {
  await initBackend("cpu");
  const warned: string[] = [];
  t.mock.method(console, "warn", (msg: string) => warned.push(msg));
  // A loss of exactly 10^iteration (gradient 0): 1, 10, 100, then 1000 (not over 1000x), then 10^4 at iteration 4 = epoch 2, batch 2.
  const grow: Callback = { afterLoss: (l) => { if (l.training) l.loss = tf.add(tf.mul(l.loss!, 0), 10 ** l.iter) as tf.Scalar; } };
  const model = new Linear(1, 1, { seed: 9 });
  const learn = new Learner(lineData(), model, { lossFunc: mse, cbs: [grow], progress: false });
  await learn.fit(3, 1e-12);
  assert.equal(warned.length, 1, warned.join("\n"));
  assert.match(warned[0], /^Warning: the training loss grew to 1\.00e\+4 in epoch 2\/3, training batch 2\/3, over 1000 times its first value \(1\.00\)\. The learning rate \(1e-12\) is probably too high/);
  tf.dispose(model.parameters());
});

/** Two noisy blobs of 64-pixel "images", labels 0/1, as loaders in batches of 32. */
function blobs(seed: number): { dls: DataLoaders<[tf.Tensor, tf.Tensor]>; dispose: () => void } {
  const n = 320, d = 64;
  const [x, y] = tf.tidy(() => {
    const y = tf.cast(tf.greater(tf.randomUniform([n, 1], 0, 1, "float32", seed), 0.5), "float32");
    return [tf.add(tf.randomNormal([n, d], 0, 0.3, "float32", seed + 1), tf.mul(y, tf.linspace(-0.5, 0.5, d).reshape([1, d]))), y];
  });
  const [tx, ty, vx, vy] = [x.slice(0, 256), y.slice(0, 256), x.slice(256), y.slice(256)];
  return { dls: DataLoaders.fromTensors(tx, ty, vx, vy, { bs: 32, seed }), dispose: () => tf.dispose([x, y, tx, ty, vx, vy]) };
}
const simpleNet = () => new Sequential(new Linear(64, 16, { seed: 1 }), new ReLU(), new Linear(16, 1, { seed: 2 }));

test("lr 1e6: binaryCrossEntropy stops with TrainingDiverged and finite weights; mnistLoss, which cannot grow, warns about the weights", async (t) => {
  await initBackend("cpu");
  const warned: string[] = [];
  t.mock.method(console, "warn", (msg: string) => warned.push(msg));
  const data = blobs(11);
  const bce = simpleNet();
  await assert.rejects(new Learner(data.dls, bce, { lossFunc: binaryCrossEntropy, progress: false }).fit(3, 1e6), TrainingDiverged);
  assert.ok(bce.parameters().every((p) => Array.from(p.dataSync()).every(Number.isFinite)));
  assert.equal(warned.length, 1);
  assert.match(warned[0], /the training loss grew to/);
  const mnist = simpleNet();
  const learn = new Learner(data.dls, mnist, { lossFunc: mnistLoss, progress: false });
  await learn.fit(2, 1e6);
  assert.equal(warned.length, 2);
  assert.match(warned[1], /^Warning: the largest weight grew from .* by the end of epoch 1\/2, over 1000 times\. The learning rate \(1000000\) is probably too high/);
  // The chapter's learning rate gives no warning.
  await new Learner(data.dls, simpleNet(), { lossFunc: mnistLoss, progress: false }).fit(3, 0.1);
  assert.equal(warned.length, 2);
  data.dispose();
});

test("an interrupt (SIGINT) stops fit before the next batch; the Learner is consistent and the next fit starts clean", async () => {
  await initBackend("cpu");
  const model = new Linear(1, 1, { seed: 10 });
  // SIGINT as Jupyter sends it, after the first batch of epoch 2 (iteration 4).
  const interrupt: Callback = { afterBatch: (l) => { if (l.training && l.iter === 3) process.emit("SIGINT"); } };
  const heard: string[] = [];
  const events: Callback = { afterCancelFit: (l) => heard.push(`cancel:${l.stopped?.reason}`), afterFit: () => heard.push("afterFit") };
  const learn = new Learner(lineData(), model, { lossFunc: mse, cbs: [interrupt, events], progress: false });
  const listeners = process.listenerCount("SIGINT");
  const before = tf.memory().numTensors;
  await assert.rejects(learn.fit(5, 0.1), (e: Error) => {
    assert.ok(e instanceof Interrupted);
    assert.match(e.message, /^fit was interrupted in epoch 2\/5, after 1 of 3 training batches\. The Recorder holds the 1 epoch completed in this fit/);
    return true;
  });
  assert.deepEqual(heard, ["cancel:interrupted", "afterFit"]);
  assert.equal(learn.recorder.values.length, 1);
  assert.equal(learn.recorder.batchLosses.length, 4);
  assert.equal(learn.recorder.stopped?.reason, "interrupted");
  assert.deepEqual([learn.epoch, learn.batchIndex, learn.iter], [1, 1, 4]);
  assert.equal(process.listenerCount("SIGINT"), listeners, "the listener is removed");
  assert.equal(tf.memory().numTensors, before, "the stopped batch's tensors are disposed");
  learn.cbs.splice(learn.cbs.indexOf(interrupt), 1);
  await learn.fit(2, 0.1);
  assert.deepEqual([learn.epoch, learn.iter, learn.stopped, learn.recorder.stopped], [2, 6, undefined, undefined]);
  assert.equal(learn.recorder.values.length, 3);
  assert.equal(learn.recorder.batchLosses.length, 10);
  tf.dispose(model.parameters());
});

test("two fits never share state: a second one waits for an interrupted one to unwind, and is refused while one runs", async () => {
  await initBackend("cpu");
  const model = new Linear(1, 1, { seed: 12 });
  const learn = new Learner(lineData(), model, { lossFunc: mse, progress: false });
  const first = learn.fit(50, 0.1);
  await assert.rejects(learn.fit(1, 0.1), /This Learner is already training: a fit started earlier has not finished\. Await it/);
  // The first fit runs its batches between yields to the event loop (every 20 ms), so by now it may have
  // finished an epoch or a few: whichever, it stops at its next batch.
  const epochsBefore = learn.recorder.values.length;
  process.emit("SIGINT"); // Kernel > Interrupt: tslab's cell returns at once, the fit stops at its next batch
  const second = learn.fit(2, 0.1);
  await assert.rejects(first, Interrupted);
  await second;
  assert.deepEqual([learn.epoch, learn.iter, learn.batchIndex], [2, 6, 1]);
  const epochsOfFirst = learn.recorder.values.length - 2;
  assert.ok(epochsOfFirst === epochsBefore || epochsOfFirst === epochsBefore + 1, // the epoch under way may end without another batch
    `the interrupted fit recorded ${epochsOfFirst} epochs, ${epochsBefore} when interrupted`);
  assert.ok(epochsOfFirst < 50);
  tf.dispose(model.parameters());
});

test("a real SIGINT reaches a long loop: the watch yields often enough, and removes its listener", async () => {
  const listeners = process.listenerCount("SIGINT");
  let steps = 0;
  setTimeout(() => process.kill(process.pid, "SIGINT"), 50);
  const started = Date.now();
  await assert.rejects(interruptible("a busy loop", async (watch) => {
    for (;;) {
      const until = Date.now() + 2; // 2 ms of synchronous work per step
      while (Date.now() < until) steps++;
      await watch.checkpoint("at a step");
    }
  }), /a busy loop was interrupted at a step/);
  const waited = Date.now() - started;
  assert.ok(waited < 50 + 100, `stopped ${waited - 50} ms after the signal`);
  assert.ok(steps > 0);
  assert.equal(process.listenerCount("SIGINT"), listeners);
  // The listener comes and goes in a microtask (never inside tslab's synchronous run of a cell).
  const watch = new InterruptWatch("x");
  await Promise.resolve();
  assert.equal(process.listenerCount("SIGINT"), listeners + 1);
  watch.close();
  watch.close();
  await Promise.resolve();
  assert.equal(process.listenerCount("SIGINT"), listeners);
});

test("tensor count is flat over repeated new Learner(...).fit, layers' initial tensors included", async () => {
  await initBackend("cpu");
  const data = blobs(13);
  const counts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const model = simpleNet();
    await new Learner(data.dls, model, { lossFunc: mnistLoss, progress: false }).fit(2, 0.1);
    tf.dispose(model.parameters());
    counts.push(tf.memory().numTensors);
  }
  assert.equal(new Set(counts).size, 1, `tensors after each run: ${counts}`);
  const before = tf.memory().numTensors;
  tf.dispose(simpleNet().parameters());
  assert.equal(tf.memory().numTensors, before, "a model's tensors are exactly its parameters");
  data.dispose();
});

test("afterLoss fires before the backward pass: a callback that scales the loss scales the step", async () => {
  await initBackend("cpu");
  const weightAfterOneStep = async (scale: number, lr: number) => {
    const model = new Linear(1, 1, { seed: 6 });
    const halve: Callback = { afterLoss: (l) => { if (l.training) l.loss = tf.mul(l.loss!, scale) as tf.Scalar; } };
    const stopAfterOne: Callback = { afterStep: () => { throw new CancelFit(); } };
    const learn = new Learner(lineData(), model, { lossFunc: mse, cbs: [halve, stopAfterOne], progress: false });
    await learn.fit(1, lr);
    const w = model.weight.dataSync()[0];
    tf.dispose(model.parameters());
    return w;
  };
  // Halving the loss halves its gradient: the same step as the full loss at half the learning rate.
  const scaled = await weightAfterOneStep(0.5, 0.2), plain = await weightAfterOneStep(1, 0.1);
  assert.ok(Math.abs(scaled - plain) < 1e-6, `scaled loss ${scaled} vs half learning rate ${plain}`);
});

test("the default callbacks are a list the Learner takes: defaults.callbacks, plus cbs; progress: false drops the table", async () => {
  const { defaults } = await import("../lib/src/index");
  const names = (l: Learner) => l.cbs.map((c) => c.name ?? "?");
  assert.deepEqual(defaults.callbacks.map((make) => make().name), ["divergence", "recorder", "progress"]);
  assert.deepEqual(names(new Learner(lineData(), new Linear(1, 1), { lossFunc: mse })), ["divergence", "recorder", "progress"]);
  assert.deepEqual(names(new Learner(lineData(), new Linear(1, 1), { lossFunc: mse, progress: false })), ["divergence", "recorder"]);
  // A callback of a default's class replaces that default; restoreOnDivergence is such a callback, configured.
  const { Recorder, DivergenceGuard } = await import("../lib/src/index");
  const mine = new Recorder();
  const withMine = new Learner(lineData(), new Linear(1, 1), { lossFunc: mse, cbs: [mine], progress: false, restoreOnDivergence: true });
  assert.deepEqual(names(withMine), ["divergence", "recorder"]);
  assert.equal(withMine.recorder, mine);
  assert.ok(withMine.cbs[0] instanceof DivergenceGuard && withMine.cbs[0].restore);
});

test("a validation loss that is not finite stops fit too, as a divergence, at the end of the validation pass", async () => {
  await initBackend("cpu");
  const model = new Linear(1, 1, { seed: 14 });
  const infValid: Callback = { afterLoss: (l) => { if (!l.training && l.epoch === 1) l.loss = tf.mul(l.loss!, Infinity) as tf.Scalar; } };
  const learn = new Learner(lineData(), model, { lossFunc: mse, cbs: [infValid], progress: false });
  const before = tf.memory().numTensors;
  await assert.rejects(learn.fit(3, 0.1), /the validation loss became Infinity in epoch 2\/3 \(1 validation batch\), at learning rate 0\.1/);
  assert.deepEqual([learn.recorder.values.length, learn.stopped?.reason, learn.stopped?.phase], [1, "diverged", "validation"]);
  assert.equal(tf.memory().numTensors, before, "the guard's validation sum is disposed");
  tf.dispose(model.parameters());
});

test("outside Jupyter: one Ctrl-C stops a loop at its next step; a second one, while a step still runs, ends the process", async () => {
  const { spawn } = await import("node:child_process");
  const path = await import("node:path");
  const script = `
    const { interruptible } = require(${JSON.stringify(path.join(__dirname, "..", "lib", "src", "interrupt.ts"))});
    interruptible("the loop", async (watch) => {
      await watch.checkpoint(); // listening from here on (the listener is added in a microtask)
      console.log("started");
      for (;;) { const until = Date.now() + 1000; while (Date.now() < until); await watch.checkpoint(); }
    }).catch((e) => { console.log("caught: " + e.message); process.exit(3); });`;
  const run = (signals: number) => new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("started") && !out.includes("sent")) {
        out += "sent";
        // Within one 1 s step, 200 ms apart (two signals sent at once may merge into one).
        for (let i = 0; i < signals; i++) setTimeout(() => child.kill("SIGINT"), 50 + 200 * i);
      }
    });
    child.on("exit", (code, signal) => resolve({ code, signal, out }));
  });
  const once = await run(1);
  assert.equal(once.code, 3, once.out);
  assert.match(once.out, /caught: the loop was interrupted\./);
  const twice = await run(2);
  assert.equal(twice.signal, "SIGINT", JSON.stringify(twice));
});
