// What the executed notebooks must show: the chapter's numbers, pictures and tables. Shared by the
// notebook tests on the default backend (notebooks.test.ts) and on webgpu (webgpu.test.ts).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { executeNotebook } from "../scripts/run-notebooks";
import { PNG } from "pngjs";
import { spawnSync } from "node:child_process";
import { pythonPath } from "../scripts/jupyter-env.mjs";
import { fullMnistIdx, tempDir } from "./helpers";

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

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

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

/**
 * The pixel-similarity baseline on all ten digits (one mean image per digit, L1 distance), computed with
 * numpy from the original IDX files (test/pixel_similarity.py); or why it cannot be.
 */
function pixelSimilarityReference(): { accuracy: number } | { skip: string } {
  const idx = fullMnistIdx();
  if ("skip" in idx) return idx;
  if (spawnSync(pythonPath(), ["-c", "import numpy"], { stdio: "ignore" }).status !== 0) {
    const why = `${pythonPath()} cannot import numpy (Debian: apt-get install python3-numpy; npm test's setup installs it as root)`;
    if (process.env.CI === "true") assert.fail(`CI=true and ${why}.`);
    return { skip: why };
  }
  const run = spawnSync(pythonPath(), [path.join(__dirname, "pixel_similarity.py"), idx.dir], { encoding: "utf8", timeout: 1_800_000 });
  assert.equal(run.status, 0, `pixel_similarity.py failed:\n${run.stderr}`);
  const { correct, total } = JSON.parse(run.stdout) as { correct: number; total: number };
  return { accuracy: correct / total };
}

