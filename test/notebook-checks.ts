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

/** Asserts that the number printed after `label` is at least `min`. */
function atLeastIn(text: string, label: string, min: number): void {
  const v = numberAfter(text, label);
  assert.ok(v >= min, `${label} ${v} < ${min}`);
}

/** The counts of the heatmap drawn with `classes` as its column and row names (a confusion matrix). */
function confusionMatrix(text: string, classes: readonly string[]): number[][] {
  // Each chart's script holds `newPlot(el, <traces as JSON>, <layout as JSON>, ...)`; JSON has no ", {".
  const heatmaps = [...text.matchAll(/newPlot\(el, (\[\{"type":"heatmap".*?\}\]), \{/g)]
    .map((m) => (JSON.parse(m[1].replace(/\\u003c/g, "<")) as { z: number[][]; x: string[]; y: string[] }[])[0]);
  const found = heatmaps.find((h) => JSON.stringify(h.x) === JSON.stringify(classes) && JSON.stringify(h.y) === JSON.stringify(classes));
  assert.ok(found, `a heatmap with the class names ${classes.join(", ")} along both axes is shown (found ${heatmaps.length} heatmaps)`);
  return found.z;
}

/** The images shown after the top-losses line, with their captions. */
function topLossImages(text: string): string[] {
  const at = text.search(/The \d+ items with the highest losses, highest first:/);
  assert.ok(at >= 0, "the top losses are shown");
  const after = text.slice(at);
  return [...after.matchAll(/<img src="data:image\/png;base64,[^"]+"[^>]*>\s*<figcaption[^>]*>([^<]*)<\/figcaption>/g)].map((m) => m[1]);
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
  "04c_all_ten_digits": (text) => {
    assert.match(text, /training: 0: 5923, 1: 6742, .*9: 5949/);
    assert.match(text, /training: 60000 images, validation: 10000 images/);
    assert.match(text, /held out 12000 of 60000 training images/);
    assert.match(text, /seed 42 again: the same split/);
    assert.match(text, /(?:label \d: {2}(?:\d\.\d{3} ){9}\d\.\d{3} {2}1\.000\s+){4}/, "four softmax rows, each summing to 1");
    assert.match(text, /naive softmax of \[100, 200, 300\]: NaN, NaN, NaN/);
    const gradientDiffs = [...text.matchAll(/max \|gradient - formula\| ([0-9.e+-]+)/g)].map((m) => Number(m[1]));
    assert.equal(gradientDiffs.length, 3, "three gradients are compared with the formula");
    gradientDiffs.forEach((d) => assert.ok(d < 1e-6, `a cross-entropy gradient differs from (softmax - onehot)/N by ${d}`));
    assert.ok(numberAfter(text, "largest difference between the three losses:") < 1e-5, "the three cross-entropies agree");
    atLeastIn(text, "all ten digits, linear, \\d+ epochs: validation accuracy", 0.92);
    atLeastIn(text, "all ten digits, mlp, \\d+ epochs: validation accuracy", 0.975);
    atLeastIn(text, "all ten digits, cnn, \\d+ epochs: validation accuracy", 0.99);
    assert.equal((text.match(/"title":\{"text":"Learning rate finder"/g) ?? []).length, 3, "an lr-finder plot for each model");
    const digits = Array.from({ length: 10 }, (_, i) => String(i));
    const counts = confusionMatrix(text, digits);
    const total = counts.flat().reduce((a, b) => a + b, 0), right = digits.reduce((a, _, i) => a + counts[i][i], 0);
    assert.equal(total, 10000, "the confusion matrix counts every test image once");
    assert.ok(Math.abs(right / total - numberAfter(text, "all ten digits, cnn, \\d+ epochs: validation accuracy")) < 1e-4,
      "the confusion matrix's diagonal gives the CNN's accuracy");
    assert.match(text, /\d taken for \d: \d+ times/);
    const top = topLossImages(text);
    assert.ok(top.length >= 12, `12 top-loss images are shown (found ${top.length})`);
    const losses = top.slice(0, 12).map((c) => Number(/^loss ([\d.]+), prob [\d.]+$/m.exec(c)?.[1]));
    losses.slice(1).forEach((l, i) => assert.ok(l <= losses[i], `top losses are shown highest first: ${losses.join(", ")}`));
  },
  "04d_learner_from_scratch": (text) => {
    assert.match(text, /trainX \[ 12396, 784 \] trainY \[ 12396, 1 \]\s+validX \[ 2038, 784 \] validY \[ 2038, 1 \]/);
    const firstStep = /loss on the first batch: before the step ([0-9.]+), after it ([0-9.]+)/.exec(text);
    assert.ok(firstStep, "the single step on one batch is shown");
    assert.ok(Number(firstStep[2]) < Number(firstStep[1]), `one step lowers the batch's loss: ${firstStep[1]} -> ${firstStep[2]}`);
    const simpleEpochs = [...text.matchAll(/epoch (\d): valid loss ([0-9.]+), batchAccuracy ([0-9.]+)/g)];
    assert.equal(simpleEpochs.length, 3, "SimpleLearner prints three epochs");
    assert.ok(Number(simpleEpochs[2][3]) >= 0.97, `SimpleLearner's accuracy after 3 epochs: ${simpleEpochs[2][3]}`);
    assert.match(text, /epoch\s+train_loss\s+valid_loss\s+batchAccuracy\s+time/, "MyLearner's printing callback shows its header");
    const vsSimple = /MyLearner vs SimpleLearner: (\d+) vs (\d+) batches, max loss difference (\S+)/.exec(text);
    assert.ok(vsSimple, "MyLearner is compared with SimpleLearner");
    assert.equal(vsSimple[1], vsSimple[2]);
    assert.ok(Number(vsSimple[3]) < 1e-6, `MyLearner vs SimpleLearner: ${vsSimple[3]}`);
    assert.match(text, new RegExp(["beforeFit", "beforeEpoch",
      "training batch 0: beforeBatch → afterPred → afterLoss → afterStep → afterBatch",
      "validation batch 0: beforeBatch → afterPred → afterLoss → afterBatch", "afterFit"].join("\\n")),
    "the traced events, in order, ending with afterFit after StopTraining");
    const counts = /per-batch losses compared: (\d+) \(mine\) and (\d+) \(library\)/.exec(text);
    assert.ok(counts, "the number of compared batches is shown");
    assert.equal(Number(counts[1]), 3 * 49, "three epochs of 49 batches");
    assert.equal(counts[2], counts[1]);
    const diff = /learner from scratch: max loss difference (\S+)/.exec(text);
    assert.ok(diff, "the learner-from-scratch check is printed");
    assert.ok(Number.isFinite(Number(diff[1])) && Number(diff[1]) < 1e-6, `max loss difference ${diff[1]} must be below 1e-6`);
    const epochs = [...text.matchAll(/epoch \d: train loss ([0-9.]+) \(library ([0-9.]+)\), valid loss ([0-9.]+) \(library ([0-9.]+)\), accuracy ([0-9.]+) \(library ([0-9.]+)\)/g)];
    assert.equal(epochs.length, 3, "per-epoch numbers of both learners");
    for (const m of epochs) {
      assert.ok(Math.abs(Number(m[1]) - Number(m[2])) < 1e-5 && Math.abs(Number(m[3]) - Number(m[4])) < 1e-5, m[0]);
      assert.equal(m[5], m[6], m[0]);
    }
    assert.match(text, /epoch.*train_loss.*valid_loss.*batchAccuracy.*time/s, "the library's fit table is shown");
    assert.ok((text.match(/Plotly\.newPlot/g) ?? []).length >= 1, "the loss curves are drawn");
  },
  "04e_by_hand_and_by_library": (text) => {
    // The table as a reader sees it: the text of each row's cells.
    const table = [...text.matchAll(/<table[^>]*>(.*?)<\/table>/gs)].map((m) => m[1]).find((t) => t.includes(">TensorFlow.js or library</th>"));
    assert.ok(table, "the comparison table is shown");
    const plain = (html: string) => html.replace(/<[^>]+>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
    const rows = [...table.matchAll(/<tr>(.*?)<\/tr>/g)].slice(1).map((r) => [...r[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => plain(c[1])));
    const names = ["mnistDistance", "pixel-similarity predictor (is3)", "sigmoid", "initParams", "linear1", "mnistLoss",
      "optimizer step", "trainEpoch", "batchAccuracy", "softmax", "cross-entropy", "Learner"];
    assert.deepEqual(rows.map((r) => r[0]), names, "one table row per hand-written function");
    for (const [name, , , , , diff, corr] of rows) {
      assert.ok(Number.isFinite(Number(diff)) && Number(diff) < 1e-4, `${name}: max |diff| ${diff}`);
      assert.ok(corr.startsWith("n/a") || Number(corr) >= 0.9999995, `${name}: correlation ${corr}`);
    }
    const summary = /by hand vs library: (\d+) rows, largest difference (\S+)/.exec(text);
    assert.ok(summary, "the summary line is printed");
    assert.equal(Number(summary[1]), names.length);
    assert.ok(Number(summary[2]) < 1e-4, `largest difference ${summary[2]}`);
    assert.match(text, /pearson\(\[1,2,3\], \[2,4,6\]\) = 1, pearson\(\[1,2,3\], \[3,2,1\]\) = -1/);
    // Part 1's baseline gets 926 of 1010 threes and 1013 of 1028 sevens right: 1939 / 2038.
    assert.match(text, new RegExp(`accuracy of the predictor: ${(1939 / 2038).toFixed(4)}`));
  },
  "04f_questionnaire": (text) => {
    assert.match(text, /a: {13}\[0,1,2,3,4,5,6,7,8,9\]/);
    assert.match(text, /doubled evens: \[0,1,4,3,8,5,12,7,16,9\]/);
    assert.match(text, /tf\.where: {6}\[0,1,4,3,8,5,12,7,16,9\]/);
    assert.match(text, /same as the map version: true/);
    assert.match(text, /\[\[1, 2, 3\],\s*\[4, 5, 6\],\s*\[7, 8, 9\]\]/);
    assert.match(text, /\[\[2 , 4 , 6 \],\s*\[8 , 10, 12\],\s*\[14, 16, 18\]\]/);
    assert.match(text, /Tensor int32 \[2,2\]\s*\[\[10, 12\],\s*\[16, 18\]\]/);
    assert.match(text, /t: shape \[3,3\], rank 2; a scalar: shape \[\], rank 0/);
    assert.match(text, /\[1, 2, 3\] \+ 10 = \[11,12,13\]/);
    assert.match(text, /\[\[11, 22, 33\],\s*\[14, 25, 36\],\s*\[17, 28, 39\]\]/);
    assert.match(text, /\[\[101, 102, 103\],\s*\[204, 205, 206\],\s*\[307, 308, 309\]\]/);
    assert.match(text, /shapes \[3,1\] \+ \[1,4\] -> \[3,4\]/);
    assert.match(text, /\[3,3\] \+ \[2\] fails: Operands could not be broadcast/);
    const steps = [...text.matchAll(/step (\d+): loss ([0-9.]+)/g)].map((m) => Number(m[2]));
    assert.ok(steps.length >= 5, `the SGD loop shows its steps (${steps.length})`);
    steps.slice(1).forEach((l, i) => assert.ok(l < steps[i], `loss falls at step ${i + 2}: ${steps[i]} -> ${l}`));
    const fit = /stopped after (\d+) steps: slope ([0-9.-]+), intercept ([0-9.-]+)/.exec(text);
    assert.ok(fit, "the fitted line is printed");
    assert.equal(Number(fit[1]), steps.length);
    assert.ok(Math.abs(Number(fit[2]) - 3) < 0.1 && Math.abs(Number(fit[3]) - 2) < 0.1, `fitted ${fit[2]}x + ${fit[3]}, data from 3x + 2`);
    assert.match(text, /sigmoid\(0\) = 0\.5000, sigmoid\(-6\) = 0\.0025, sigmoid\(6\) = 0\.9975/);
    assert.match(text, /relu\(\[-2, -1, 0, 1, 2\]\) = \[0,0,0,1,2\]/);
    assert.ok((text.match(/Plotly\.newPlot/g) ?? []).length >= 4, "the data, the fit, sigmoid and ReLU are plotted");
  },
  "04g_fashion_mnist": (text) => {
    assert.match(text, /T-shirt\/top: 6000, Trouser: 6000, .*Ankle boot: 6000/);
    atLeastIn(text, "fashion mnist, mlp, \\d+ epochs: validation accuracy", 0.87);
    atLeastIn(text, "fashion mnist, cnn, \\d+ epochs: validation accuracy", 0.90);
    assert.equal((text.match(/"title":\{"text":"Learning rate finder"/g) ?? []).length, 2, "an lr-finder plot for each model");
    const classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    const counts = confusionMatrix(text, classes);
    const total = counts.flat().reduce((a, b) => a + b, 0), right = classes.reduce((a, _, i) => a + counts[i][i], 0);
    assert.equal(total, 10000, "the confusion matrix counts every test image once");
    assert.ok(Math.abs(right / total - numberAfter(text, "fashion mnist, cnn, \\d+ epochs: validation accuracy")) < 1e-4,
      "the confusion matrix's diagonal gives the CNN's accuracy");
    const top = topLossImages(text);
    assert.ok(top.length >= 12, `12 top-loss images are shown (found ${top.length})`);
    const losses = top.slice(0, 12).map((c) => Number(/^loss ([\d.]+), prob [\d.]+$/m.exec(c)?.[1]));
    losses.slice(1).forEach((l, i) => assert.ok(l <= losses[i], `top losses are shown highest first: ${losses.join(", ")}`));
  },
  "04h_salt_segmentation": (text) => {
    const line = (name: string) => {
      const m = new RegExp(`salt segmentation \\((synthetic|kaggle)\\), ${name}: validation score ([0-9.]+), iou ([0-9.]+)`).exec(text);
      assert.ok(m, `the notebook prints "salt segmentation (...), ${name}: validation score x, iou y"`);
      return { source: m[1], score: Number(m[2]), iou: Number(m[3]) };
    };
    const empty = line("all empty"), threshold = line("brightness threshold"), unet = line("unet, \\d+ epochs");
    assert.equal(empty.iou, 0, "predicting no salt has no overlap with salt");
    const emptyShare = /train\.csv: (\d+) masks, (\d+) without salt/.exec(text);
    assert.ok(emptyShare, "the share of masks without salt is printed");
    if (unet.source === "synthetic") {
      assert.match(text, /SYNTHETIC stand-in for the TGS salt data/);
      assert.ok(Math.abs(Number(emptyShare[2]) / Number(emptyShare[1]) - 0.39) < 0.04, `about 39% of the masks are empty: ${emptyShare[0]}`);
      assert.ok(unet.score >= 0.75, `the U-Net's validation score ${unet.score} < 0.75`);
      assert.ok(unet.score >= Math.max(empty.score, threshold.score) + 0.2, `the U-Net (${unet.score}) beats the baselines ` +
        `(${empty.score}, ${threshold.score}) by a wide margin`);
    }
    assert.match(text, /middle column of a 3x3 mask: "4 3"/);
    assert.match(text, /train\.csv and the mask files agree on 200 of 200 masks/);
    assert.match(text, /wrote reports\/submission\.csv: \d+ test images, \d+ with salt predicted; re-read and decoded: identical masks/);
    assert.equal((text.match(/"title":\{"text":"Learning rate finder"/g) ?? []).length, 1, "the lr-finder plot is drawn");
    assert.match(text, /epoch.*train_loss.*valid_loss.*saltScore.*iou.*time/s, "the fit table is shown");
    const masks = (text.match(/<figcaption[^>]*>mask: \d+% salt<\/figcaption>/g) ?? []).length;
    const predictions = [...text.matchAll(/<figcaption[^>]*>prediction: score ([0-9.]+)<\/figcaption>/g)].map((m) => Number(m[1]));
    assert.ok(masks >= 8 + 12, `the training batch and the predictions show masks (${masks})`);
    assert.ok(predictions.length >= 12, `predictions are drawn for the first and the worst validation images (${predictions.length})`);
    const worst = predictions.slice(-6);
    worst.slice(1).forEach((s, i) => assert.ok(s >= worst[i]!, `the worst images come lowest score first: ${worst.join(", ")}`));
  },
};

/**
 * Executes a notebook (with extra environment variables for its kernel, e.g. TFJS_BACKEND) into `out` and
 * asserts that no cell fails or shows an error, the report is offline, and `checks` hold. Returns the
 * outputs' text, the report's path and its HTML.
 */
export async function runAndCheck(file: string, env: NodeJS.ProcessEnv = {}, out = tempDir("fastbook-nb-")):
    Promise<{ text: string; seconds: number; checked: boolean; htmlFile: string; html: string }> {
  const name = path.basename(file, ".ipynb");
  const result = await executeNotebook(path.join(NOTEBOOKS, file), out, { echo: false, env });
  assert.ok(result.ok, result.message);
  const { text, cells } = outputsText(result.ipynb);
  const errors = cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === "error" ||
    (o.output_type === "stream" && /^\s*\w*Error\b|UncaughtException|UnhandledPromiseRejection/m.test(join(o.text))));
  assert.deepEqual(errors, [], "no cell shows an error");
  assert.ok(fs.statSync(result.html).size > 0, "the HTML report was written");
  const html = fs.readFileSync(result.html, "utf8");
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)="https?:/i, "the report loads nothing from the network");
  checks[name]?.(text);
  return { text, seconds: result.seconds, checked: Boolean(checks[name]), htmlFile: result.html, html };
}
