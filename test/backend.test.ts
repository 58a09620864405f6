// Backend choice: the TFJS_BACKEND override, unknown names, and the automatic pick.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { describeBackend, initBackend } from "../lib/src/engine/backend";
import { tf } from "../lib/src/tf";

test("an unknown backend name is an error that lists the valid ones", async () => {
  await assert.rejects(initBackend("tpu"), /Unknown backend "tpu".*Choose one of: tensorflow, webgpu, wasm, cpu/);
});

test("a requested backend is used, and says where it came from", async () => {
  const cpu = await initBackend("cpu");
  assert.equal(cpu.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.match(describeBackend(cpu), /backend "cpu"/);
  const wasm = await initBackend("WASM");
  assert.equal(wasm.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
});

test("automatic choice takes tensorflow when it loads, else wasm, and gives reasons for what it skipped", async () => {
  let hasNode = true;
  try { require.resolve("@tensorflow/tfjs-node"); } catch { try { require.resolve("@tensorflow/tfjs-node-gpu"); } catch { hasNode = false; } }
  const choice = await initBackend("");
  if (hasNode) {
    assert.ok(["tensorflow", "wasm"].includes(choice.name));
  } else {
    assert.equal(choice.name, "wasm");
    assert.match(choice.skipped.join("\n"), /tensorflow: @tensorflow\/tfjs-node-gpu not installed; @tensorflow\/tfjs-node not installed/);
    // webgpu is skipped too: not installed, no adapter, or (here, without a GPU) only a software adapter.
    assert.match(choice.skipped.join("\n"), /webgpu: (webgpu not installed|@tensorflow\/tfjs-backend-webgpu not installed|no GPU adapter found|only a software adapter, ".+" \(architecture \w+\), used only when asked for \(TFJS_BACKEND=webgpu\))/);
  }
});

test("webgpu, when requested, runs or says why not", async (t) => {
  let installed = true;
  try { require.resolve("webgpu/package.json"); } catch { installed = false; }
  try {
    const choice = await initBackend("webgpu");
    assert.ok(installed);
    assert.equal(choice.name, "webgpu");
    t.diagnostic("webgpu runs here");
  } catch (e) {
    assert.match((e as Error).message, installed
      ? /Backend "webgpu" was requested but is not usable here: no GPU adapter found/
      : /Backend "webgpu" was requested but is not usable here: webgpu not installed/);
    t.diagnostic(installed ? "webgpu installed, no GPU here: checked that path" : "webgpu not installed: checked that path");
  }
});

test("a requested backend that cannot load is an error, not a silent fallback", async (t) => {
  let present = true;
  try { require.resolve("@tensorflow/tfjs-node"); } catch { present = false; }
  if (present) return t.skip("@tensorflow/tfjs-node is installed here");
  await assert.rejects(initBackend("tensorflow"), /Backend "tensorflow" was requested but is not usable here: .*not installed/);
});
