#!/usr/bin/python3
"""Kernel > Interrupt against a real tslab kernel, as a user would do it in Jupyter.

usage: interrupt_check.py   (run with the environment of scripts/jupyter-env.mjs; the library built)

Starts the project's tslab kernel in notebooks/, starts a long fit on synthetic data, interrupts the
kernel (SIGINT, as Jupyter's Interrupt button) once the progress bar shows epoch 3 or later, then runs the cells a
user would run next: one that reads the Learner's state and one that fits again; then interrupts a long
loop written with the library's `interruptible`. Prints one JSON object with what each step saw, for
test/interrupt.test.ts to check. Exit status 0 unless the kernel could not be driven at all.
"""
import re
import time

from kernel_driver import Cell, debug, report

SETUP = r"""
import { tf, initBackend, Learner, Linear, ReLU, Sequential, DataLoaders, mnistLoss, batchAccuracy, interruptible } from "fastbook-ts";
await initBackend("wasm");
// Two noisy blobs: 4096 items of 64 values, label 1 or 0; 64 training batches of 48 per epoch.
const [x, y] = tf.tidy(() => {
  const y = tf.cast(tf.greater(tf.randomUniform([3584, 1], 0, 1, "float32", 1), 0.5), "float32");
  return [tf.add(tf.randomNormal([3584, 64], 0, 0.3, "float32", 2), tf.mul(y, tf.linspace(-0.5, 0.5, 64).reshape([1, 64]))), y];
});
const dls = DataLoaders.fromTensors(x.slice(0, 3072), y.slice(0, 3072), x.slice(3072), y.slice(3072), { bs: 48, seed: 1 });
const learn = new Learner(dls, new Sequential(new Linear(64, 16, { seed: 1 }), new ReLU(), new Linear(16, 1, { seed: 2 })),
  { lossFunc: mnistLoss, metrics: [batchAccuracy] });
const listenersBefore = process.listenerCount("SIGINT");
const spin = { steps: 0 };
console.log("READY " + JSON.stringify({ tensors: tf.memory().numTensors }));
"""

FIT = "await learn.fit(4000, 0.1);"  # minutes long: only the interrupt can end it

STATE = r"""
await Promise.resolve(); // outside tslab's synchronous run of a cell, which hides every SIGINT listener
console.log("STATE " + JSON.stringify({
  epochsRecorded: learn.recorder.values.length,
  batchLosses: learn.recorder.batchLosses.length,
  stopped: learn.recorder.stopped && { reason: learn.recorder.stopped.reason, epoch: learn.recorder.stopped.epoch,
    batchesDone: learn.recorder.stopped.batchesDone, message: learn.recorder.stopped.message },
  iter: learn.iter, epoch: learn.epoch, batchIndex: learn.batchIndex, batchesPerEpoch: dls.train.length,
  listeners: process.listenerCount("SIGINT") - listenersBefore, tensors: tf.memory().numTensors,
}));
"""

REFIT = r"""
const recordedBefore = learn.recorder.values.length;
await learn.fit(3, 0.1);
const rows = learn.recorder.values.slice(recordedBefore);
console.log("REFIT " + JSON.stringify({
  newRows: rows.length, trainLosses: rows.map((r) => r.trainLoss), iter: learn.iter, epoch: learn.epoch,
  batchesPerEpoch: dls.train.length, stopped: learn.stopped ?? null,
  listeners: process.listenerCount("SIGINT") - listenersBefore, tensors: tf.memory().numTensors,
}));
"""

LOOP = r"""
await interruptible("the busy loop", async (watch) => {
  console.log("LOOPING");
  for (;;) { const until = Date.now() + 5; while (Date.now() < until) spin.steps++; await watch.checkpoint(`after ${spin.steps} spins`); }
});
"""

LOOP_STATE = r"""
await new Promise((r) => setTimeout(r, 50));
const spinsThen = spin.steps;
await new Promise((r) => setTimeout(r, 200));
console.log("LOOP " + JSON.stringify({ spins: spinsThen, stillSpinning: spin.steps !== spinsThen, listeners: process.listenerCount("SIGINT") - listenersBefore }));
"""


def main(km, kc, out):
    setup = Cell(kc, SETUP).finish(600)
    out["setup"] = {"status": setup.reply["status"], "ready": setup.marked("READY"), "stderr": setup.stderr}
    if setup.reply["status"] != "ok":
        return

    fit = Cell(kc, FIT)
    # Interrupt once the progress bar says the fit is in its third epoch or later.
    deadline = time.time() + 600
    # Epochs take ~20 ms once warm and the bar redraws every 100 ms, so "3" itself may never be shown.
    def epoch_shown(d):
        m = re.search(r"epoch (\d+)/4000", d)
        return m is not None and int(m.group(1)) >= 3
    while time.time() < deadline and not any(epoch_shown(d) for d in fit.displays):
        fit.pump(0.1)
        if fit.idle:
            break
    interrupted_at = time.time()
    debug("interrupting; last display:", fit.displays[-1:])
    # An interrupt that reaches tslab while it is still compiling a cell is lost: send it again until
    # the cell answers (a busy machine can delay the fit's start past the display above).
    for attempt in range(20):
        km.interrupt_kernel()
        if fit.pump(2):
            break
        debug("no answer 2 s after interrupt", attempt + 1)
    out["interrupts_sent"] = attempt + 1
    fit.finish(600)
    debug("fit cell answered", fit.reply)
    time.sleep(0.5)  # tslab drops requests that arrive within 200 ms of a failed cell
    out["fit"] = {"status": fit.reply["status"], "stderr": fit.stderr[:200],
                  "seconds_to_reply": round(time.time() - interrupted_at, 3)}

    state = Cell(kc, STATE).finish(600)
    out["state"] = state.marked("STATE")
    # The bar's display is updated in place once the fit has unwound: its last text says why it stopped.
    out["bar"] = [d for d in fit.displays + state.displays if "epoch" in d and " s on backend" in d][-1:]
    refit = Cell(kc, REFIT).finish(600)
    out["refit"] = refit.marked("REFIT") or {"stdout": refit.stdout, "stderr": refit.stderr, "error": refit.error}

    loop = Cell(kc, LOOP)
    deadline = time.time() + 600  # interrupt once it runs (an interrupt during tslab's compile is lost)
    while time.time() < deadline and "LOOPING" not in loop.stdout and not loop.idle:
        loop.pump(0.1)
    time.sleep(0.3)
    km.interrupt_kernel()
    loop.finish(600)
    time.sleep(0.5)
    loop_state = Cell(kc, LOOP_STATE).finish(600)
    out["loop"] = {"status": loop.reply["status"], "stderr": loop.stderr[:200], "after": loop_state.marked("LOOP")}
    debug("loop state cell", loop_state.reply, loop_state.stdout, loop_state.stderr)


if __name__ == "__main__":
    report(main)
