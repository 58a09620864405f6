// Settings shared by the benchmark's parts: where things live, how many runs, which cases.
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");
export const CACHE = path.join(ROOT, "bench", "cache");
export const PYTHON = process.env.BENCH_PYTHON || "/usr/bin/python3";
export const QUICK = process.argv.includes("--quick");
/** --full-epochs: cases that time part of an epoch by default ((h)) time whole epochs. */
export const FULL_EPOCHS = process.argv.includes("--full-epochs");
/** --cases=a,c: time only those training cases (and still the loading). */
export const ONLY = process.argv.find((a) => a.startsWith("--cases="))?.slice("--cases=".length).split(",");
/** "cuda" on a GPU machine (scripts/gpu/run.sh): PyTorch on CUDA, and no PNG-loading cases. */
export const DEVICE = process.env.BENCH_DEVICE || "cpu";
export const ON_GPU = DEVICE !== "cpu";
/** A whole-number flag `--name=N`, if given. */
function count(name: string): number | undefined {
  const v = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || (name === "runs" && Number(v) < 1)) throw new Error(`--${name}=${v}: give a whole number${name === "runs" ? " from 1" : ""}`);
  return Number(v);
}
/** Timed training runs per case (--runs=N: fewer where time on a machine is short). */
export const RUNS = QUICK ? 1 : count("runs") ?? 5;
/**
 * Untimed epochs before them, on both sides, while V8 optimises TensorFlow.js's JavaScript. Case (b)'s
 * epochs measure 83, 53, 38, 40, 31, 31, 32, 29, 33, 38 ms, then 27-29: V8 is not quite done by the sixth,
 * so the timed epochs include a little of the warm-up (bench/README.md, "Warm-up").
 */
export const WARMUP = QUICK ? 1 : count("warmup") ?? 5;
/** --runs or --warmup given: they apply to every case, also to those with counts of their own. */
export const COUNTS_GIVEN = count("runs") !== undefined || count("warmup") !== undefined;
export const LOAD_RUNS = QUICK ? 2 : 3; // 2 in the smoke run, to exercise the cold-load child
/** Files read per digit folder; the quick smoke run reads a few hundred. */
export const LIMIT: number | null = QUICK ? 400 : null;

export const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
