// The benchmark's report: one row per case (times, ratio, first-epoch losses), printed as a table and
// written to bench/results.json.
import * as fs from "node:fs";
import { LOAD_RUNS, RUNS, WARMUP, median } from "./config";
import type { StepProfile } from "./arith";

/** Relative difference of two losses; agreement within LOSS_TOLERANCE means both sides did the same work. */
export const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);
export const LOSS_TOLERANCE = 1e-3;

export interface Row {
  name: string; ours_ms: number; reference_ms: number; ratio: number;
  /**
   * Mean training loss of the first epoch (untimed warm-up; same weights and batches on both sides) and
   * whether the two agree within LOSS_TOLERANCE; then the last epoch's, where rounding differences have
   * had 300 steps to grow (a sanity figure).
   */
  ours_loss?: number | null; reference_loss?: number | null; losses_match?: boolean;
  ours_last_loss?: number | null; reference_last_loss?: number | null;
  /** Training cases: the products' multiply-adds of an epoch, and each side's rate as a share of the machine's matrix-product rate. */
  epoch_macs?: number; ours_peak_fraction?: number; reference_peak_fraction?: number;
  /** Training cases: one step of ours, profiled (see scripts/bench/arith.ts). */
  step_profile?: StepProfile;
}
/** A loss to 6 decimals; null when it diverged (JSON has no NaN). */
export const round6 = (v: number | null) => (v !== null && Number.isFinite(v) ? +v.toFixed(6) : null);


/** A row: medians of both sides' runs and their ratio, plus anything else the case has. */
export function row(name: string, ours: number, reference: number, extra: Partial<Row> = {}): Row {
  return { name, ours_ms: +ours.toFixed(1), reference_ms: +reference.toFixed(1), ratio: +(ours / reference).toFixed(2), ...extra };
}

/** A training case's row: the median epoch times, and the first and last epochs' losses of both sides. */
type SideLosses = { runs: number[]; epochLosses: number[]; firstLosses: number[] };
export function trainingRow(name: string, ours: SideLosses, torch: SideLosses, tolerance = LOSS_TOLERANCE, firstBatch = false): Row {
  const [o, r] = firstBatch ? [ours.firstLosses, torch.firstLosses] : [ours.epochLosses, torch.epochLosses];
  return row(name, median(ours.runs), median(torch.runs), {
    ours_loss: round6(o[0]), reference_loss: round6(r[0]), losses_match: relDiff(o[0], r[0]) <= tolerance,
    ours_last_loss: round6(o.at(-1)!), reference_last_loss: round6(r.at(-1)!),
  });
}

/** Prints what was compared with what, and the table. */
export function printReport(about: { machine: string; ours: string; reference: string }, rows: Row[]): void {
  const header = ["case", "ours ms", "reference ms", "ours/reference", "epoch-1 loss ours", "PyTorch", "same"];
  const cells = rows.map((r) => [r.name, r.ours_ms.toFixed(0), r.reference_ms.toFixed(0), r.ratio.toFixed(2),
    ...[r.ours_loss, r.reference_loss].map((l) => (l === undefined ? "" : l === null ? "NaN" : l.toFixed(6))),
    r.losses_match === undefined ? "" : r.losses_match ? "yes" : "NO"]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => (i ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join("  ");
  console.log(`\nmachine: ${about.machine}\nours: ${about.ours}\nreference: ${about.reference}\n`);
  console.log([line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n"));
  console.log(`\nMedians: training of ${RUNS} epochs after ${WARMUP} untimed ones ((h): its own counts, see bench/README.md), the two sides taking turns epoch by epoch, ` +
    `validation not timed; loading of ${LOAD_RUNS} runs. ` +
    "Losses: mean training loss of the first (warm-up) epoch; both sides start from the same weights and see the same " +
    `batches, so they must agree ("same": within ${LOSS_TOLERANCE * 100}% relative, 0.3% for (f); for (h) the first batch's loss). ` +
    "Last epochs' losses are in bench/results.json.");
  const mismatched = rows.filter((r) => r.losses_match === false);
  if (mismatched.length) console.log(`WARNING: losses differ for ${mismatched.map((r) => r.name.split(" ")[0]).join(", ")}: the two sides did not compute the same thing.`);
}

/**
 * The second table: for each training case, its useful arithmetic per second on each side as a share of
 * the machine's matrix-product rate, and where one step of ours spends its time.
 */
export function printArithmetic(peakMacs: number, rows: Row[]): void {
  const trained = rows.filter((r) => r.step_profile);
  if (!trained.length) return;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const header = ["case", "GMAC/epoch", "ours % of peak", "PyTorch % of peak", "step ms", "products", "elementwise", "reductions", "copies", "other", "kernels", "reads"];
  const cells = trained.map((r) => {
    const p = r.step_profile!, share = (ms: number) => pct(ms / p.profiledMs);
    return [r.name.split(" ")[0], (r.epoch_macs! / 1e9).toFixed(2), pct(r.ours_peak_fraction!), pct(r.reference_peak_fraction!), p.stepMs.toFixed(1),
      share(p.kinds.products), share(p.kinds.elementwise), share(p.kinds.reductions), share(p.kinds.copies), share(p.kinds.other), String(p.kernels), String(p.reads)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => (i ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join("  ");
  console.log(`\nArithmetic: the machine's float32 matrix-product rate (2048³ through the backend's matMul) is ${(peakMacs / 1e9).toFixed(1)} GMAC/s. ` +
    "A case's useful arithmetic is the multiply-adds of its products (matrix products, convolutions and their gradients) in an epoch; " +
    "its rate over the epoch's median time, as a share of that peak, is shown for both sides. Then one training step of ours, profiled: " +
    "the median step time unprofiled, then the share of the profiled step's wall time in each kind of kernel, \"other\" being what no kernel accounts for (op dispatch, the gradient tape, JavaScript), " +
    "the kernels it runs and the values it reads back.\n");
  console.log([line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n"));
}

/** Writes the results file (bench/results.json, or BENCH_OUT). */
export function writeResults(file: string, about: { machine: string; backend: string; reference: string; peak_gmacs?: number; incomplete?: string }, rows: Row[]): void {
  // Through a temporary file: a run stopped while writing leaves the previous file whole.
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify({ ...about, runs: RUNS, load_runs: LOAD_RUNS, date: new Date().toISOString(), cases: rows }, null, 2) + "\n");
  fs.renameSync(tmp, file);
}
