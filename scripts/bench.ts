// `npm run bench`: times the work the notebooks do in this project (fastbook-ts on TensorFlow.js) and the
// same work in PyTorch (scripts/bench_torch.py on Debian's python3-torch), on this machine, one after the
// other so they never compete for the CPU. Prints a table and writes bench/results.json.
//
// A benchmark, not a test: it never fails on time. Both sides get one spec (data folders, batch sizes,
// learning rates, step counts) from here, so they cannot drift apart. Each figure is the median of RUNS
// runs after WARMUP untimed epochs (training) or the median over fresh processes (cold loading).
//
//   tsx scripts/bench.ts            the full benchmark (a few minutes on 2 cores)
//   tsx scripts/bench.ts --quick    a smoke run on a few files and steps; writes nothing
//   tsx scripts/bench.ts --cases=c  only the cases named (a, b, c, d); writes nothing
import { spawn, spawnSync } from "node:child_process";
import * as readline from "node:readline";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  tf, initBackend, describeBackend, untarData, URLs, ls, stackImages, getImageFiles, parentLabel, DataLoaders, Learner, Linear, ReLU,
  Sequential, Conv2d, Reshape, GlobalAvgPool, mnistLoss, binaryCrossEntropy, crossEntropy,
  seededRandom, shuffled,
  type BatchSource, type Callback, type LossFunc, type Module,
} from "fastbook-ts";

const ROOT = path.resolve(__dirname, "..");
const CACHE = path.join(ROOT, "bench", "cache");
const PYTHON = process.env.BENCH_PYTHON || "/usr/bin/python3";
const QUICK = process.argv.includes("--quick");
/** --cases=a,c: time only those training cases (and still the loading). */
const ONLY = process.argv.find((a) => a.startsWith("--cases="))?.slice("--cases=".length).split(",");
/** "cuda" on a GPU machine (scripts/gpu/bench-on-device.sh): PyTorch on CUDA, and no PNG-loading cases. */
const DEVICE = process.env.BENCH_DEVICE || "cpu";
const ON_GPU = DEVICE !== "cpu";
/** Timed training runs per case, and loads per kind (each load takes seconds). */
const RUNS = QUICK ? 1 : 5;
/**
 * Untimed epochs before them, on both sides. V8 optimises TensorFlow.js's JavaScript over the first few
 * thousand ops: a linear model's epoch takes ~55 ms, then ~40, ~35, ~30, and settles near 22 from the sixth.
 */
const WARMUP = QUICK ? 1 : 5;
const LOAD_RUNS = QUICK ? 2 : 3; // 2 in the smoke run, to exercise the cold-load child
/** Files read per digit folder; the quick smoke run reads a few hundred. */
const LIMIT: number | null = QUICK ? 400 : null;

type Arch = "linear" | "simple_net" | "mlp" | "cnn";
type LossName = "mnist" | "bce" | "ce";

/**
 * The training arrays both sides use, as one file: n label bytes, then n·784 pixel bytes. The PyTorch
 * side reads these instead of decoding the PNGs itself, so both train on identical numbers.
 */
function writeDataFile(file: string, x: tf.Tensor, labels: Uint8Array): string {
  const n = labels.length;
  const bytes = new Uint8Array(n * 785);
  bytes.set(labels);
  const px = x.dataSync();
  for (let i = 0; i < px.length; i++) bytes[n + i] = Math.round(px[i] * 255);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file + ".tmp", bytes);
  fs.renameSync(file + ".tmp", file);
  return file;
}

interface TrainCase {
  key: string;
  name: string;
  data: "sample" | "mnist";
  arch: Arch;
  loss: LossName;
  bs: number;
  lr: number;
  /** Batches timed per run; null = one whole epoch. */
  steps: number | null;
}

