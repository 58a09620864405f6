#!/usr/bin/python3
"""What a learner sees when a cell fails, through a real tslab kernel.

usage: errors_check.py   (run with the environment of scripts/jupyter-env.mjs; the library built)

Runs cells that throw an error of the library, one of TensorFlow.js, and one inside a fit, asks for
completions after a class name, then interrupts a fit in its first epoch. Prints one JSON object with each cell's reply status, stderr and displays, for
test/notebook-errors.test.ts to check.
"""
import re
import time

from kernel_driver import Cell, debug, report

SETUP = r"""
import { tf, initBackend, crossEntropy, Learner, Linear, DataLoaders, ImageDataLoaders, mnistLoss } from "fastbook-ts";
await initBackend("wasm");
const [x, y] = [tf.randomNormal([640, 8], 0, 1, "float32", 1), tf.cast(tf.greater(tf.randomUniform([640, 1], 0, 1, "float32", 2), 0.5), "float32")];
const dls = DataLoaders.fromTensors(x.slice(0, 512), y.slice(0, 512), x.slice(512), y.slice(512), { bs: 32, seed: 1 });
// 16 batches of 150 ms: the first epoch lasts over 2 s, time enough to interrupt it.
const slow = { afterBatch: () => { const until = Date.now() + 150; while (Date.now() < until); } };
console.log("READY");
"""

CELLS = {
    "library": 'crossEntropy(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([5, 0], "int32"));',
    "tfjs": "tf.matMul(tf.ones([2, 3]), tf.ones([2, 3]));",
    "inFit": "await new Learner(dls, new Linear(8, 1, { seed: 1 }), { lossFunc: crossEntropy }).fit(1, 0.1);",
}

FIT = "await new Learner(dls, new Linear(8, 1, { seed: 1 }), { lossFunc: mnistLoss, cbs: [slow] }).fit(3, 0.1);"


def main(km, kc, out):
    setup = Cell(kc, SETUP).finish(600)
    out["setup"] = {"status": setup.reply["status"], "stdout": setup.stdout, "stderr": setup.stderr}
    for name, code in CELLS.items():
        cell = Cell(kc, code).finish(600)
        out[name] = {"status": cell.reply["status"], "stdout": cell.stdout, "stderr": cell.stderr}
        time.sleep(0.5)  # tslab drops requests that arrive within 200 ms of a failed cell

    out["complete"] = {}
    for code in ["ImageDataLoaders.", "Learner.", "tf.sig"]:
        msg_id = kc.complete(code, len(code))
        while True:
            reply = kc.get_shell_msg(timeout=600)
            if reply["parent_header"].get("msg_id") == msg_id:
                out["complete"][code] = reply["content"]["matches"]
                break

    fit = Cell(kc, FIT)
    deadline = time.time() + 600
    while time.time() < deadline and not fit.idle and not any(re.search(r"epoch 1/3, training [1-9]", d) for d in fit.displays):
        fit.pump(0.1)
    for _ in range(10):  # an interrupt that reaches tslab while it compiles the cell is lost
        km.interrupt_kernel()
        if fit.pump(2):
            break
    fit.finish(600)
    fit.pump(3, after_idle=True)  # the fit stops at its next batch, then draws its final state
    debug("displays", fit.by_id)
    out["interrupt"] = {"status": fit.reply["status"], "stdout": fit.stdout, "stderr": fit.stderr,
                        "displays": list(fit.by_id.values())}


if __name__ == "__main__":
    report(main)
