// What the executed notebooks must show: the chapter's numbers, pictures and tables. Shared by the
// notebook tests on the default backend (notebooks.test.ts) and on webgpu (webgpu.test.ts).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { executeNotebook } from "../scripts/run-notebooks";
import { tempDir } from "./helpers";

export const NOTEBOOKS = path.join(__dirname, "..", "notebooks");

export interface Output { output_type: string; text?: string | string[]; data?: Record<string, string | string[]>; ename?: string }
export interface Cell { cell_type: string; source: string | string[]; outputs?: Output[] }

export const join = (s: string | string[] | undefined) => (Array.isArray(s) ? s.join("") : s ?? "");

/** All text a reader sees in the code cells' outputs (streams, plain text and HTML), in order. */
export function outputsText(file: string): { text: string; cells: Cell[] } {
  const cells = (JSON.parse(fs.readFileSync(file, "utf8")) as { cells: Cell[] }).cells;
  const text = cells.flatMap((c) => c.outputs ?? []).map((o) =>
    o.output_type === "stream" ? join(o.text) : [join(o.data?.["text/plain"]), join(o.data?.["text/html"])].join("\n")).join("\n");
  return { text, cells };
}

/** The number printed after `label` (a regex source), e.g. "threes 0.9168". */
export function numberAfter(text: string, label: string): number {
  const m = new RegExp(`${label}\\s*[:=]?\\s*(-?[0-9.]+(?:e-?\\d+)?)`).exec(text);
  assert.ok(m, `the executed notebook shows no "${label}"`);
  return Number(m[1]);
}

/** What each notebook must show, beyond running without errors. */
export const checks: Record<string, (text: string) => void> = {
  "04_mnist_basics": (text) => {
    assert.match(text, /threes: 6131, sevens: 6265/);
    assert.match(text, /train\/3\/10000\.png/);
    assert.match(text, /a3 to mean3: L1 0\.1114, RMSE 0\.2021/);
    assert.match(text, /a3 to mean7: L1 0\.1586, RMSE 0\.3021/);
    assert.match(text, /tf\.losses, a3 to mean7: L1 0\.1586, RMSE 0\.3021/);
    assert.match(text, /valid threes: \[ 1010, 28, 28 \]\s+valid sevens: \[ 1028, 28, 28 \]/);
    assert.match(text, /baseline accuracy: threes 0\.9168, sevens 0\.9854, mean 0\.9511/);
    assert.match(text, /<img src="data:image\/png;base64,/, "the digits are shown as embedded images");
    assert.match(text, /<table[^>]*>.*background:rgb/s, "the heat-shaded pixel table is shown");
  },
  "04b_training_a_digit_classifier": (text) => {
    assert.match(text, /f\(3\) = 9, gradient 6/);
    assert.match(text, /f\(\[3,4,10\]\) summed = 125, gradients \[6,8,20\]/);
    const steps = [...text.matchAll(/step (\d+): loss ([0-9.]+)/g)].map((m) => Number(m[2]));
    assert.equal(steps.length, 10, "ten SGD steps are shown");
    steps.slice(1).forEach((l, i) => assert.ok(l < steps[i], `loss falls at step ${i + 2}: ${steps[i]} -> ${l}`));
    assert.match(text, /trainX \[ 12396, 784 \] trainY \[ 12396, 1 \]\s+validX \[ 2038, 784 \] validY \[ 2038, 1 \]/);
    assert.match(text, /mnistLoss\(prds, trgts\) = 0\.4333/);
    assert.match(text, /with 0\.8 instead of 0\.2: 0\.2333/);
    assert.match(text, /3 batches: \[\[/);
    assert.match(text, /batch sizes: 6,6,6,6,2/);
    const atLeast = (label: string, min: number) => {
      const v = numberAfter(text, label);
      assert.ok(v >= min, `${label} ${v} < ${min}`);
    };
    atLeast("hand-written linear model, 21 epochs: validation accuracy", 0.96);
    atLeast("BasicOptim linear model, 20 epochs: validation accuracy", 0.97);
    atLeast("Learner linear model, 10 epochs: validation accuracy", 0.96);
    atLeast("simple net, 40 epochs: validation accuracy", 0.98);
    atLeast("CNN, \\d+ epochs: validation accuracy", 0.985);
    assert.match(text, /epoch.*train_loss.*valid_loss.*batchAccuracy.*time/s, "the fit table is shown");
    assert.match(text, /<svg[^>]*>.*init.*predict.*loss.*gradient.*step.*stop/s, "the seven-step diagram is shown");
    assert.ok((text.match(/Plotly\.newPlot/g) ?? []).length >= 6, "the plots are drawn");
  },
};

/**
 * Executes a notebook (with extra environment variables for its kernel, e.g. TFJS_BACKEND) and asserts
 * that no cell fails or shows an error, the report is offline, and `checks` hold. Returns the outputs' text.
 */
export async function runAndCheck(file: string, env: NodeJS.ProcessEnv = {}): Promise<{ text: string; seconds: number; checked: boolean }> {
  const name = path.basename(file, ".ipynb");
  const result = await executeNotebook(path.join(NOTEBOOKS, file), tempDir("fastbook-nb-"), { echo: false, env });
  assert.ok(result.ok, result.message);
  const { text, cells } = outputsText(result.ipynb);
  const errors = cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === "error" ||
    (o.output_type === "stream" && /^\s*\w*Error\b|UncaughtException|UnhandledPromiseRejection/m.test(join(o.text))));
  assert.deepEqual(errors, [], "no cell shows an error");
  assert.ok(fs.statSync(result.html).size > 0, "the HTML report was written");
  const html = fs.readFileSync(result.html, "utf8");
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)="https?:/i, "the report loads nothing from the network");
  checks[name]?.(text);
  return { text, seconds: result.seconds, checked: Boolean(checks[name]) };
}