// The notebooks' hyperparameters (04b: lr 1.0 linear, 0.1 simple net, 0.5 CNN); (c) has no notebook
// and takes the simple net's lr. Every case times whole epochs (49 batches, 235 for full MNIST).
const CASES: TrainCase[] = ([
  { key: "a", name: "(a) linear 784-1, MNIST_SAMPLE", data: "sample", arch: "linear", loss: "mnist", bs: 256, lr: 1.0, steps: null },
  { key: "b", name: "(b) simple net 784-30-1, MNIST_SAMPLE", data: "sample", arch: "simple_net", loss: "mnist", bs: 256, lr: 0.1, steps: null },
  { key: "c", name: "(c) MLP 784-128-10, full MNIST", data: "mnist", arch: "mlp", loss: "ce", bs: 256, lr: 0.1, steps: null },
  { key: "d", name: "(d) CNN of 04b, MNIST_SAMPLE", data: "sample", arch: "cnn", loss: "bce", bs: 256, lr: 0.5, steps: null },
] as TrainCase[]).filter((c) => !ONLY || ONLY.includes(c.key)).map((c) => {
  const steps = QUICK ? 3 : c.steps;
  return { ...c, steps, name: `${c.name}, ${steps ? `${steps} steps` : "1 epoch"}` };
});

const archs: Record<Arch, () => Module> = {
  linear: () => new Linear(784, 1, { seed: 6 }),
  simple_net: () => new Sequential(new Linear(784, 30, { seed: 21 }), new ReLU(), new Linear(30, 1, { seed: 22 })),
  mlp: () => new Sequential(new Linear(784, 128, { seed: 41 }), new ReLU(), new Linear(128, 10, { seed: 42 })),
  cnn: () => new Sequential(
    new Reshape([28, 28, 1]),
    new Conv2d(1, 8, 3, { stride: 2, seed: 31 }), new ReLU(),
    new Conv2d(8, 16, 3, { stride: 2, seed: 32 }), new ReLU(),
    new Conv2d(16, 32, 3, { stride: 2, seed: 33 }), new ReLU(),
    new Conv2d(32, 32, 3, { stride: 2, seed: 34 }), new ReLU(),
    new GlobalAvgPool(), new Linear(32, 1, { seed: 35 }),
  ),
};
const losses: Record<LossName, LossFunc> = { mnist: mnistLoss, bce: binaryCrossEntropy, ce: crossEntropy };

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const listDigit = (dir: string) => ls(dir).slice(0, LIMIT ?? undefined);
const sampleTrainFiles = (sample: string) => [...listDigit(path.join(sample, "train", "3")), ...listDigit(path.join(sample, "train", "7"))];

/**
 * Case (e) on our side: list the training PNGs and stack them into one float tensor, as the notebook
 * does; `cache` false decodes every file (cold), true reads stackImages' decoded-pixel cache (warm).
 */
async function timedLoad(sample: string, cache: boolean): Promise<{ ms: number; x: tf.Tensor3D }> {
  const t0 = performance.now();
  const x = await stackImages(sampleTrainFiles(sample), { cache });
  return { ms: performance.now() - t0, x };
}

/**
 * Case (g) on our side: full MNIST's training PNGs listed, labelled by their folder and stacked into one
 * float tensor with no pixel cache, as ImageDataLoaders.fromFolder loads a split the first time.
 */
async function timedMnistLoad(mnist: string): Promise<{ ms: number; n: number }> {
  const t0 = performance.now();
  const files = ls(path.join(mnist, "training")).flatMap((d) => getImageFiles(d).slice(0, LIMIT ?? undefined));
  const labels = Int32Array.from(files, (f) => Number(parentLabel(f)));
  const x = await stackImages(files, { cache: false });
  const ms = performance.now() - t0;
  x.dispose();
  return { ms, n: labels.length };
}

/**
 * Full MNIST's training set as [60000, 784] floats and int32 labels, and the data file (writeDataFile's
 * form) that holds them. Decoding 60,000 PNGs takes far longer than the steps timed on them, so that file
 * is kept in bench/cache, keyed by the file count and the folders' modification times (delete
 * bench/cache to force a rebuild).
 */
async function loadMnistTrain(root: string): Promise<{ x: tf.Tensor; y: tf.Tensor; file: string }> {
  const dirs = Array.from({ length: 10 }, (_, d) => path.join(root, "training", String(d)));
  const files = dirs.map(listDigit);
  const n = files.reduce((s, f) => s + f.length, 0);
  const key = `${n}-${Math.floor(Math.max(...dirs.map((d) => fs.statSync(d).mtimeMs)) / 1000)}`;
  const file = path.join(CACHE, `train_mnist_${key}.u8`);
  if (!fs.existsSync(file)) {
    const stacks: tf.Tensor[] = [];
    for (const names of files) stacks.push(await stackImages(names, { cache: false }));
    const x = tf.concat(stacks);
    tf.dispose(stacks);
    writeDataFile(file, x, Uint8Array.from(files.flatMap((names, digit) => names.map(() => digit))));
    x.dispose();
  }
  const bytes = fs.readFileSync(file);
  const pixels = Float32Array.from(bytes.subarray(n), (v) => v / 255);
  return { x: tf.tensor2d(pixels, [n, 784]), y: tf.tensor1d(Int32Array.from(bytes.subarray(0, n)), "int32"), file };
}

