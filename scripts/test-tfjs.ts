// TensorFlow.js's own op suite (the jasmine specs shipped in @tensorflow/tfjs-core) against cpu, the stock
// wasm backend, the backend initBackend() sets up (wasm with this library's kernels, here), the same without
// OpenBLAS, and webgpu as initBackend("webgpu") sets it up (synchronous reads on), each in its own process.
// Prints each backend's counts and every spec that passes on cpu but not on the others. Fails when
//   - a spec that passes on stock wasm fails with the library's kernels;
//   - a spec that passes on cpu fails on the default backend (or without OpenBLAS) and is not among the
//     exceptions in test/tfjs-exceptions.json;
//   - a spec that passes on cpu fails on webgpu and is not listed, with its reason, in
//     test/tfjs-webgpu-failures.json (listed specs that pass now are reported as stale, a warning);
//   - a backend's process dies, or is stopped: no spec may take longer than TFJS_SUITE_SPEC_TIMEOUT seconds
//     (default 300) and no backend's run longer than TFJS_SUITE_TIMEOUT (default 1800).
// Where webgpu cannot start (its optional packages or an adapter missing) it is skipped with the reason,
// except under CI=true, where that is a failure (as for the webgpu tests, test/helpers.ts).
//
//   npm run test:tfjs                          all of it
//   npm run test:tfjs -- --grep conv           only specs whose name contains "conv" (counts, no verdict on specs)
//   npm run test:tfjs -- --backend webgpu      cpu (the reference) and the backends named (comma-separated:
//                                              wasm, default, noblas, webgpu; default and noblas bring wasm)
//   npm run test:tfjs -- --backend webgpu --webgpu-results FILE
//                                              webgpu's outcomes as written on a GPU machine (scripts/gpu/run.sh)
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { build } from "esbuild";

const root = path.resolve(__dirname, "..");
const workDir = path.join(root, "node_modules", ".cache", "tfjs-suite");
const bundle = path.join(workDir, "suite.cjs");
const exceptionsFile = path.join(root, "test", "tfjs-exceptions.json");
const webgpuListFile = path.join(root, "test", "tfjs-webgpu-failures.json");
/** Failures seen only on one vendor's GPU, added to the list above when the adapter is that vendor's. */
const vendorListFile = (vendor: string) => path.join(root, "test", `tfjs-webgpu-failures-${vendor}.json`);

interface SpecResult { name: string; status: string; message?: string }
interface Run { mode: string; backend: string; about: string; seconds: number; results: SpecResult[]; errors: string[] }
interface Exceptions {
  /** Whole classes of specs, each by a pattern on the spec's name, with the reason. */
  classes: { pattern: string; reason: string }[];
  /** Single specs by full name, with the reason. */
  specs: { name: string; reason: string }[];
}

const installed = (pkg: string) => { try { require.resolve(`${pkg}/package.json`, { paths: [root] }); return true; } catch { return false; } };

/** The optional backend packages: bundled in when installed (so they share the one tfjs-core), else left out. */
const OPTIONAL = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs-backend-webgpu", "webgpu"];

