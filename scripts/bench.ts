// `npm run bench`: times the work the notebooks do in this project (fastbook-ts on TensorFlow.js) and the
// same work in PyTorch (scripts/bench_torch.py on Debian's python3-torch), on this machine, one after the
// other so they never compete for the CPU. Prints a table and writes bench/results.json.
//
// A benchmark, not a test: it never fails on time. Both sides get one spec (data folders, batch sizes,
// learning rates, step counts) from here, so they cannot drift apart. Each figure is the median of RUNS
// runs after WARMUP untimed epochs (training) or the median over fresh processes (cold loading).
// The parts: scripts/bench/config.ts (settings), scripts/bench/cases.ts (models, data, shared start), scripts/bench/torch.ts
// (the PyTorch side and the turn-taking exchange), scripts/bench/report.ts (table and results file).
//
//   tsx scripts/bench.ts            the full benchmark (a few minutes on 2 cores)
//   tsx scripts/bench.ts --quick    a smoke run on a few files and steps; writes nothing
//   tsx scripts/bench.ts --cases=c,e  only the cases named (a-j); writes nothing
//   tsx scripts/bench.ts --full-epochs   (h) on whole epochs instead of its first 30 batches
//   tsx scripts/bench.ts --warmup=1 --runs=2   fewer untimed and timed epochs per case (default 5 and 5)
// After the timings: each training case's share of the machine's matrix-product rate and a profile of one
// step (scripts/bench/arith.ts).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { tf, initBackend, describeBackend, untarData, URLs, buffersOf } from "fastbook-ts";
import { DEVICE, LOAD_RUNS, ON_GPU, ONLY, PYTHON, QUICK, ROOT, CACHE, LIMIT, median } from "./bench/config";
import { CASES, archs, losses, listDigit, loadMnistTrain, loadSaltTrain, sampleTrainFiles, timedLoad, timedMnistLoad, writeDataFile } from "./bench/cases";
import { ensureTorch, runJson, trainBoth, type CaseResult } from "./bench/torch";
import { printArithmetic, printReport, row, trainingRow, writeResults, type Row } from "./bench/report";
import { matmulRate, profileStep, type StepProfile } from "./bench/arith";
import { benchUnpack, tarVersion, UNPACK_RUNS } from "./bench/unpack";