/** The first `n` batches of each pass over `src`; later batches are never made (they would leak). */
function firstBatches(src: BatchSource, n: number): BatchSource {
  return {
    length: Math.min(n, src.length),
    *[Symbol.iterator]() {
      const it = src[Symbol.iterator]();
      for (let i = 0; i < n; i++) {
        const r = it.next();
        if (r.done) return;
        yield r.value;
      }
      it.return?.();
    },
  };
}

/** Times each training pass of a fit. CPU backends run ops synchronously, so the work is done by afterTrain. */
class TrainTimer implements Callback {
  readonly times: number[] = [];
  private t0 = 0;
  beforeTrain(): void { this.t0 = performance.now(); }
  afterTrain(learn: Learner): void {
    // A GPU backend queues work: wait for the last step's weights before reading the clock.
    if (!["wasm", "cpu"].includes(tf.getBackend())) learn.model.parameters()[0]?.dataSync();
    this.times.push(performance.now() - this.t0);
  }
}

const SHUFFLE_SEED = 1;

/** What the PyTorch side needs to train exactly the same model: our initial weights and batch orders. */
interface SharedStart { params: string; shapes: number[][]; orders: string }

/**
 * Writes the model's initial parameters (float32, in order) and the training loader's shuffles for every
 * epoch (int32; the DataLoader draws them from seededRandom(SHUFFLE_SEED) in turn) to bench/cache, so
 * that both sides start from the same weights and see the same batches: their losses must then agree.
 */
function shareStart(c: TrainCase, model: Module, n: number): SharedStart {
  fs.mkdirSync(CACHE, { recursive: true });
  const params = model.parameters();
  const weights = Buffer.concat(params.map((p) => Buffer.from((p.dataSync() as Float32Array).slice().buffer)));
  const rand = seededRandom(SHUFFLE_SEED);
  const orders = Int32Array.from(Array.from({ length: WARMUP + RUNS }, () => shuffled(n, rand)).flat());
  const files = { params: path.join(CACHE, `start_${c.key}_params.f32`), orders: path.join(CACHE, `start_${c.key}_orders.i32`) };
  fs.writeFileSync(files.params, weights);
  fs.writeFileSync(files.orders, Buffer.from(orders.buffer));
  return { ...files, shapes: params.map((p) => p.shape) };
}

/** One PyTorch process holding one case, answering one epoch per request (scripts/bench_torch.py serve). */
class TorchCase {
  private readonly child;
  private readonly lines: AsyncIterator<string>;
  constructor(spec: object) {
    this.child = spawn(PYTHON, [path.join(ROOT, "scripts", "bench_torch.py"), "serve"], { stdio: ["pipe", "pipe", "inherit"] });
    this.lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.child.stdin.write(JSON.stringify(spec) + "\n");
  }
  /** The next answer; the process's exit is an error that says so. */
  async next<T>(): Promise<T> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`PyTorch (${PYTHON} scripts/bench_torch.py serve) exited early with code ${this.child.exitCode}; see its message above.`);
    return JSON.parse(r.value) as T;
  }
  async epoch(run: number): Promise<{ ms: number; loss: number | null }> {
    this.child.stdin.write(JSON.stringify({ run }) + "\n");
    return this.next();
  }
  close(): void {
    this.child.stdin.end();
  }
}

interface Side { runs: number[]; epochLosses: number[] }
interface CaseResult { ours: Side; torch: Side; about: TorchAbout }
type TorchAbout = { torch: string; threads: number; gpu?: string };

/**
 * One case on both sides, taking turns epoch by epoch: ours (the Learner the notebooks use) trains one
 * epoch, then PyTorch trains the same epoch while ours waits. A slow spell of this shared machine (they
 * happen, and last seconds) then falls on both sides of a ratio instead of one. WARMUP + RUNS epochs.
 */