async function bundleSuite(outfile = bundle): Promise<void> {
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  await build({
    entryPoints: [path.join(root, "scripts", "tfjs-suite", "entry.ts")],
    outfile,
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

/** Seconds from a positive number in the environment, else the default. */
function seconds(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
// No spec may run longer than this (jasmine's own limit is 120 s for an asynchronous spec, and a blocked
// synchronous read on webgpu gives up after 60 s), and no backend's whole run longer than RUN_LIMIT_S: past
// either the process is killed and the run fails, naming the spec, so that nothing can hang the runner.
const SPEC_LIMIT_S = seconds("TFJS_SUITE_SPEC_TIMEOUT", 300);
const RUN_LIMIT_S = seconds("TFJS_SUITE_TIMEOUT", 1800);

type Outcome = Run | { mode: string; error: string } | { mode: string; unavailable: string };

function runMode(mode: string, grep: string | undefined, exclude: string[]): Promise<Outcome> {
  const out = path.join(workDir, `${mode}.json`);
  fs.rmSync(out, { force: true });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, mode, out], {
      cwd: root, stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...(grep ? { TFJS_SUITE_GREP: grep } : {}), ...(exclude.length ? { TFJS_SUITE_EXCLUDE: JSON.stringify(exclude) } : {}) },
    });
    const started = Date.now();
    let log = "", pending = "", current: string | undefined, since = started, killedFor: string | undefined;
    const keep = (text: string) => { log = (log + text).slice(-4000); };
    // The child announces each spec on a line of its own starting with \u001e; the rest is its log.
    child.stdout.on("data", (b: Buffer) => {
      const lines = (pending + b.toString()).split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith("\u001e")) { current = line.slice(1); since = Date.now(); } else keep(line + "\n");
      }
    });
    child.stderr.on("data", (b: Buffer) => keep(b.toString()));
    const watchdog = setInterval(() => {
      const now = Date.now();
      const where = current === undefined ? "before the first spec started" : `in spec "${current}"`;
      if (now - since > SPEC_LIMIT_S * 1000) killedFor = `no progress for ${SPEC_LIMIT_S} s ${where} (TFJS_SUITE_SPEC_TIMEOUT)`;
      else if (now - started > RUN_LIMIT_S * 1000) killedFor = `the run took longer than ${RUN_LIMIT_S} s; it was ${where} (TFJS_SUITE_TIMEOUT)`;
      if (killedFor) { clearInterval(watchdog); child.kill("SIGKILL"); }
    }, 1000);
    child.on("close", (code, signal) => {
      clearInterval(watchdog);
      if (killedFor) { resolve({ mode, error: `stopped: ${killedFor}` }); return; }
      if (code === 0 && fs.existsSync(out)) { resolve(JSON.parse(fs.readFileSync(out, "utf8")) as Outcome); return; }
      resolve({ mode, error: `exited with ${code ?? signal}${current ? ` in spec "${current}"` : ""}:\n${log.trim().split("\n").slice(-15).join("\n")}` });
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

function count(r: Run): string {
  const by = (s: string) => r.results.filter((x) => x.status === s).length;
  return `${String(by("passed")).padStart(5)} passed ${String(by("failed")).padStart(4)} failed ${String(by("pending") + by("excluded")).padStart(3)} pending  ` +
    `${r.seconds.toFixed(0).padStart(4)} s  ${r.about}`;
}

interface WebgpuList {
  excluded: { name: string; reason: string }[];
  failures: { what: string; reason: string; specs: string[] }[];
}

/** Reads test/tfjs-webgpu-failures.json; a malformed entry is an error that says which. */
type WebgpuMaps = { excluded: Map<string, string>; failing: Map<string, { what: string; reason: string }> };
/** Reads a list of webgpu failures (into `into`, for a vendor's list added to the common one). */
function readWebgpuList(file = webgpuListFile, into?: WebgpuMaps): WebgpuMaps {
  const bad = (what: string) => { throw new Error(`${path.relative(root, file)}: ${what}`); };
  const list = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<WebgpuList>;
  if (!Array.isArray(list.excluded) || !Array.isArray(list.failures)) bad(`needs "excluded" and "failures" arrays`);
  // Exclusions decide what runs, before the adapter is known: only the common list may have them.
  if (into && list.excluded!.length) bad(`a vendor's list cannot exclude specs (the common list's "excluded" does)`);
  const { excluded, failing } = into ?? { excluded: new Map<string, string>(), failing: new Map<string, { what: string; reason: string }>() };
  for (const e of list.excluded!) {
    if (typeof e?.name !== "string" || typeof e.reason !== "string" || !e.reason) bad(`each "excluded" entry needs a "name" and a "reason": ${JSON.stringify(e)}`);
    excluded.set(e.name, e.reason);
  }
  for (const g of list.failures!) {
    if (typeof g?.what !== "string" || typeof g.reason !== "string" || !g.reason || !Array.isArray(g.specs)) {
      bad(`each "failures" entry needs "what", "reason" and "specs": ${JSON.stringify(g).slice(0, 200)}`);
    }
    for (const n of g.specs) {
      if (failing.has(n) || excluded.has(n)) bad(`"${n}" is listed twice`);
      failing.set(n, { what: g.what, reason: g.reason });
    }
  }
  return { excluded, failing };
}

const MODES = ["cpu", "wasm", "default", "noblas", "webgpu"] as const;
const USAGE = "usage: tsx scripts/test-tfjs.ts [--grep TEXT] [--backend " + MODES.join(",") + "] [--webgpu-results FILE]";

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // --bundle-only FILE: write the suite's bundle there and stop (scripts/gpu/run.sh runs it on a GPU machine).
  if (args[0] === "--bundle-only" && args[1]) { await bundleSuite(path.resolve(args[1])); return; }
  let grep: string | undefined, chosen: string[] | undefined, webgpuResults: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--grep" && args[i + 1] !== undefined) grep = args[++i];
    else if (args[i] === "--webgpu-results" && args[i + 1] !== undefined) webgpuResults = path.resolve(args[++i]);
    else if (args[i] === "--backend" && args[i + 1] !== undefined) chosen = args[++i].split(",").map((m) => m.trim()).filter(Boolean);
    else throw new Error(`unknown argument "${args[i]}"\n${USAGE}`);
  }
  const unknown = chosen?.filter((m) => !(MODES as readonly string[]).includes(m)) ?? [];
  if (unknown.length) throw new Error(`unknown backend ${unknown.map((m) => `"${m}"`).join(", ")}: choose from ${MODES.join(", ")}\n${USAGE}`);
  // cpu is the reference for every comparison; stock wasm for the library's wasm kernels.
  const modes = MODES.filter((m) => !chosen || m === "cpu" || chosen.includes(m) ||
    (m === "wasm" && (chosen.includes("default") || chosen.includes("noblas"))));
  const webgpuList = readWebgpuList();
  const started = Date.now();
  await bundleSuite();
  const parallel = Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
  // The slowest (webgpu) starts first, so that the others run beside it.
  const order = [...modes].sort((a, b) => Number(b === "webgpu") - Number(a === "webgpu"));
  // --webgpu-results: webgpu's outcomes come from a run on another machine (a GPU), judged against cpu here.
  const done = await pool(order.map((m) => () => m === "webgpu" && webgpuResults
    ? Promise.resolve(JSON.parse(fs.readFileSync(webgpuResults, "utf8")) as Outcome)
    : runMode(m, grep, m === "webgpu" ? [...webgpuList.excluded.keys()] : [])), parallel);
  const outcomes = new Map(order.map((m, i) => [m, done[i]] as const));

  const tfjsNode = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"].find(installed);
  console.log(`TensorFlow.js op suite (@tensorflow/tfjs-core ${require("@tensorflow/tfjs-core/package.json").version} specs)${grep ? `, specs matching "${grep}"` : ""}`);
  const byMode = new Map<string, Run>();
  // What fails the command: backends that did not run (always), and specs that fail where they must not
  // (only in a full run: a --grep run gives counts, not a verdict on the specs).
  const problems: string[] = [];
  const specProblems: string[] = [];
  let webgpuSkipped: string | undefined;
  for (const mode of modes) {
    const r = outcomes.get(mode)!;
    if ("unavailable" in r) {
      webgpuSkipped = `${r.unavailable} (scripts/webgpu-software.sh installs a software adapter and the packages, as root on Debian)`;
      console.log(`  ${mode.padEnd(8)}not run: ${webgpuSkipped}`);
      if (process.env.CI === "true") problems.push(`${mode}: CI=true and it must run (install the software adapter with scripts/webgpu-software.sh): ${r.unavailable}`);
    } else if ("error" in r) {
      console.log(`  ${mode.padEnd(8)}did not run: ${r.error}`);
      problems.push(`${mode} did not run: ${r.error.split("\n")[0]}`);
    } else {
      byMode.set(mode, r);
      console.log(`  ${mode.padEnd(8)}${count(r)}`);
    }
  }
  // Errors no spec was charged with (e.g. a promise rejected after its spec ended) fail the run: each
  // must be pinned down and explained, not ignored.
  for (const [mode, r] of byMode) {
    if (!r.errors.length) continue;
    console.log(`\n${mode}: ${r.errors.length} errors outside the specs:\n${r.errors.map((e) => `    ${e.split("\n")[0]}`).join("\n")}`);
    problems.push(`${mode}: ${r.errors.length} errors outside the specs`);
  }
  // tfjs-node finds its native binding relative to its own files, so it cannot join the bundle, and outside
  // it it would bring a second tfjs-core: its backend is not run here.
  if (tfjsNode) console.log(`  ${"tensorflow".padEnd(8)}not run: ${tfjsNode} cannot share the specs' copy of tfjs-core`);
  const cpu = byMode.get("cpu"), stock = byMode.get("wasm"), def = byMode.get("default");
  if (!cpu) { for (const p of problems) console.log(`FAIL: ${p}`); process.exitCode = 1; return; }

  const exceptions = JSON.parse(fs.readFileSync(exceptionsFile, "utf8")) as Exceptions;
  const classes = exceptions.classes.map((c) => ({ ...c, re: new RegExp(c.pattern) }));
  const listed = new Map(exceptions.specs.map((s) => [s.name, s.reason]));
  const cpuPassed = passed(cpu);
  // Specs whose constraints select cpu alone (switching between two cpu backends) never run elsewhere.
  const other = def ?? byMode.get("noblas") ?? byMode.get("webgpu");
  const cpuOnly = other ? [...cpuPassed].filter((n) => !other.results.some((s) => s.name === n)) : [];
  if (cpuOnly.length) console.log(`\n${cpuOnly.length} specs are for the cpu backend alone (not registered for ${other!.mode}), e.g. "${cpuOnly[0]}".`);

  const show = (run: Run, n: string) => {
    const s = run.results.find((x) => x.name === n);
    const why = s?.status === "failed" ? (s.message?.split("\n")[0] ?? "failed") : `(${s?.status ?? "did not run"})`;
    return `    ${n}\n        ${why.slice(0, 200)}`;
  };
  /** The specs cpu passes that `run` registers and does not pass. */
  const behindCpu = (run: Run) => { const p = passed(run), names = new Set(run.results.map((s) => s.name)); return [...cpuPassed].filter((n) => names.has(n) && !p.has(n)); };

  // The wasm backend as the library sets it up (default, and without OpenBLAS): nothing stock wasm passes
  // may break, and nothing cpu passes may fail unless test/tfjs-exceptions.json says why.
  for (const [mode, label] of [["default", "the default backend"], ["noblas", "wasm without OpenBLAS"]] as const) {
    const run = byMode.get(mode);
    if (!run) continue;
    const runPassed = passed(run);
    const broken = run.backend === "wasm" && stock ? [...passed(stock)].filter((n) => !runPassed.has(n)) : [];
    const behind = behindCpu(run);
    const perReason = new Map<string, number>();
    const unexcused: string[] = [];
    for (const n of behind) {
      const reason = listed.get(n) ?? classes.find((c) => c.re.test(n))?.reason;
      if (reason !== undefined) perReason.set(reason, (perReason.get(reason) ?? 0) + 1); else unexcused.push(n);
    }
    console.log(`\nPassing on cpu, not on ${label} (${run.about}): ${behind.length}`);
    for (const [r, k] of perReason) console.log(`  ${String(k).padStart(4)} excepted: ${r}`);
    if (unexcused.length) console.log(`  ${unexcused.length} not excepted:\n${unexcused.map((n) => show(run, n)).join("\n")}`);
    if (broken.length) console.log(`\nPassing on stock wasm, failing on ${label}: ${broken.length}\n${broken.map((n) => show(run, n)).join("\n")}`);
    if (broken.length || unexcused.length) {
      specProblems.push(`${mode} (${label}): ${broken.length} broken by the library's kernels, ${unexcused.length} behind cpu without a reason in ${path.relative(root, exceptionsFile)}`);
    }
  }
  if (def) {
    const stale = [...listed.keys()].filter((n) => passed(def).has(n) || !cpuPassed.has(n));
    if (stale.length && !grep) console.log(`\nListed as exceptions but not needed (pass on the default backend, or not on cpu): ${stale.length}\n${stale.map((n) => `    ${n}`).join("\n")}`);
  }

  // webgpu as initBackend("webgpu") sets it up (synchronous reads on): what cpu passes must pass, but the
  // specs test/tfjs-webgpu-failures.json lists with their reasons; the specs it excludes are not run.
  const webgpu = byMode.get("webgpu");
  let webgpuOk = false;
  // The adapter's vendor, as describeAdapter names it ("(vendor nvidia, ..."); its own list, if there is one.
  const vendor = webgpu && /\(vendor ([a-z0-9-]+)/.exec(webgpu.about)?.[1];
  const vendorList = vendor && fs.existsSync(vendorListFile(vendor)) ? vendorListFile(vendor) : undefined;
  if (vendorList) readWebgpuList(vendorList, webgpuList);
  const listFile = [webgpuListFile, ...(vendorList ? [vendorList] : [])].map((f) => path.relative(root, f)).join(" and ");
  if (webgpu) {
    const names = new Set(webgpu.results.map((s) => s.name));
    const notRegistered = [...cpuPassed].filter((n) => !names.has(n)).length - cpuOnly.length;
    console.log(`\nwebgpu (${webgpu.about}), synchronous reads on:`);
    for (const [n, reason] of webgpuList.excluded) if (names.has(n)) console.log(`  not run (excluded by name): "${n}"\n      ${reason}`);
    if (notRegistered > 0) console.log(`  ${notRegistered} specs that cpu passes are not registered for webgpu (their own constraints leave it out)`);
    const behind = behindCpu(webgpu).filter((n) => !webgpuList.excluded.has(n));
    const perGroup = new Map<string, { reason: string; n: number }>();
    const unlisted: string[] = [];
    for (const n of behind) {
      const entry = webgpuList.failing.get(n);
      if (!entry) { unlisted.push(n); continue; }
      const g = perGroup.get(entry.what) ?? { reason: entry.reason, n: 0 };
      g.n++;
      perGroup.set(entry.what, g);
    }
    console.log(`  passing on cpu, not on webgpu: ${behind.length}`);
    for (const [what, g] of perGroup) console.log(`  ${String(g.n).padStart(4)} listed (${what}): ${g.reason}`);
    if (unlisted.length) {
      console.log(`  ${unlisted.length} not listed in ${listFile}:\n${unlisted.map((n) => show(webgpu, n)).join("\n")}`);
      specProblems.push(`webgpu: ${unlisted.length} specs pass on cpu and fail on webgpu without a reason in ${listFile}`);
    }
    if (!grep) {
      // Entries that no longer describe a failure: the list can be trimmed (a warning, not a failure).
      const webgpuPassed = passed(webgpu);
      const stale = [
        ...[...webgpuList.failing.keys()].filter((n) => webgpuPassed.has(n)).map((n) => `${n}\n        passes on webgpu now`),
        ...[...webgpuList.failing.keys()].filter((n) => !webgpuPassed.has(n) && !names.has(n)).map((n) => `${n}\n        no such spec on webgpu`),
        ...[...webgpuList.failing.keys()].filter((n) => names.has(n) && !webgpuPassed.has(n) && !cpuPassed.has(n)).map((n) => `${n}\n        does not pass on cpu either`),
        ...[...webgpuList.excluded.keys()].filter((n) => !names.has(n)).map((n) => `${n}\n        excluded, but no such spec on webgpu`),
      ];
      if (stale.length) console.log(`\nWARNING: ${stale.length} entries of ${listFile} are stale (remove them):\n${stale.map((n) => `    ${n}`).join("\n")}`);
      webgpuOk = !unlisted.length;
    }
  }

  console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s in all`);
  if (!grep) {
    problems.push(...specProblems);
    if (!chosen) {
      for (const m of ["wasm", "default", "noblas"]) if (!byMode.has(m) && !problems.some((p) => p.startsWith(`${m} `))) problems.push(`${m} did not run`);
    }
  }
  // Every problem starts with its backend's name: the verdicts on webgpu and on the rest are told apart.
  const onWebgpu = (p: string) => p.startsWith("webgpu");
  for (const p of problems) console.log(`FAIL: ${p}`);
  if (problems.length) process.exitCode = 1;
  if (grep) return;
  if ((def || byMode.has("noblas")) && !problems.some((p) => !onWebgpu(p))) {
    console.log("OK: nothing broken by the library's kernels; the default backend (and wasm without OpenBLAS) passes every spec cpu passes but the listed exceptions.");
  }
  if (!problems.some(onWebgpu)) {
    const skipped = webgpuList.excluded.size;
    if (webgpuOk) {
      console.log(`OK webgpu: passes every spec cpu passes but the ${webgpuList.failing.size} listed with their reasons in ` +
        `${listFile}${skipped ? ` and the ${skipped} excluded (not run)` : ""}.`);
    } else if (webgpuSkipped !== undefined) {
      console.log(`SKIPPED webgpu: ${webgpuSkipped}`);
    }
  }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
