// scripts/gpu/run-notebook.mjs, the Jupyter client in Node that runs the notebooks on a GPU machine without
// Python's Jupyter, against the real tslab kernel: what it records must be what nbclient records
// (scripts/execute_notebook.py), a failing cell included, and notebook 04 must pass its own checks.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { ROOT, buildLib, jupyterEnv, writeKernelspec } from "../scripts/setup.mjs";
import { executeNotebook } from "../scripts/run-notebooks";
import { checks, outputsText, NOTEBOOKS } from "./notebook-checks";
import { skipUnlessMnist, tempDir } from "./helpers";

const RUNNER = path.join(ROOT, "scripts", "gpu", "run-notebook.mjs");

function runNode(input: string, output: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [RUNNER, input, output], { env: jupyterEnv(ROOT), encoding: "utf8", timeout: 600_000 });
  return { status: r.status, stderr: r.stderr };
}

const code = (source: string) => ({ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source });

test("the Node runner records what nbclient records, and stops at a failing cell with the same paragraph", { timeout: 600_000 }, async () => {
  writeKernelspec();
  buildLib();
  const dir = tempDir("fastbook-runner-");
  const input = path.join(dir, "stops.ipynb");
  const template = JSON.parse(fs.readFileSync(path.join(NOTEBOOKS, "04_mnist_basics.ipynb"), "utf8")) as { metadata: unknown };
  fs.writeFileSync(input, JSON.stringify({
    cells: [
      code('console.log("first cell");\nconsole.error("to stderr");'),
      { cell_type: "markdown", metadata: {}, source: "Text between." },
      code('const n: number = 6 * 7;\nconsole.log(`n is ${n}`);\nthrow new Error("stopped on purpose");'),
      code('console.log("never printed");'),
    ],
    metadata: template.metadata, nbformat: 4, nbformat_minor: 5,
  }));
  const ours = runNode(input, path.join(dir, "node", "stops.ipynb"));
  const ref = await executeNotebook(input, path.join(dir, "python"), { echo: false });
  assert.equal(ours.status, 1, ours.stderr);
  assert.equal(ref.ok, false);
  const paragraph = (s: string) => s.slice(s.indexOf("NOTEBOOK FAILED:")).trim().replaceAll(path.join(dir, "node"), "OUT").replaceAll(path.join(dir, "python"), "OUT");
  assert.match(ours.stderr, /NOTEBOOK FAILED:.*code cell 2 \(cell 3 of 4/s);
  assert.match(ours.stderr, /stopped on purpose/);
  assert.equal(paragraph(ours.stderr), paragraph(ref.message));

  const seen = (file: string) => outputsText(file).cells.map((c) => (c.outputs ?? []).map((o) => `${o.output_type}:${"name" in o ? String(o.name) : ""}:${[o.text].flat().join("")}`));
  const node = seen(path.join(dir, "node", "stops.ipynb"));
  assert.deepEqual(node, seen(ref.ipynb));
  assert.deepEqual(node[0], ["stream:stdout:first cell\n", "stream:stderr:to stderr\n"]);
  assert.match(node[2].join(""), /n is 42[\s\S]*stopped on purpose/);
  assert.deepEqual(node[3], [], "the cell after the failure did not run");
});

test("notebook 04 through the Node runner passes its checks", { timeout: 900_000 }, async (t) => {
  const skip = await skipUnlessMnist();
  if (skip) return t.skip(skip);
  writeKernelspec();
  buildLib();
  const out = path.join(tempDir("fastbook-runner-"), "04_mnist_basics.ipynb");
  const r = runNode(path.join(NOTEBOOKS, "04_mnist_basics.ipynb"), out);
  assert.equal(r.status, 0, r.stderr);
  const { text, cells } = outputsText(out);
  const notes: string[] = [];
  checks["04_mnist_basics"](text, cells, notes);
  assert.ok(cells.filter((c) => c.cell_type === "code").every((c) => (c as { execution_count?: number }).execution_count), "every code cell has its execution count");
});
