// One process of the TensorFlow.js op suite (bundled by scripts/test-tfjs.ts, run by node): boots jasmine,
// sets up one backend, loads tfjs-core's own specs against it and writes every spec's outcome as JSON.
//   node suite.cjs <mode> <out.json>    mode: cpu | wasm (stock) | default (initBackend()) |
//                                       noblas (initBackend("wasm") without OpenBLAS) | a backend name
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { setTestEnvs } from "@tensorflow/tfjs-core/dist/jasmine_util";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { initBackend } from "../../lib/src/engine/backend";
import { removeWasmGlueHandlers } from "../../lib/src/engine/wasm-glue";

declare const beforeEach: (fn: () => void) => void; // jasmine's, made global below

interface SpecResult { name: string; status: string; message?: string }

// jasmine-core stays outside the bundle (tfjs-core's jasmine_util requires it too): one copy, its globals set.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jasmineRequire = require("jasmine-core/lib/jasmine-core/jasmine.js");
const jasmine = jasmineRequire.core(jasmineRequire);
const env = jasmine.getEnv();
Object.assign(globalThis, jasmineRequire.interface(jasmine, env));
jasmine.DEFAULT_TIMEOUT_INTERVAL = 20000;

async function main(): Promise<void> {
  const [mode, outFile] = process.argv.slice(2);
  if (!mode || !outFile) throw new Error("usage: node suite.cjs <cpu|wasm|default|BACKEND> <out.json>");
  // The bundle is not next to the wasm binaries: point the backend at the installed package's.
  setWasmPaths(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")) + "/dist/");
  let backendName: string;
  let about: string;
  if (mode === "cpu" || mode === "wasm") {
    if (!(await tf.setBackend(mode))) throw new Error(`backend ${mode} failed to start`);
    backendName = mode;
    about = mode === "wasm" ? "@tensorflow/tfjs-backend-wasm, its own kernels" : "@tensorflow/tfjs-backend-cpu";
  } else if (mode === "noblas") {
    process.env.FASTBOOK_BLAS = "off";
    const choice = await initBackend("wasm");
    backendName = choice.name;
    about = `${choice.name} from ${choice.source}`;
  } else {
    const choice = await initBackend(mode === "default" ? undefined : mode);
    backendName = choice.name;
    about = `${choice.name} from ${choice.source}`;
  }
  // Every process names its environment alike, so that spec names match across backends.
  setTestEnvs([{ name: "suite", backendName, flags: {}, isDataSync: backendName !== "webgpu" }]);
  // The wasm glue installs handlers that rethrow any uncaught error, ending the process; each spec's
  // describe block starts a fresh wasm module (ENGINE.reset), so they are taken away before every spec.
  beforeEach(removeWasmGlueHandlers);
  await import("@tensorflow/tfjs-core/dist/tests");

  const results: SpecResult[] = [];
  env.addReporter({
    specDone(r: { fullName: string; status: string; failedExpectations: { message: string }[] }) {
      const message = r.failedExpectations.map((f) => f.message).join("\n").slice(0, 500) || undefined;
      results.push({ name: r.fullName, status: r.status, message });
    },
  });
  const grep = process.env.TFJS_SUITE_GREP;
  env.configure({
    random: false, failSpecWithNoExpectations: false,
    ...(grep ? { specFilter: (spec: { getFullName(): string }) => spec.getFullName().toLowerCase().includes(grep.toLowerCase()) } : {}),
  });
  const started = Date.now();
  await new Promise<void>((resolve) => {
    env.addReporter({ jasmineDone: () => resolve() });
    env.execute();
  });
  fs.writeFileSync(outFile, JSON.stringify({ mode, backend: backendName, about, seconds: (Date.now() - started) / 1000, results }));
}

main().then(() => process.exit(0), (e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(2);
});
