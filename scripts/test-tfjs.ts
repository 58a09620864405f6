// TensorFlow.js's own op suite (the jasmine specs shipped in @tensorflow/tfjs-core) against cpu, the stock
// wasm backend, the backend initBackend() sets up (wasm with this library's kernels, here), the same without
// OpenBLAS, and webgpu where its packages are installed. Prints each backend's counts and every spec that passes on cpu but fails on the default
// backend. Fails when a spec that passes on stock wasm fails with the library's kernels, or when a spec
// that passes on cpu fails on the default backend and is not among the exceptions in
// test/tfjs-exceptions.json.
//
//   npm run test:tfjs                 all of it
//   npm run test:tfjs -- --grep conv  only specs whose name contains "conv" (no pass/fail verdict)
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { build } from "esbuild";

const root = path.resolve(__dirname, "..");
const workDir = path.join(root, "node_modules", ".cache", "tfjs-suite");
const bundle = path.join(workDir, "suite.cjs");
const exceptionsFile = path.join(root, "test", "tfjs-exceptions.json");

interface SpecResult { name: string; status: string; message?: string }
interface Run { mode: string; backend: string; about: string; seconds: number; results: SpecResult[] }
interface Exceptions {
  /** Whole classes of specs, each by a pattern on the spec's name, with the reason. */
  classes: { pattern: string; reason: string }[];
  /** Single specs by full name, with the reason. */
  specs: { name: string; reason: string }[];
}

const installed = (pkg: string) => { try { require.resolve(`${pkg}/package.json`, { paths: [root] }); return true; } catch { return false; } };

/** The optional backend packages: bundled in when installed (so they share the one tfjs-core), else left out. */
const OPTIONAL = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs-backend-webgpu", "webgpu"];

async function bundleSuite(): Promise<void> {
  fs.mkdirSync(workDir, { recursive: true });
  await build({
    entryPoints: [path.join(root, "scripts", "tfjs-suite", "entry.ts")],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    // tfjs-core's `module` entry (ES modules) is what its specs import: resolve every package that way, so
    // that specs, backends and the library share one copy of tfjs-core.
    mainFields: ["module", "main"],
    // tfjs-core marks its spec files free of side effects; they are nothing but side effects.
    ignoreAnnotations: true,
    external: ["jasmine-core", "koffi", ...OPTIONAL.filter((p) => !installed(p) || p.startsWith("@tensorflow/tfjs-node"))],
    logLevel: "error",
    sourcemap: false,
  });
}

function runMode(mode: string, grep: string | undefined): Promise<Run | { mode: string; error: string }> {
  const out = path.join(workDir, `${mode}.json`);
  fs.rmSync(out, { force: true });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, mode, out], {
      cwd: root, stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...(grep ? { TFJS_SUITE_GREP: grep } : {}) },
    });
    let log = "";
    const keep = (b: Buffer) => { log = (log + b.toString()).slice(-4000); };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("close", (code) => {
      if (code === 0 && fs.existsSync(out)) resolve(JSON.parse(fs.readFileSync(out, "utf8")) as Run);
      else resolve({ mode, error: `exited with code ${code}:\n${log.trim().split("\n").slice(-15).join("\n")}` });
    });
  });
}

/** Runs jobs with at most `limit` at a time, keeping their order. */
async function pool<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => { while (next < jobs.length) { const i = next++; results[i] = await jobs[i](); } };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

const passed = (r: Run) => new Set(r.results.filter((s) => s.status === "passed").map((s) => s.name));
const failedSpecs = (r: Run) => new Map(r.results.filter((s) => s.status === "failed").map((s) => [s.name, s]));

