// What a learner sees when a cell fails, through a real tslab kernel (scripts/errors_check.py) and in a
// report (scripts/execute_notebook.py): the message on the first line, a few frames with short paths,
// no TensorFlow.js banner; an interrupted cell prints one line and its progress display ends complete.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { ROOT, buildLib, jupyterEnv, pythonPath, writeKernelspec } from "../scripts/setup.mjs";
import { executeNotebook } from "../scripts/run-notebooks";
import { MAX_FRAMES } from "../lib/src/error-format";

interface CellSeen { status: string; stdout: string; stderr: string; displays?: string[] }
type Report = Record<"setup" | "library" | "tfjs" | "inFit" | "interrupt", CellSeen> & { complete: Record<string, string[]>; driverError?: string };

/** Checks one failed cell's stderr: the message first, then at most MAX_FRAMES (+1 for "... more") short frames. */
function assertReadable(stderr: string, message: RegExp, frames: RegExp[]): void {
  const lines = stderr.trimEnd().split("\n");
  assert.match(lines[0], message, `the first line is the message:\n${stderr}`);
  const rest = lines.slice(1);
  assert.ok(rest.length >= 1 && rest.length <= MAX_FRAMES, `1 to ${MAX_FRAMES} lines under the message:\n${stderr}`);
  for (const line of rest) assert.match(line, /^ {4}(at |\.\.\. \d+ more frames$)/, `a frame: ${line}`);
  assert.ok(!stderr.includes(ROOT) && !stderr.includes("node_modules") && !/tslab|node:vm|evalmachine/.test(stderr), `short paths only:\n${stderr}`);
  for (const f of frames) assert.match(stderr, f);
}

test("a failing cell shows the error's message first, then a few short frames; no TensorFlow.js banner", { timeout: 1_800_000 }, () => {
  writeKernelspec();
  buildLib();
  const run = spawnSync(pythonPath(), [path.join(ROOT, "scripts", "errors_check.py")], { env: jupyterEnv(ROOT), encoding: "utf8", timeout: 1_780_000 });
  const line = run.stdout.trim().split("\n").pop() ?? "";
  assert.ok(line.startsWith("{"), `the driver printed no report (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  const r = JSON.parse(line) as Report;
  assert.equal(r.driverError, undefined, r.driverError);
  assert.equal(r.setup.status, "ok", r.setup.stderr);

  assert.equal(r.library.status, "error");
  assertReadable(r.library.stderr, /^Error: crossEntropy: class 5 at \[0\] is out of range: logits with 2 columns take classes 0\.\.1 /,
    [/^ {4}at crossEntropy \(lib\/dist\/losses\.js:\d+\)$/m, /^ {4}at notebook cell$/m]);
  assert.equal(r.tfjs.status, "error");
  assertReadable(r.tfjs.stderr, /^Error: Error in matMul: inner shapes \(3\) and \(2\) of Tensors with shapes 2,3 and 2,3 /,
    [/\(@tensorflow\/tfjs-core\)$/m, /^ {4}at notebook cell$/m]);
  assert.equal(r.inFit.status, "error");
  // The fit's first batch runs before its first await, so the cell's frame may or may not be an async one.
  assertReadable(r.inFit.stderr, /^Error: crossEntropy: logits must have shape \[N, classes\]/, [/^ {4}at (async )?notebook cell$/m]);
  for (const name of ["setup", "library", "tfjs", "inFit", "interrupt"] as const) {
    const cell = r[name];
    assert.doesNotMatch(`${cell.stdout}${cell.stderr}`, /looks like you are running TensorFlow\.js in Node/, `no banner in ${name}`);
  }

  // Tab after a class name lists the class's own members, not what every function has.
  const own = r.complete["ImageDataLoaders."];
  assert.ok(own.includes("fromFolder") && own.includes("fromIdxFolder"), `ImageDataLoaders. completes to ${own}`);
  for (const fnMember of ["apply", "bind", "call", "caller", "prototype"]) assert.ok(!own.includes(fnMember), `no ${fnMember} in ${own}`);
  assert.deepEqual(r.complete["Learner."], []);
  assert.ok(r.complete["tf.sig"].includes("sigmoid"), `other completions are untouched: ${r.complete["tf.sig"]}`);

  // Kernel > Interrupt in the first epoch: one line, no frames; the table without rows is cleared and the
  // bar says where the fit stopped.
  const i = r.interrupt;
  assert.equal(i.status, "error");
  assert.equal(i.stderr, "Interrupted: fit stops at its next step.\n");
  assert.equal(i.stdout, "");
  assert.ok(!i.displays!.some((d) => /<th/.test(d)), `no table header left: ${i.displays}`);
  assert.ok(i.displays!.some((d) => /0 epochs in [\d.]+ s on backend &quot;wasm&quot;; interrupted in epoch 1\/3, after \d+ of 16 training batches/.test(d)),
    `the bar's final state: ${i.displays}`);
});

test("in a report, a failed cell's output starts with the error's message", { timeout: 1_800_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(ROOT, ".test-errors-")); // inside the project, so that "fastbook-ts" resolves
  try {
    const cell = (source: string) => ({ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source });
    const nb = {
      cells: [cell('import { tf, crossEntropy } from "fastbook-ts";'), cell('crossEntropy(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([5, 0], "int32"));')],
      metadata: { kernelspec: { display_name: "TypeScript", language: "typescript", name: "tslab" } }, nbformat: 4, nbformat_minor: 5,
    };
    const input = path.join(dir, "fails.ipynb");
    fs.writeFileSync(input, JSON.stringify(nb));
    const result = await executeNotebook(input, path.join(dir, "out"), { echo: false });
    assert.equal(result.ok, false);
    const executed = JSON.parse(fs.readFileSync(result.ipynb, "utf8")) as { cells: { outputs: { name?: string; text?: string | string[] }[] }[] };
    const stderr = executed.cells[1].outputs.filter((o) => o.name === "stderr").map((o) => [o.text ?? ""].flat().join("")).join("");
    assertReadable(stderr, /^Error: crossEntropy: class 5 at \[0\] is out of range/, [/^ {4}at notebook cell$/m]);
    assert.match(result.message, /code cell 2 .*: Error: crossEntropy: class 5 at \[0\] is out of range/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
