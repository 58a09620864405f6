// One process of the TensorFlow.js op suite (bundled by scripts/test-tfjs.ts, run by node): boots jasmine,
// sets up one backend, loads tfjs-core's own specs against it and writes every spec's outcome as JSON.
//   node suite.cjs <mode> <out.json>    mode: cpu | wasm (stock) | default (initBackend()) |
//                                       noblas (initBackend("wasm") without OpenBLAS) | a backend name
// Environment: TFJS_SUITE_GREP (run only specs whose name contains it), TFJS_SUITE_EXCLUDE (a JSON array of
// full spec names not to run, e.g. one that never ends on this backend). Before each spec it prints a line
// "\u001e<full name>" to stdout, so that the parent can say which spec was running if it has to stop the
// process. A backend named explicitly (e.g. webgpu) that cannot start here is reported as
// { mode, unavailable: reason } rather than as a crash, so that the parent can decide what that means.
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { setTestEnvs } from "@tensorflow/tfjs-core/dist/jasmine_util";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { initBackend } from "../../lib/src/engine/backend";
import { removeWasmGlueHandlers } from "../../lib/src/engine/wasm-glue";

// jasmine's, made global below
declare const beforeEach: (fn: () => void) => void;
declare const describe: (name: string, fn: () => void) => void;
declare const it: (name: string, fn: () => void) => void;

interface SpecResult { name: string; status: string; message?: string }

// jasmine-core stays outside the bundle (tfjs-core's jasmine_util requires it too): one copy, its globals set.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jasmineRequire = require("jasmine-core/lib/jasmine-core/jasmine.js");
const jasmine = jasmineRequire.core(jasmineRequire);
const env = jasmine.getEnv();
Object.assign(globalThis, jasmineRequire.interface(jasmine, env));
jasmine.DEFAULT_TIMEOUT_INTERVAL = 120_000; // a limit for a spec that never settles, generous for a busy machine

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
  } else if (mode === "default") {
    const choice = await initBackend();
    backendName = choice.name;
    about = `${choice.name} from ${choice.source}`;
  } else {
    if (mode === "webgpu") {
      // A read that never completes would block the whole process inside dataSync(); fail that spec after
      // a minute instead of the library's default ten (the parent's per-spec limit is longer than this).
      process.env.FASTBOOK_WEBGPU_READ_TIMEOUT ??= "60";
    }
    let choice;
    try {
      choice = await initBackend(mode);
    } catch (e) {
      fs.writeFileSync(outFile, JSON.stringify({ mode, unavailable: (e as Error).message }));
      return;
    }
    backendName = choice.name;
    about = `${choice.name} from ${choice.source}`;
  }
  // Every process names its environment alike, so that spec names match across backends. Synchronous reads
  // are on everywhere: webgpu has them in Node through this library (engine/webgpu-node.ts).
  setTestEnvs([{ name: "suite", backendName, flags: {}, isDataSync: true }]);
  // The wasm glue installs handlers that rethrow any uncaught error, ending the process; each spec's
  // describe block starts a fresh wasm module (ENGINE.reset), so they are taken away before every spec.
  beforeEach(removeWasmGlueHandlers);
  await import("@tensorflow/tfjs-core/dist/tests");
  if (process.env.TFJS_SUITE_SELF_TEST === "hang") {
    // For test/tfjs-suite.test.ts: a spec that blocks the thread for good, which jasmine's own timeout
    // cannot stop; the parent's per-spec limit must.
    describe("runner self-test", () => it("blocks forever", () => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }));
  }

  const results: SpecResult[] = [];
  const errors: string[] = [];
  // A few specs share their full name with another; the second and later get " (#2)" etc., so that every
  // spec has a name of its own (jasmine runs them in a fixed order, so the numbering is the same each run).
  const seen = new Map<string, number>();
  env.addReporter({
    specStarted(r: { fullName: string }) { process.stdout.write(`\u001e${r.fullName}\n`); },
    specDone(r: { fullName: string; status: string; failedExpectations: { message: string }[] }) {
      const message = r.failedExpectations.map((f) => f.message).join("\n").slice(0, 500) || undefined;
      const k = (seen.get(r.fullName) ?? 0) + 1;
      seen.set(r.fullName, k);
      results.push({ name: k === 1 ? r.fullName : `${r.fullName} (#${k})`, status: r.status, message });
    },
    // Errors jasmine could not pin on a spec (in a suite's afterAll, or thrown between specs).
    suiteDone(r: { fullName: string; failedExpectations: { message: string }[] }) {
      for (const f of r.failedExpectations) errors.push(`in suite "${r.fullName}": ${f.message.slice(0, 300)}`);
    },
  });
  const grep = process.env.TFJS_SUITE_GREP?.toLowerCase();
  const exclude = new Set<string>(JSON.parse(process.env.TFJS_SUITE_EXCLUDE ?? "[]"));
  env.configure({
    random: false, failSpecWithNoExpectations: false,
    specFilter: (spec: { getFullName(): string }) => {
      const name = spec.getFullName();
      return !exclude.has(name) && (!grep || name.toLowerCase().includes(grep));
    },
  });
  const started = Date.now();
  await new Promise<void>((resolve) => {
    env.addReporter({
      jasmineDone(r: { failedExpectations?: { message: string }[] }) {
        for (const f of r.failedExpectations ?? []) errors.push(`outside any suite: ${f.message.slice(0, 300)}`);
        resolve();
      },
    });
    env.execute();
  });
  fs.writeFileSync(outFile, JSON.stringify({ mode, backend: backendName, about, seconds: (Date.now() - started) / 1000, results, errors }));
}

main().then(() => process.exit(0), (e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(2);
});
