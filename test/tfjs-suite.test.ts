// TensorFlow.js's own op suite (scripts/test-tfjs.ts, `npm run test:tfjs`) as part of `npm test`: the wasm
// backend with this library's kernels must pass every spec that cpu passes (but the exceptions listed in
// test/tfjs-exceptions.json) and every spec that stock wasm passes.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { spawnSync } from "node:child_process";

test("TensorFlow.js's op suite: the default backend passes what cpu passes, nothing broken by the library", { timeout: 15 * 60_000 }, () => {
  const root = path.resolve(__dirname, "..");
  const r = spawnSync(path.join(root, "node_modules", ".bin", "tsx"), [path.join(root, "scripts", "test-tfjs.ts")],
    { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const out = `${r.stdout}\n${r.stderr}`.trim();
  // The counts, for the test log.
  console.log(out.split("\n").filter((l) => /^\s+(cpu|wasm|default|noblas|tensorflow|webgpu)\s/.test(l)).join("\n"));
  assert.equal(r.status, 0, out.slice(-6000));
  assert.match(out, /^OK: nothing broken by the library's kernels/m);
});
