// The PyTorch side (scripts/bench_torch.py): installing it, and the exchange in which both sides train
// the same case epoch by epoch, taking turns.
import { spawn, spawnSync } from "node:child_process";
import * as readline from "node:readline";
import * as fs from "node:fs";
import * as path from "node:path";
import { tf, DataLoaders, Learner, buffersOf } from "fastbook-ts";
import { DEVICE, ON_GPU, PYTHON, ROOT, RUNS, WARMUP } from "./config";
import { archs, firstBatches, losses, shareStart, SHUFFLE_SEED, TrainTimer, type TrainCase } from "./cases";

/** One PyTorch process holding one case, answering one epoch per request (scripts/bench_torch.py serve). */
export class TorchCase {
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
  async epoch(run: number): Promise<{ ms: number; loss: number | null; first_loss: number | null }> {
    this.child.stdin.write(JSON.stringify({ run }) + "\n");
    return this.next();
  }
  close(): void {
    this.child.stdin.end();
  }
}

export interface Side { runs: number[]; epochLosses: number[]; firstLosses: number[] }
export interface CaseResult { ours: Side; torch: Side; about: TorchAbout }
export type TorchAbout = { torch: string; threads: number; blas_threads?: number; gpu?: string };

/**
 * One case on both sides, taking turns epoch by epoch: ours (the Learner the notebooks use) trains one
 * epoch, then PyTorch trains the same epoch while ours waits. A slow spell of this shared machine (they
 * happen, and last seconds) then falls on both sides of a ratio instead of one. WARMUP + RUNS epochs.
 */
export async function trainBoth(c: TrainCase, x: tf.Tensor, y: tf.Tensor, spec: object): Promise<CaseResult> {
  const dls = DataLoaders.fromTensors(x, y, x, y, { bs: c.bs, seed: SHUFFLE_SEED });
  const timer = new TrainTimer();
  // Validation is not timed (on either side); one batch keeps the Recorder's epoch row complete.
  const loaders = { train: firstBatches(dls.train, c.steps ?? dls.train.length), valid: firstBatches(dls.valid, 1) };
  const model = archs[c.arch]();
  const [warmup, runs] = [c.warmup ?? WARMUP, c.runs ?? RUNS];
  const start = shareStart(c, model, x.shape[0], warmup + runs);
  const learn = new Learner(loaders, model, { lossFunc: losses[c.loss], progress: false, cbs: [timer] });
  const torch = new TorchCase({ ...spec, case: { ...c, start } });
  try {
    const about = await torch.next<TorchAbout>();
    const torchSide: Side = { runs: [], epochLosses: [], firstLosses: [] };
    for (let run = 0; run < warmup + runs; run++) {
      await learn.fit(1, c.lr);
      const r = await torch.epoch(run);
      torchSide.runs.push(r.ms);
      torchSide.epochLosses.push(r.loss ?? NaN);
      torchSide.firstLosses.push(r.first_loss ?? NaN);
    }
    const ours: Side = { runs: timer.times, epochLosses: learn.recorder.values.map((v) => v.trainLoss), firstLosses: timer.firstLosses };
    const timed = (side: Side) => ({ ...side, runs: side.runs.slice(warmup) });
    return { ours: timed(ours), torch: timed(torchSide), about };
  } finally {
    torch.close();
    tf.dispose([...model.parameters(), ...buffersOf(model)]);
  }
}

/** Runs a command, returning the JSON object its last stdout line holds. */
export function runJson(cmd: string, args: string[], input?: string): Record<string, unknown> {
  const r = spawnSync(cmd, args, { input, encoding: "utf8", maxBuffer: 1 << 24, stdio: ["pipe", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`\`${cmd} ${args.join(" ")}\` failed (exit ${r.status ?? r.signal})${r.error ? `: ${r.error.message}` : ""}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

/** PyTorch, torchvision, PIL and numpy for PYTHON, plus OpenBLAS's threaded build (without it torch falls back to a
 * reference BLAS and the comparison says nothing). Installed from Debian when we are root, as setup does for Jupyter. */
export function ensureTorch(): void {
  if (ON_GPU) {
    if (spawnSync(PYTHON, ["-c", "import torch, numpy; assert torch.cuda.is_available()"], { stdio: "inherit" }).status !== 0) {
      throw new Error(`BENCH_DEVICE=${DEVICE} needs ${PYTHON} with torch and numpy, and torch.cuda.is_available().`);
    }
    return;
  }
  const ok = () => spawnSync(PYTHON, ["-c", "import torch, torchvision, PIL, numpy"], { stdio: "ignore" }).status === 0 &&
    (!fs.existsSync("/usr/bin/dpkg-query") ||
      spawnSync("dpkg-query", ["-W", "-f=${Status}", "libopenblas0-pthread"], { encoding: "utf8" }).stdout?.includes("install ok installed"));
  if (ok()) return;
  const pkgs = ["python3-torch", "python3-torchvision", "python3-pil", "python3-numpy", "libopenblas0-pthread"];
  if (PYTHON !== "/usr/bin/python3" || process.getuid?.() !== 0 || !fs.existsSync("/usr/bin/apt-get")) {
    throw new Error(`The PyTorch side needs ${PYTHON} with torch, torchvision (resnet18 for case (h)), PIL and numpy, and libopenblas0-pthread: ` +
      `sudo apt-get install --no-install-recommends ${pkgs.join(" ")}`);
  }
  console.log(`bench: installing ${pkgs.join(" ")} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", ...pkgs]]) {
    if (spawnSync("apt-get", args, { env, stdio: ["ignore", "inherit", "inherit"] }).status !== 0) throw new Error(`apt-get ${args[0]} failed`);
  }
  if (!ok()) throw new Error(`${PYTHON} still cannot import torch after apt-get install`);
}