async function trainBoth(c: TrainCase, x: tf.Tensor, y: tf.Tensor, spec: object): Promise<CaseResult> {
  const dls = DataLoaders.fromTensors(x, y, x, y, { bs: c.bs, seed: SHUFFLE_SEED });
  const timer = new TrainTimer();
  // Validation is not timed (on either side); one batch keeps the Recorder's epoch row complete.
  const loaders = { train: firstBatches(dls.train, c.steps ?? dls.train.length), valid: firstBatches(dls.valid, 1) };
  const model = archs[c.arch]();
  const start = shareStart(c, model, x.shape[0]);
  const learn = new Learner(loaders, model, { lossFunc: losses[c.loss], progress: false, cbs: [timer] });
  const torch = new TorchCase({ ...spec, case: { ...c, start } });
  try {
    const about = await torch.next<TorchAbout>();
    const torchSide: Side = { runs: [], epochLosses: [] };
    for (let run = 0; run < WARMUP + RUNS; run++) {
      await learn.fit(1, c.lr);
      const r = await torch.epoch(run);
      torchSide.runs.push(r.ms);
      torchSide.epochLosses.push(r.loss ?? NaN);
    }
    const ours: Side = { runs: timer.times, epochLosses: learn.recorder.values.map((v) => v.trainLoss) };
    const timed = (side: Side) => ({ ...side, runs: side.runs.slice(WARMUP) });
    return { ours: timed(ours), torch: timed(torchSide), about };
  } finally {
    torch.close();
    tf.dispose(model.parameters());
  }
}

/** Relative difference of two losses; agreement within LOSS_TOLERANCE means both sides did the same work. */
const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);
const LOSS_TOLERANCE = 1e-3;