async function main(): Promise<void> {
  // A child of case (j): the first untarData(URLs.MNIST) into a fresh data folder, timed, and nothing else.
  const untarAt = process.argv.indexOf("--untar-mnist");
  if (untarAt > 0) {
    const [dataDir, mirror] = process.argv.slice(untarAt + 1);
    const t0 = performance.now();
    await untarData(URLs.MNIST, { dataDir, mirror });
    console.log(JSON.stringify({ ms: performance.now() - t0 }));
    return;
  }
  const backend = await initBackend(); // TFJS_BACKEND, or the first that loads
  const sample = await untarData(URLs.MNIST_SAMPLE);

  // A child of --cold-load: one load in a fresh process, and nothing else.
  if (process.argv.includes("--cold-load")) {
    console.log(JSON.stringify({ load_ms: (await timedLoad(sample, false)).ms }));
    return;
  }
  // A child of --cold-load-mnist: case (g) in a fresh process, and nothing else.
  if (process.argv.includes("--cold-load-mnist")) {
    const r = await timedMnistLoad(await untarData(URLs.MNIST));
    console.log(JSON.stringify({ load_ms: r.ms, n: r.n }));
    return;
  }
  ensureTorch();
  // --cases=...: the loading cases (e) and (g) run only when named too.
  const wants = (key: string) => !ONLY || ONLY.includes(key);
  // (j) First, on a quiet disk: the first unpack of full MNIST, ours against GNU tar, taking turns.
  const tar = !ON_GPU && wants("j") ? tarVersion() : undefined;
  if (!ON_GPU && wants("j") && !tar) console.log("bench: (j) skipped: no tar command to compare with");
  const unpack = tar ? await benchUnpack([...process.execArgv, __filename, "--untar-mnist"], tar) : undefined;
  const needsMnist = (!ON_GPU && wants("g")) || CASES.some((c) => c.data === "mnist");
  const mnist = needsMnist ? await untarData(URLs.MNIST) : "";
  console.log(`bench: ${describeBackend(backend)}${QUICK ? " (quick smoke run)" : ""}`);

  // (e) Cold: every PNG decoded, here once and in fresh child processes. Warm: from the pixel cache,
  // which one untimed load fills first. Not on a GPU machine: loading is CPU work.
  const first = await timedLoad(sample, false);
  const coldMs = [first.ms];
  const warmMs: number[] = [];
  if (!ON_GPU && wants("e")) {
    (await timedLoad(sample, true)).x.dispose();
    for (let i = 0; i < LOAD_RUNS; i++) { const r = await timedLoad(sample, true); warmMs.push(r.ms); r.x.dispose(); }
    const childArgs = [...process.execArgv, __filename, "--cold-load", ...(QUICK ? ["--quick"] : [])];
    for (let i = 1; i < LOAD_RUNS; i++) coldMs.push(runJson(process.execPath, childArgs).load_ms as number);
  }

  // (g) Full MNIST's 60,000 training PNGs, cold (fresh processes, no pixel cache), PIL first then ours,
  // LOAD_RUNS times, so that a slow spell of the machine falls on both sides.
  const mnistCold: number[] = [], mnistRef: number[] = [];
  let mnistFiles = 0;
  if (!ON_GPU && wants("g")) {
    const mnistSpec = JSON.stringify({ mnist, limit: LIMIT });
    for (let i = 0; i < LOAD_RUNS; i++) {
      mnistRef.push(runJson(PYTHON, [path.join(ROOT, "scripts", "bench_torch.py"), "load_mnist"], mnistSpec).load_ms as number);
      const r = runJson(process.execPath, [...process.execArgv, __filename, "--cold-load-mnist", ...(QUICK ? ["--quick"] : [])]);
      mnistCold.push(r.load_ms as number);
      mnistFiles = r.n as number;
    }
    console.log(`bench: (g) ${mnistFiles} MNIST PNGs cold: ours ${mnistCold.map((t) => t.toFixed(0)).join(", ")} ms; ` +
      `PIL + numpy ${mnistRef.map((t) => t.toFixed(0)).join(", ")} ms`);
  }

  // 3 -> 1 and 7 -> 0, as the notebook labels them.
  const n3 = listDigit(path.join(sample, "train", "3")).length;
  const sampleXY = [first.x.reshape([-1, 784]), tf.concat([tf.ones([n3, 1]), tf.zeros([first.x.shape[0] - n3, 1])])];
  first.x.dispose();
  const full = CASES.some((c) => c.data === "mnist") ? await loadMnistTrain(mnist) : undefined;
  const mnistXY = full ? [full.x, full.y] : [];
  const salt = CASES.some((c) => c.data === "salt") ? loadSaltTrain() : undefined;
  const dataFiles = {
    sample: writeDataFile(path.join(CACHE, "train_sample.u8"), sampleXY[0], Uint8Array.from(sampleXY[1].dataSync())),
    mnist: full?.file,
    ...(salt ? { salt: salt.file } : {}),
  };

  // PyTorch keeps its default thread count (here 1; its matrix products still use OpenBLAS's own threads,
  // as ours do). Forcing 2 made it slower here ((c): ~1150 ms against ~250 ms): the default is its best.
  const spec = { sample, limit: LIMIT, warm_loads: LOAD_RUNS, device: DEVICE, data_files: dataFiles };
  const peakMacs = CASES.length ? matmulRate() : 0; // only the training cases need it
  const cpus = os.cpus();
  const machineOf = (gpu?: string) => `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${os.availableParallelism()} cores` + (gpu ? `; GPU ${gpu}` : "");
  const referenceOf = (about: CaseResult["about"]) => [
    ...(CASES.length ? [`PyTorch ${about.torch} (${PYTHON}) on ${DEVICE}, ${about.threads} intra-op thread(s)${about.blas_threads ? `, matrix products through OpenBLAS on ${about.blas_threads} thread(s)` : ""}`] : []),
    ...(ON_GPU ? [] : ["PIL + numpy for loading", "GNU tar for unpacking (j)"]),
  ].join("; ");
  // The results file, where this run keeps one (BENCH_OUT, or a full run): written after each training case
  // too, so that a run stopped part-way (a time limit on a GPU machine) keeps what it measured.
  const out = QUICK || (ONLY && !process.env.BENCH_OUT) ? undefined : process.env.BENCH_OUT || path.join(ROOT, "bench", "results.json");
  const results: Record<string, CaseResult> = {};
  const trainingRows: Row[] = [];
  // Cross-entropy on the sample takes the same labels as class indices [n] (3 -> class 1, 7 -> class 0).
  const sampleClasses = tf.cast(sampleXY[1].reshape([-1]), "int32");
  for (const c of CASES) {
    const [x, y] = c.data === "mnist" ? mnistXY : c.data === "salt" ? [salt!.x, salt!.y] : c.loss === "ce" ? [sampleXY[0], sampleClasses] : sampleXY;
    const r = (results[c.key] = await trainBoth(c, x, y, spec));
    console.log(`bench: ${c.name}: ours ${r.ours.runs.map((t) => t.toFixed(0)).join(", ")} ms; ` +
      `PyTorch ${r.torch.runs.map((t) => t.toFixed(0)).join(", ")} ms`);
    // One step of ours profiled, and the case's multiply-adds in an epoch as a share of the machine's rate.
    const profile = await profileCase(c, x, y), items = c.steps ? Math.min(c.steps * c.bs, x.shape[0]) : x.shape[0];
    const epochMacs = (profile.macs / c.bs) * items;
    const row = trainingRow(c.name, r.ours, r.torch, c.lossTolerance, c.firstBatchLoss);
    const fraction = (ms: number) => +(epochMacs / (ms / 1000) / peakMacs).toFixed(4);
    trainingRows.push({ ...row, epoch_macs: epochMacs, ours_peak_fraction: fraction(row.ours_ms), reference_peak_fraction: fraction(row.reference_ms), step_profile: profile });
    if (out && trainingRows.length < CASES.length) {
      writeResults(out, { machine: machineOf(r.about.gpu), backend: backend.name, reference: referenceOf(r.about), peak_gmacs: +(peakMacs / 1e9).toFixed(2),
        incomplete: `stopped after ${trainingRows.length} of ${CASES.length} training cases` }, trainingRows);
    }
  }
  tf.dispose([...sampleXY, sampleClasses, ...mnistXY, ...(salt ? [salt.x, salt.y] : [])]);
  const about = Object.values(results)[0]?.about ?? { torch: "?", threads: 0 };
  const loadSpec = JSON.stringify(spec);
  const torchScript = path.join(ROOT, "scripts", "bench_torch.py");
  const timeLoads = !ON_GPU && wants("e");
  const refLoads = !timeLoads ? undefined : (runJson(PYTHON, [torchScript, "loads"], loadSpec) as { load_ms: number; warm_load_ms: number[] });
  const refCold = refLoads ? [refLoads.load_ms] : [];
  if (timeLoads) for (let i = 1; i < LOAD_RUNS; i++) refCold.push(runJson(PYTHON, [torchScript, "load"], loadSpec).load_ms as number);

  const nFiles = sampleTrainFiles(sample).length;
  const rows: Row[] = [
    ...trainingRows,
    ...(timeLoads ? [
      row(`(e) load ${nFiles} PNGs, cold (fresh process)`, median(coldMs), median(refCold)),
      row(`(e) load ${nFiles} PNGs, warm (ours: pixel cache)`, median(warmMs), median(refLoads!.warm_load_ms)),
    ] : []),
    ...(!ON_GPU && wants("g") ? [row(`(g) load ${mnistFiles} MNIST training PNGs + labels, cold (fresh process)`, median(mnistCold), median(mnistRef))] : []),
    ...(unpack ? [row(`(j) first untarData(URLs.MNIST), ${unpack.files} PNGs, fresh data folder (reference: ${unpack.tarVersion} -xzf)`,
      median(unpack.ours), median(unpack.tar))] : []),
  ];

  const machine = machineOf(about.gpu), reference = referenceOf(about);
  printReport({ machine, ours: describeBackend(backend), reference }, rows);
  if (unpack) {
    console.log(`(j): median of ${UNPACK_RUNS} runs per side, taking turns (tar first), each into a fresh folder on a synced disk; ` +
      "ours is the untarData call in a fresh process (copy from a local mirror, checksums, unpack, completion marker).");
  }
  printArithmetic(peakMacs, rows);

  if (!out) return; // keep the recorded full run
  // BENCH_OUT: where a GPU run writes its table (the recorded CPU results stay as they are).
  writeResults(out, { machine, backend: backend.name, reference, peak_gmacs: +(peakMacs / 1e9).toFixed(2) }, rows);
  console.log(`wrote ${path.relative(ROOT, out)}`);
}

/** One training step of the case's model (a fresh copy) on its first batch, profiled. */
async function profileCase(c: (typeof CASES)[number], x: tf.Tensor, y: tf.Tensor): Promise<StepProfile> {
  const model = archs[c.arch]();
  const [xb, yb] = [x.slice(0, Math.min(c.bs, x.shape[0])), y.slice(0, Math.min(c.bs, y.shape[0]))];
  try {
    return await profileStep(model, losses[c.loss], xb, yb, c.lr);
  } finally {
    tf.dispose([xb, yb, ...model.parameters(), ...buffersOf(model)]);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
