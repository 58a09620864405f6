// TensorFlow.js's own op suite (scripts/test-tfjs.ts, `npm run test:tfjs`) as part of `npm test`: the wasm
// backend with this library's kernels must pass every spec that cpu passes (but the exceptions listed in
// test/tfjs-exceptions.json) and every spec that stock wasm passes; webgpu, where it can start, every spec
// that cpu passes but those test/tfjs-webgpu-failures.json lists with their reasons.
import { before, test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { spawnSync } from "node:child_process";

const root = path.resolve(__dirname, "..");

function runner(args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(path.join(root, "node_modules", ".bin", "tsx"), [path.join(root, "scripts", "test-tfjs.ts"), ...args],
    { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}`.trim() };
}

let full: { status: number | null; out: string };
before(() => {
  full = runner([]);
  // The counts, for the test log.
  console.log(full.out.split("\n").filter((l) => /^\s+(cpu|wasm|default|noblas|tensorflow|webgpu)\s/.test(l) || /^(OK|SKIPPED|FAIL|WARNING)/.test(l)).join("\n"));
}, { timeout: 90 * 60_000 });

/** The runner's FAIL lines, each naming its backend first. */
const failures = (onWebgpu: boolean) => full.out.split("\n").filter((l) => l.startsWith("FAIL: ") && l.startsWith("FAIL: webgpu") === onWebgpu);

test("TensorFlow.js's op suite: the default backend passes what cpu passes, nothing broken by the library", () => {
  assert.deepEqual(failures(false), [], full.out.slice(-6000));
  assert.match(full.out, /^OK: nothing broken by the library's kernels/m, full.out.slice(-6000));
});

test("TensorFlow.js's op suite on webgpu (synchronous reads): what cpu passes, but the listed failures", (t) => {
  assert.deepEqual(failures(true), [], full.out.slice(-6000));
  // The runner says why webgpu could not start; under CI=true that is a FAIL line above (as with skipUnlessWebgpu).
  const skipped = /^SKIPPED webgpu: (.*)$/m.exec(full.out);
  if (skipped) {
    t.skip(skipped[1]);
    return;
  }
  assert.match(full.out, /^OK webgpu: passes every spec cpu passes but the \d+ listed/m, full.out.slice(-6000));
  assert.match(full.out, /^\s+webgpu\s+\d+ passed\s+\d+ failed/m);
});

test("the op-suite runner stops a spec that blocks, names it and fails", { timeout: 120_000 }, () => {
  const r = runner(["--backend", "cpu", "--grep", "runner self-test"], { TFJS_SUITE_SELF_TEST: "hang", TFJS_SUITE_SPEC_TIMEOUT: "5" });
  assert.notEqual(r.status, 0, r.out);
  assert.match(r.out, /cpu\s+did not run: stopped: no progress for 5 s in spec "runner self-test blocks forever"/);
});