/** Runs a command, returning the JSON object its last stdout line holds. */
function runJson(cmd: string, args: string[], input?: string): Record<string, unknown> {
  const r = spawnSync(cmd, args, { input, encoding: "utf8", maxBuffer: 1 << 24, stdio: ["pipe", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`\`${cmd} ${args.join(" ")}\` failed (exit ${r.status ?? r.signal})${r.error ? `: ${r.error.message}` : ""}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

/** PyTorch, PIL and numpy for PYTHON, plus OpenBLAS's threaded build (without it torch falls back to a
 * reference BLAS and the comparison says nothing). Installed from Debian when we are root, as setup does for Jupyter. */
function ensureTorch(): void {
  if (ON_GPU) {
    if (spawnSync(PYTHON, ["-c", "import torch, numpy; assert torch.cuda.is_available()"], { stdio: "inherit" }).status !== 0) {
      throw new Error(`BENCH_DEVICE=${DEVICE} needs ${PYTHON} with torch and numpy, and torch.cuda.is_available().`);
    }
    return;
  }
  const ok = () => spawnSync(PYTHON, ["-c", "import torch, PIL, numpy"], { stdio: "ignore" }).status === 0 &&
    (!fs.existsSync("/usr/bin/dpkg-query") ||
      spawnSync("dpkg-query", ["-W", "-f=${Status}", "libopenblas0-pthread"], { encoding: "utf8" }).stdout?.includes("install ok installed"));
  if (ok()) return;
  const pkgs = ["python3-torch", "python3-pil", "python3-numpy", "libopenblas0-pthread"];
  if (PYTHON !== "/usr/bin/python3" || process.getuid?.() !== 0 || !fs.existsSync("/usr/bin/apt-get")) {
    throw new Error(`The PyTorch side needs ${PYTHON} with torch, PIL and numpy, and libopenblas0-pthread: ` +
      `sudo apt-get install --no-install-recommends ${pkgs.join(" ")}`);
  }
  console.log(`bench: installing ${pkgs.join(" ")} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", ...pkgs]]) {
    if (spawnSync("apt-get", args, { env, stdio: ["ignore", "inherit", "inherit"] }).status !== 0) throw new Error(`apt-get ${args[0]} failed`);
  }
  if (!ok()) throw new Error(`${PYTHON} still cannot import torch after apt-get install`);
}

interface Row {
  name: string; ours_ms: number; reference_ms: number; ratio: number;
  /**
   * Mean training loss of the first epoch (untimed warm-up; same weights and batches on both sides) and
   * whether the two agree within LOSS_TOLERANCE; then the last epoch's, where rounding differences have
   * had 300 steps to grow (a sanity figure).
   */
  ours_loss?: number | null; reference_loss?: number | null; losses_match?: boolean;
  ours_last_loss?: number | null; reference_last_loss?: number | null;
}
/** A loss to 6 decimals; null when it diverged (JSON has no NaN). */
const round6 = (v: number | null) => (v !== null && Number.isFinite(v) ? +v.toFixed(6) : null);

async function main(): Promise<void> {
  // Offline machines of this project's kind keep the data sets beside the checkout (../shared/datasets,
  // as .ci/run uses them); take them from there when no mirror is named.
  const shared = path.resolve(ROOT, "..", "shared", "datasets");
  if (!process.env.DATA_MIRROR && fs.existsSync(path.join(shared, "SHA256SUMS"))) {
    process.env.DATA_MIRROR = shared;
    if (!process.argv.some((a) => a.startsWith("--cold-load"))) console.log(`bench: DATA_MIRROR not set; using ${shared}`);
  }
  const backend = await initBackend(); // TFJS_BACKEND, or the fastest that loads
  const sample = await untarData(URLs.MNIST_SAMPLE);

  // A child of --cold-load-mnist: case (g) in a fresh process, and nothing else.
  if (process.argv.includes("--cold-load-mnist")) {
    const r = await timedMnistLoad(await untarData(URLs.MNIST));
    console.log(JSON.stringify({ load_ms: r.ms, n: r.n }));
    return;
  }
  // A child of --cold-load: one load in a fresh process, and nothing else.
  if (process.argv.includes("--cold-load")) {
    console.log(JSON.stringify({ load_ms: (await timedLoad(sample, false)).ms }));
    return;
  }
  ensureTorch();
  const mnist = await untarData(URLs.MNIST);
  console.log(`bench: ${describeBackend(backend)}${QUICK ? " (quick smoke run)" : ""}`);

  // (e) Cold: every PNG decoded, here once and in fresh child processes. Warm: from the pixel cache,
  // which one untimed load fills first. Not on a GPU machine: loading is CPU work.
  const first = await timedLoad(sample, false);
  const coldMs = [first.ms];
  const warmMs: number[] = [];
  if (!ON_GPU) {
    (await timedLoad(sample, true)).x.dispose();
    for (let i = 0; i < LOAD_RUNS; i++) { const r = await timedLoad(sample, true); warmMs.push(r.ms); r.x.dispose(); }
    const childArgs = [...process.execArgv, __filename, "--cold-load", ...(QUICK ? ["--quick"] : [])];
    for (let i = 1; i < LOAD_RUNS; i++) coldMs.push(runJson(process.execPath, childArgs).load_ms as number);
  }

  // (g) Full MNIST's 60,000 training PNGs, cold (fresh processes, no pixel cache), PIL first then ours,
  // LOAD_RUNS times, so that a slow spell of the machine falls on both sides.
  const mnistCold: number[] = [], mnistRef: number[] = [];
  let mnistFiles = 0;
  if (!ON_GPU) {
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
  const full = await loadMnistTrain(mnist);
  const mnistXY = [full.x, full.y];
  const dataFiles = {
    sample: writeDataFile(path.join(CACHE, "train_sample.u8"), sampleXY[0], Uint8Array.from(sampleXY[1].dataSync())),
    mnist: full.file,
  };

  // PyTorch keeps its default thread count (here 1; its matrix products still use OpenBLAS's own threads,
  // as ours do). Forcing 2 made it slower here ((c): ~1150 ms against ~250 ms): the default is its best.
  const spec = { sample, limit: LIMIT, warm_loads: LOAD_RUNS, device: DEVICE, data_files: dataFiles };
  const results: Record<string, CaseResult> = {};
  for (const c of CASES) {
    const [x, y] = c.data === "sample" ? sampleXY : mnistXY;
    const r = (results[c.key] = await trainBoth(c, x, y, spec));
    console.log(`bench: ${c.name}: ours ${r.ours.runs.map((t) => t.toFixed(0)).join(", ")} ms; ` +
      `PyTorch ${r.torch.runs.map((t) => t.toFixed(0)).join(", ")} ms`);
  }
  tf.dispose([...sampleXY, ...mnistXY]);
  const about = Object.values(results)[0]?.about ?? { torch: "?", threads: 0 };
  const loadSpec = JSON.stringify(spec);
  const refLoads = ON_GPU ? undefined : (runJson(PYTHON, [path.join(ROOT, "scripts", "bench_torch.py"), "loads"], loadSpec) as { load_ms: number; warm_load_ms: number[] });
  const refCold = refLoads ? [refLoads.load_ms] : [];
  if (!ON_GPU) for (let i = 1; i < LOAD_RUNS; i++) refCold.push(runJson(PYTHON, [path.join(ROOT, "scripts", "bench_torch.py"), "load"], loadSpec).load_ms as number);

  const row = (name: string, o: number, r: number, extra: Partial<Row> = {}): Row =>
    ({ name, ours_ms: +o.toFixed(1), reference_ms: +r.toFixed(1), ratio: +(o / r).toFixed(2), ...extra });
  const nFiles = sampleTrainFiles(sample).length;
  const rows: Row[] = [
    ...CASES.map((c) => {
      const o = results[c.key].ours.epochLosses, r = results[c.key].torch.epochLosses;
      return row(c.name, median(results[c.key].ours.runs), median(results[c.key].torch.runs), {
        ours_loss: round6(o[0]), reference_loss: round6(r[0]), losses_match: relDiff(o[0], r[0]) <= LOSS_TOLERANCE,
        ours_last_loss: round6(o.at(-1)!), reference_last_loss: round6(r.at(-1)!),
      });
    }),
    ...(ON_GPU ? [] : [
      row(`(e) load ${nFiles} PNGs, cold (fresh process)`, median(coldMs), median(refCold)),
      row(`(e) load ${nFiles} PNGs, warm (ours: pixel cache)`, median(warmMs), median(refLoads!.warm_load_ms)),
      row(`(g) load ${mnistFiles} MNIST training PNGs + labels, cold (fresh process)`, median(mnistCold), median(mnistRef)),
    ]),
  ];

  const cpus = os.cpus();
  const machine = `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${os.availableParallelism()} cores` + (about.gpu ? `; GPU ${about.gpu}` : "");
  const reference = `PyTorch ${about.torch} (${PYTHON}) on ${DEVICE}, ${about.threads} CPU thread(s)` + (ON_GPU ? "" : "; PIL + numpy for loading");
  const header = ["case", "ours ms", "PyTorch ms", "ours/PyTorch", "epoch-1 loss ours", "PyTorch", "same"];
  const cells = rows.map((r) => [r.name, r.ours_ms.toFixed(0), r.reference_ms.toFixed(0), r.ratio.toFixed(2),
    ...[r.ours_loss, r.reference_loss].map((l) => (l === undefined ? "" : l === null ? "NaN" : l.toFixed(6))),
    r.losses_match === undefined ? "" : r.losses_match ? "yes" : "NO"]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => (i ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join("  ");
  console.log(`\nmachine: ${machine}\nours: ${describeBackend(backend)}\nreference: ${reference}\n`);
  console.log([line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n"));
  console.log(`\nMedians: training of ${RUNS} epochs after ${WARMUP} untimed ones, the two sides taking turns epoch by epoch, ` +
    `validation not timed; loading of ${LOAD_RUNS} runs. ` +
    "Losses: mean training loss of the first (warm-up) epoch; both sides start from the same weights and see the same " +
    `batches, so they must agree ("same": within ${LOSS_TOLERANCE * 100}% relative). Last epochs' losses are in bench/results.json.`);
  const mismatched = rows.filter((r) => r.losses_match === false);
  if (mismatched.length) console.log(`WARNING: losses differ for ${mismatched.map((r) => r.name.split(" ")[0]).join(", ")}: the two sides did not compute the same thing.`);

  if (QUICK || (ONLY && !process.env.BENCH_OUT)) return; // keep the recorded full run
  // BENCH_OUT: where a device run writes its table (the recorded CPU results stay as they are).
  const out = process.env.BENCH_OUT || path.join(ROOT, "bench", "results.json");
  fs.writeFileSync(out, JSON.stringify({ machine, backend: backend.name, reference, runs: RUNS, load_runs: LOAD_RUNS, date: new Date().toISOString(), cases: rows }, null, 2) + "\n");
  console.log(`wrote ${path.relative(ROOT, out)}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