function count(r: Run): string {
  const by = (s: string) => r.results.filter((x) => x.status === s).length;
  return `${String(by("passed")).padStart(5)} passed ${String(by("failed")).padStart(4)} failed ${String(by("pending") + by("excluded")).padStart(3)} pending  ` +
    `${r.seconds.toFixed(0).padStart(4)} s  ${r.about}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const grepAt = args.indexOf("--grep");
  const grep = grepAt >= 0 ? args[grepAt + 1] : undefined;
  const started = Date.now();
  await bundleSuite();
  // Other backends the library knows, where their packages are installed; each runs as initBackend(name).
  const others = installed("@tensorflow/tfjs-backend-webgpu") && installed("webgpu") ? ["webgpu"] : [];
  // "noblas": initBackend("wasm") with FASTBOOK_BLAS=off, the library's kernels for machines without OpenBLAS.
  const modes = ["cpu", "wasm", "default", "noblas", ...others];
  const parallel = Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
  const runs = await pool(modes.map((m) => () => runMode(m, grep)), parallel);

  const tfjsNode = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"].find(installed);
  console.log(`TensorFlow.js op suite (@tensorflow/tfjs-core ${require("@tensorflow/tfjs-core/package.json").version} specs)${grep ? `, specs matching "${grep}"` : ""}`);
  const byMode = new Map<string, Run>();
  for (const r of runs) {
    if ("error" in r) { console.log(`  ${r.mode.padEnd(8)} did not run: ${r.error}`); continue; }
    byMode.set(r.mode, r);
    console.log(`  ${r.mode.padEnd(8)}${count(r)}`);
  }
  // tfjs-node finds its native binding relative to its own files, so it cannot join the bundle, and outside
  // it it would bring a second tfjs-core: its backend is not run here.
  if (tfjsNode) console.log(`  ${"tensorflow".padEnd(8)}not run: ${tfjsNode} cannot share the specs' copy of tfjs-core`);
  const cpu = byMode.get("cpu"), stock = byMode.get("wasm"), def = byMode.get("default");
  if (!cpu || !stock || !def) { console.log("FAIL: cpu, stock wasm and the default backend must all run."); process.exitCode = 1; return; }
  if (byMode.has("webgpu")) console.log("  (other backends are compared with cpu below for information; the verdict is on the default backend and wasm)");

  const exceptions = JSON.parse(fs.readFileSync(exceptionsFile, "utf8")) as Exceptions;
  const classes = exceptions.classes.map((c) => ({ ...c, re: new RegExp(c.pattern) }));
  const listed = new Map(exceptions.specs.map((s) => [s.name, s.reason]));
  const cpuPassed = passed(cpu);
  // Specs whose constraints select cpu alone (switching between two cpu backends) never run elsewhere.
  const cpuOnly = [...cpuPassed].filter((n) => !def.results.some((s) => s.name === n));
  if (cpuOnly.length) console.log(`\n${cpuOnly.length} specs are for the cpu backend alone (not registered for the others), e.g. "${cpuOnly[0]}".`);

  /** Prints how `run` compares with cpu and stock wasm; returns the specs that fail the checks. */
  const compare = (run: Run, label: string, verdict: boolean) => {
    const runFailed = failedSpecs(run), runPassed = passed(run), names = new Set(run.results.map((s) => s.name));
    // (a) specs the library's kernels broke: pass on stock wasm, fail with the library's kernels.
    const broken = run.backend === "wasm" ? [...passed(stock)].filter((n) => !runPassed.has(n)) : [];
    // (b) specs cpu passes and this backend does not.
    const behind = [...cpuPassed].filter((n) => names.has(n) && !runPassed.has(n));
    const excused = new Map<string, string>();
    const unexcused: string[] = [];
    for (const n of behind) {
      const reason = listed.get(n) ?? classes.find((c) => c.re.test(n))?.reason;
      if (reason !== undefined && verdict) excused.set(n, reason); else unexcused.push(n);
    }
    const show = (n: string) => `    ${n}\n        ${(runFailed.get(n)?.message?.split("\n")[0] ?? "(did not pass)").slice(0, 200)}`;
    console.log(`\nPassing on cpu, not on ${label} (${run.about}): ${behind.length}`);
    const perReason = new Map<string, number>();
    for (const r of excused.values()) perReason.set(r, (perReason.get(r) ?? 0) + 1);
    for (const [r, k] of perReason) console.log(`  ${String(k).padStart(4)} excepted: ${r}`);
    if (unexcused.length) console.log(`  ${unexcused.length}${verdict ? " not excepted" : ""}:\n${unexcused.map(show).join("\n")}`);
    if (broken.length) console.log(`\nPassing on stock wasm, failing on ${label}: ${broken.length}\n${broken.map(show).join("\n")}`);
    return { broken, unexcused };
  };

  const checked = [["default", "the default backend"], ["noblas", "wasm without OpenBLAS"]] as const;
  let failures = 0;
  for (const [mode, label] of checked) {
    const run = byMode.get(mode);
    if (!run) continue;
    const { broken, unexcused } = compare(run, label, true);
    if (broken.length || unexcused.length) console.log(`  -> ${label}: ${broken.length} broken by the library's kernels, ${unexcused.length} behind cpu without a listed reason`);
    failures += broken.length + unexcused.length;
  }
  for (const mode of others) { const run = byMode.get(mode); if (run && mode !== def.backend) compare(run, mode, false); }
  const stale = [...listed.keys()].filter((n) => passed(def).has(n) || !cpuPassed.has(n));
  if (stale.length && !grep) console.log(`\nListed as exceptions but not needed (pass on the default backend, or not on cpu): ${stale.length}\n${stale.map((n) => `    ${n}`).join("\n")}`);
  console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s in all`);
  if (grep) return; // a partial run gives counts, not a verdict
  if (failures || !byMode.has("noblas")) {
    console.log(failures ? "FAIL: see the specs above." : "FAIL: wasm without OpenBLAS did not run.");
    process.exitCode = 1;
  } else {
    console.log("OK: nothing broken by the library's kernels; the default backend (and wasm without OpenBLAS) passes every spec cpu passes but the listed exceptions.");
  }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
