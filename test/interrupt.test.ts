// Kernel > Interrupt through a real tslab kernel: scripts/interrupt_check.py starts the kernel, interrupts
// a fit in its third epoch, reads the Learner from the next cell, fits again, then interrupts a long
// loop written with `interruptible`. Here we check what it saw.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { ROOT, buildLib, jupyterEnv, pythonPath, writeKernelspec } from "../scripts/setup.mjs";

interface Report {
  driverError?: string;
  setup: { status: string; ready: { tensors: number } | null; stderr: string };
  fit: { status: string; stderr: string };
  state: {
    epochsRecorded: number; batchLosses: number; iter: number; epoch: number; batchIndex: number; batchesPerEpoch: number;
    stopped?: { reason: string; epoch: number; batchesDone: number; message: string }; listeners: number; tensors: number;
  } | null;
  bar: string[];
  refit: { newRows: number; trainLosses: number[]; iter: number; epoch: number; batchesPerEpoch: number; stopped: unknown; listeners: number; tensors: number } | null;
  loop: { status: string; stderr: string; after: { spins: number; stillSpinning: boolean; listeners: number } | null };
}

test("Kernel > Interrupt stops a fit at the next batch; the next cells see a consistent Learner and fit cleanly", { timeout: 1_800_000 }, () => {
  writeKernelspec();
  buildLib();
  const run = spawnSync(pythonPath(), [path.join(ROOT, "scripts", "interrupt_check.py")], { env: jupyterEnv(ROOT), encoding: "utf8", timeout: 1_780_000 });
  const line = run.stdout.trim().split("\n").pop() ?? "";
  assert.ok(line.startsWith("{"), `the driver printed no report (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  const r = JSON.parse(line) as Report;
  assert.equal(r.driverError, undefined, r.driverError);
  assert.equal(r.setup.status, "ok", r.setup.stderr);

  // The interrupted cell fails at once with the library's one line, not tslab's error and its frames.
  assert.equal(r.fit.status, "error", `the fit cell answered ${r.fit.status}; the driver saw: ${line}`);
  assert.equal(r.fit.stderr, "Interrupted: fit stops at its next step.\n");

  // The next cell finds the fit stopped where it was interrupted (epoch 3, or a little later on a busy
  // machine), in a training or a validation batch (both are correct: the interrupt lands wherever the
  // loop is), with the epochs before it recorded.
  const s = r.state!;
  assert.ok(s, "the state cell printed its report");
  assert.equal(s.stopped?.reason, "interrupted");
  const at = s.stopped!.epoch;
  assert.ok(at >= 3 && at < 4000, `stopped in epoch ${at}`);
  assert.equal(s.epochsRecorded, at - 1);
  const where = s.stopped!.message.match(/ after (\d+) of (\d+) (training|validation) batches\./);
  assert.ok(where, `where the fit stopped: ${s.stopped!.message}`);
  const [done, of, phase] = [Number(where[1]), Number(where[2]), where[3]];
  assert.equal(of, phase === "training" ? 64 : 11, `${phase} batches per epoch`);
  assert.match(s.stopped!.message, new RegExp(`^fit was interrupted in epoch ${at}/4000, after ${done} of ${of} ${phase} batches\\. ` +
    `The Recorder holds the ${at - 1} epochs completed`));
  // Counters agree with each other: iterations = the full epochs + the training batches of the last one
  // (all of them when it stopped in validation).
  assert.equal(s.epoch, at - 1);
  assert.equal(s.batchIndex, s.stopped!.batchesDone);
  assert.equal(s.batchIndex, done);
  assert.ok(done < of);
  assert.equal(s.iter, (at - 1) * s.batchesPerEpoch + (phase === "training" ? done : s.batchesPerEpoch));
  assert.equal(s.batchLosses, s.iter, "one recorded loss per step taken");
  assert.equal(s.listeners, 0, "no SIGINT listener is left");
  assert.equal(s.tensors, r.setup.ready!.tensors, "no tensor of the interrupted batch is left");
  assert.match(r.bar[0] ?? "", new RegExp(`${at - 1} epochs in .* s on backend .*; interrupted in epoch ${at}/4000, after ${done} of ${of} ${phase} batches`),
    "the progress display says where the fit stopped");

  // The next fit starts clean: its own three rows, real losses, counters of its own.
  const f = r.refit!;
  assert.ok(f, "the second fit printed its report");
  assert.equal(f.newRows, 3);
  assert.ok(f.trainLosses.every((l) => Number.isFinite(l) && l > 0), `train losses ${f.trainLosses}`);
  assert.deepEqual([f.iter, f.epoch, f.stopped], [3 * f.batchesPerEpoch, 3, null]);
  assert.equal(f.listeners, 0);
  assert.equal(f.tensors, r.setup.ready!.tensors);

  // A library loop made with interruptible() stops too, and leaves no listener.
  assert.equal(r.loop.status, "error");
  assert.equal(r.loop.stderr, "Interrupted: the busy loop stops at its next step.\n");
  assert.ok(r.loop.after, "the cell after the loop ran");
  assert.ok(r.loop.after!.spins > 0);
  assert.equal(r.loop.after!.stillSpinning, false, "the loop no longer runs in the background");
  assert.equal(r.loop.after!.listeners, 0);
});