/** What each notebook must show, beyond running without errors; `notes` collects what could not be checked here. */
export const checks: Record<string, (text: string, cells: Cell[], notes: string[]) => void> = {
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
    assert.match(text, /Tensor float32 \[3\]\s+\[6, 8, 20\]/, "the gradient of the sum of squares of [3, 4, 10]");
    const shown = /\[\s*(-1\.5,[-0-9.,\s]+)\]/.exec(text);
    assert.ok(shown, "ten steps on x² at lr 0.1 are shown");
    const expected = [-1.5];
    for (let i = 0; i < 10; i++) expected.push(expected[i] - 0.1 * 2 * expected[i]);
    assert.deepEqual(shown[1].split(",").map(Number), expected.map((v) => Number(v.toFixed(3))));
    const oneStep = /loss after one step: ([0-9.]+) \(before: ([0-9.]+)\)/.exec(text);
    assert.ok(oneStep && Number(oneStep[1]) < Number(oneStep[2]), "one step of the end-to-end example lowers the loss");
    const steps = [...text.matchAll(/step (\d+): loss ([0-9.]+)/g)].map((m) => Number(m[2]));
    assert.equal(steps.length, 10, "ten SGD steps are shown");
    steps.slice(1).forEach((l, i) => assert.ok(l < steps[i], `loss falls at step ${i + 2}: ${steps[i]} -> ${l}`));
    assert.match(text, /trainX \[ 12396, 784 \] trainY \[ 12396, 1 \]\s+validX \[ 2038, 784 \] validY \[ 2038, 1 \]/);
    assert.match(text, /mnistLoss\(prds, trgts\) = 0\.4333/);
    assert.match(text, /with 0\.8 instead of 0\.2: 0\.2333/);
    const batches = /\[ \[ ([\d, ]+) \], \[ ([\d, ]+) \], \[ ([\d, ]+) \] \]/.exec(text);
    assert.ok(batches, "three batches of the DataLoader are shown");
    assert.deepEqual(batches.slice(1).flatMap((b) => b.split(", ").map(Number)).sort((x, y) => x - y), Array.from({ length: 15 }, (_, i) => i));
    const weighted = /prediction for the first image: (-?[0-9.]+) \(the weighted sum above: (-?[0-9.]+)\)/.exec(text);
    assert.ok(weighted, "the single image's weighted sum is compared with the matrix product");
    assert.equal(weighted[1], weighted[2]);
    const grads = /weights grad \[784,1\], mean (\S+), bias grad (\S+)\s+again, without zeroing: weights grad mean (\S+), bias grad (\S+)/.exec(text);
    assert.ok(grads, "the gradients, twice");
    assert.ok(Math.abs(Number(grads[3]) / Number(grads[1]) - 2) < 1e-3 && Math.abs(Number(grads[4]) / Number(grads[2]) - 2) < 1e-3,
      `backward without zeroing doubles the gradients: ${grads.slice(1).join(", ")}`);
    assert.ok(numberAfter(text, "relative difference:") < 1e-5, "two linear layers in a row equal one");
    const two = /two linear layers: (.+)\s+one linear layer: {2}(.+)/.exec(text);
    assert.ok(two && two[1] === two[2], "two linear layers and their single equivalent give the same predictions");
    assert.match(text, /tf\.relu: +\[0,0,0,0\.5,2\]\s+ReLU\(\)\.forward: +\[0,0,0,0\.5,2\]/);
    assert.match(text, /batch sizes: 6,6,6,6,2/);
    const atLeast = (label: string, min: number) => {
      const v = numberAfter(text, label);
      assert.ok(v >= min, `${label} ${v} < ${min}`);
    };
    atLeast("hand-written linear model, 21 epochs: validation accuracy", 0.96);
    atLeast("BasicOptim linear model, 20 epochs: validation accuracy", 0.97);
    atLeast("SGD linear model, 20 epochs: validation accuracy", 0.97);
    atLeast("Learner linear model, 10 epochs: validation accuracy", 0.96);
    atLeast("simple net, 40 epochs: validation accuracy", 0.98);
    atLeast("CNN, \\d+ epochs: validation accuracy", 0.985);
    atLeast("resnet18 from scratch, 1 epoch: validation accuracy", 0.99);
    assert.match(text, /resnet18 from scratch, 1 epoch: validation accuracy [0-9.]+ \(the epoch took \d+ s on backend "\w+"\)/);
    assert.match(text, /epoch.*train_loss.*valid_loss.*batchAccuracy.*time/s, "the fit table is shown");
    assert.match(text, /<svg[^>]*>.*init.*predict.*loss.*gradient.*step.*stop/s, "the seven-step diagram is shown");
    assert.ok((text.match(/Plotly\.newPlot/g) ?? []).length >= 6, "the plots are drawn");
  },
  "04c_all_ten_digits": (text, _cells, notes) => {
    assert.match(text, /training: 0: 5923, 1: 6742, .*9: 5949/);
    assert.match(text, /training: 60000 images, validation: 10000 images/);
    assert.match(text, /held out 12000 of 60000 training images/);
    assert.match(text, /seed 42 again: the same split/);
    assert.match(text, /(?:label \d: {2}(?:\d\.\d{3} ){9}\d\.\d{3} {2}1\.000\s+){4}/, "four softmax rows, each summing to 1");
    assert.match(text, /naive softmax of \[100, 200, 300\]: NaN, NaN, NaN/);
    // The chapter's steps on ten digits: the pixel-similarity baseline, checked against numpy on the IDX files.
    const baseline = numberAfter(text, "all ten digits, pixel similarity: validation accuracy");
    const reference = pixelSimilarityReference();
    if ("skip" in reference) notes.push(`the baseline (${baseline}) was not compared with numpy: ${reference.skip}`);
    else assert.ok(Math.abs(baseline - reference.accuracy) <= 2e-4, `pixel similarity: notebook ${baseline}, numpy ${reference.accuracy}`);
    const handEpochs = [...text.matchAll(/epoch (\d): validation loss ([0-9.]+), accuracy ([0-9.]+)/g)].map((m) => Number(m[2]));
    assert.ok(handEpochs.length >= 3, "the hand-written loop prints its epochs");
    assert.ok(handEpochs.at(-1)! < handEpochs[0], `the hand-written loop lowers the validation loss: ${handEpochs.join(", ")}`);
    const handLoop = numberAfter(text, `all ten digits, hand-written loop, ${handEpochs.length} epochs: validation accuracy`);
    assert.ok(handLoop >= 0.9 && handLoop > baseline, `hand-written loop ${handLoop}, baseline ${baseline}`);
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
  "04f_questionnaire": (text, cells) => {
    const markdown = cells.filter((c) => c.cell_type === "markdown").map((c) => join(c.source)).join("\n");
    const questions = [...markdown.matchAll(/^### (\d+)\. \S.+$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(questions, Array.from({ length: 37 }, (_, i) => i + 1), "the 37 questions, in order, as headings");
    assert.match(markdown, /## Further research[\s\S]*04d_learner_from_scratch[\s\S]*04c_all_ten_digits/);
    // 1: a gray image [h, w]; a colour one [h, w, 3], shown in colour (the gray one in gray).
    assert.match(text, /\[ 28, 28 \]\n/);
    assert.match(text, /\[ 28, 28, 3 \]/);
    const colourful = (alt: string) => {
      const m = new RegExp(`<img src="data:image/png;base64,([^"]+)"[^>]*alt="${alt}"`).exec(text);
      assert.ok(m, `the image "${alt}" is shown`);
      const { data } = PNG.sync.read(Buffer.from(m[1], "base64"));
      return data.some((_, i) => i % 4 === 0 && (data[i] !== data[i + 1] || data[i + 1] !== data[i + 2]));
    };
    assert.equal(colourful("a colour image"), true, "the colour image is drawn in colour");
    assert.equal(colourful("the MNIST file, in gray"), false);
    assert.match(text, /\[ 'labels\.csv', 'train', 'valid' \],\s*\[ 'train\/3', 'train\/7' \]/);
    // 4: as the book asks it (odd numbers doubled), then the notes' variant (even numbers doubled, the rest kept).
    const odds = JSON.stringify(Array.from({ length: 10 }, (_, i) => i).filter((i) => i % 2 === 1).map((i) => 2 * i));
    assert.equal(odds, "[2,6,10,14,18]");
    assert.match(text, new RegExp(`odds doubled: ${escapeRe(odds)}`));
    assert.match(text, new RegExp(`boolean mask: {2}${escapeRe(odds)}`));
    assert.match(text, /doubled evens: \[0,1,4,3,8,5,12,7,16,9\]/);
    assert.match(text, /tf\.where: {6}\[0,1,4,3,8,5,12,7,16,9\], same as the map version: true/);
    assert.match(text, /\{ rank: 3, shape: \[ 10, 28, 28 \] \}/);
    assert.match(text, /t: shape \[3,3\], rank 2 = length of the shape 2; a scalar: shape \[\], rank 0/);
    const rmse = Math.sqrt((1 + 0 + 4) / 3).toFixed(4);
    assert.match(text, new RegExp(`by hand: L1 1\\.0000, RMSE ${rmse}; library: L1 1\\.0000, RMSE ${rmse}`));
    // 8: the loops and tf.matMul give the same product (their times are shown, and not checked).
    assert.ok(numberAfter(text, "same result: largest difference") < 1e-3);
    assert.match(text, /\[\[1, 2, 3\],\s*\[4, 5, 6\],\s*\[7, 8, 9\]\]/);
    assert.match(text, /\[\[2 , 4 , 6 \],\s*\[8 , 10, 12\],\s*\[14, 16, 18\]\]/);
    assert.match(text, /Tensor int32 \[2,2\]\s*\[\[10, 12\],\s*\[16, 18\]\]/);
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
    // 17: x <- x - lr * 2x from -1.5: shrinks at lr 0.1, bounces in at 0.9, grows at 1.1.
    for (const lr of [0.1, 0.9, 1.1]) {
      const expected = [-1.5];
      for (let i = 0; i < 6; i++) expected.push(expected[i] * (1 - 2 * lr));
      assert.match(text, new RegExp(`lr ${lr}: x = ${escapeRe(expected.map((v) => v.toFixed(3)).join(" → "))}`));
    }
    assert.match(text, /Tensor float32 \[\]\s+6\n/, "the gradient of x² at 3");
    assert.match(text, /sigmoid\(0\) = 0\.5000, sigmoid\(-6\) = 0\.0025, sigmoid\(6\) = 0\.9975/);
    const batches = /\[ \[ ([\d, ]+) \], \[ ([\d, ]+) \], \[ ([\d, ]+) \] \]/.exec(text);
    assert.ok(batches, "three batches of the DataLoader are shown");
    assert.deepEqual(batches.slice(1).flatMap((b) => b.split(", ").map(Number)).sort((x, y) => x - y), Array.from({ length: 15 }, (_, i) => i));
    assert.match(text, /\[ \[ 1, 'a' \], \[ 2, 'b' \], \[ 3, 'c' \], \[ 4, 'd' \] \]/);
    assert.match(text, /Tensor float32 \[3,4\]\s*\[\[0, 1, 2 , 3 \],\s*\[4, 5, 6 , 7 \],\s*\[8, 9, 10, 11\]\]/);
    assert.match(text, /\[ 10, 784 \]/);
    assert.match(text, /a blank image: x · w = 0\.0000, whatever w is; x · w \+ b with b = 0\.7: 0\.7000/);
    assert.match(text, /\[\[19, 22\],\s*\[43, 50\]\]/, "[[1,2],[3,4]] @ [[5,6],[7,8]]");
    assert.match(text, /Tensor float32 \[3\]\s*\[6, 8, 20\][\s\S]*Tensor float32 \[3\]\s*\[12, 16, 40\]/, "backward, then backward again adds");
    assert.match(text, /after grads\.zero\(\): no gradient stored/);
    assert.match(text, /tf\.relu\(x\): +\[0,0,0,1,2\]\s+new ReLU\(\)\.forward\(x\): \[0,0,0,1,2\]/);
    assert.match(text, new RegExp(`in a Sequential: ${784 * 30 + 30 + 30 + 1} parameters, 0 of them in the ReLU`));
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
      // The notebook's short run (5 epochs of a small U-Net at bs 16, sized for two CPU cores) scored 0.7534;
      // runs differ by about ±0.005 (OpenBLAS's threads sum in varying order), hence the margin below 0.75.
      assert.ok(unet.score >= 0.73, `the U-Net's validation score ${unet.score} < 0.73`);
      assert.ok(unet.score >= Math.max(empty.score, threshold.score) + 0.2, `the U-Net (${unet.score}) beats the baselines ` +
        `(${empty.score}, ${threshold.score}) by a wide margin`);
    }
    // The score by size of the true salt: every validation image in one group, the losses adding up to 1 − score.
    const groups = [...text.matchAll(/^(no salt|1-999 pixels|1,000-2,999|3,000 or more) +(\d+) images, mean score ([0-9.]+), score lost ([0-9.]+)$/gm)];
    assert.deepEqual(groups.map((g) => g[1]), ["no salt", "1-999 pixels", "1,000-2,999", "3,000 or more"], "four size groups are printed");
    const valid = Number(/valid: (\d+) pairs/.exec(text)?.[1]);
    assert.equal(groups.reduce((a, g) => a + Number(g[2]), 0), valid, "the groups hold every validation image once");
    const lost = groups.reduce((a, g) => a + Number(g[4]), 0);
    assert.ok(Math.abs(lost - (1 - unet.score)) < 0.003, `the losses by group (${lost}) add up to 1 − the score (${unet.score})`);
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
    Promise<{ text: string; seconds: number; checked: boolean; notes: string[]; htmlFile: string; html: string }> {
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
  const notes: string[] = [];
  checks[name]?.(text, cells, notes);
  return { text, seconds: result.seconds, checked: Boolean(checks[name]), notes, htmlFile: result.html, html };
}
