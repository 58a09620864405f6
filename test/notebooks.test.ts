// Executes every notebook on the tslab kernel, as `npm start` does, and checks the chapter's numbers
// in what the executed notebooks show (test/notebook-checks.ts), and the reports in a browser.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { executeNotebook } from "../scripts/run-notebooks";
import { ROOT, jupyterEnv, pythonPath, writeKernelspec } from "../scripts/setup.mjs";
import { browserSkipReason, checkReports } from "../scripts/browser";
import { skipUnlessMnist, tempDir } from "./helpers";
import { NOTEBOOKS, runAndCheck } from "./notebook-checks";
import { FASHION_MNIST_PATH } from "../lib/src/data/idx";

/** For notebooks that need a data set besides MNIST: a skip reason when it is missing (an error under CI=true). */
function otherDataMissing(name: string): string | undefined {
  if (name !== "04g_fashion_mnist") return undefined;
  const dir = FASHION_MNIST_PATH;
  if (fs.existsSync(dir)) return undefined;
  const reason = `Fashion-MNIST is not installed in ${dir} (Debian: apt-get install dataset-fashion-mnist)`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}.`);
  return reason;
}

for (const file of fs.readdirSync(NOTEBOOKS).filter((f) => f.endsWith(".ipynb")).sort()) {
  const name = path.basename(file, ".ipynb");
  test(`notebook ${file} runs without errors and shows the chapter's results`, async (t) => {
    const skip = (await skipUnlessMnist()) || otherDataMissing(name);
    if (skip) return t.skip(skip);
    const out = tempDir("fastbook-nb-");
    const { checked, notes, htmlFile, html } = await runAndCheck(file, {}, out);
    for (const note of notes) t.diagnostic(`not checked: ${note}`);
    const plotlyCopies = (html.match(/plotly\.js \(cartesian - minified\) v\d/g) ?? []).length;
    const plots = (html.match(/class="fastbook-plot"/g) ?? []).length;
    assert.equal(plotlyCopies, plots > 0 ? 1 : 0, "plotly.js is inlined once, where there are plots");
    const size = fs.statSync(htmlFile).size;
    assert.ok(size < 5_000_000, `the report is ${(size / 1e6).toFixed(1)} MB; it should stay under 5 MB`);
    assert.doesNotMatch(html, /id="fastbook-failure"/, "no failure banner");
    t.diagnostic(`${path.basename(htmlFile)}: ${(size / 1e6).toFixed(2)} MB, ${plots} plots`);
    if (!checked) t.diagnostic(`no extra checks for ${name}`);

    // Opened in a browser with networking off, every plot is drawn and every image shown.
    await t.test("renders offline in a headless browser", { skip: browserSkipReason() ?? false }, async (t) => {
      const [check] = await checkReports([htmlFile], { screenshotDir: out });
      assert.deepEqual(check!.problems, []);
      assert.equal(check!.plots, plots);
      assert.ok(check!.images > 0 || name !== "04_mnist_basics", "the digits are images");
      assert.ok(check!.svgs > 0 || name !== "04b_training_a_digit_classifier", "the seven-step diagram is an SVG picture");
      assert.ok(fs.statSync(check!.screenshot!).size > 10_000, "a screenshot was saved");
      t.diagnostic(`${check!.plotsDrawn}/${check!.plots} plots, ${check!.imagesShown}/${check!.images} images, ` +
        `${check!.svgsShown}/${check!.svgs} SVG pictures; screenshot ${check!.screenshot}`);
    });
  });
}

test("every notebook's metadata is what Jupyter writes when it opens the notebook on the tslab kernel", () => {
  // The notebook frontend replaces metadata.kernelspec and metadata.language_info with what the kernel
  // reports, and marks the notebook changed when they differ: then opening it and closing it asks to save.
  writeKernelspec();
  const run = spawnSync(pythonPath(), [path.join(ROOT, "scripts", "kernel_info.py")], { env: jupyterEnv(ROOT), encoding: "utf8", timeout: 900_000 });
  assert.equal(run.status, 0, `kernel_info.py failed (exit ${run.status}):\n${run.stderr}`);
  const kernel = JSON.parse(run.stdout) as { language_info: unknown; kernelspec: unknown };
  const files = fs.readdirSync(NOTEBOOKS).filter((f) => f.endsWith(".ipynb")).sort();
  assert.ok(files.length >= 7, `the notebooks are found (${files.length})`);
  for (const file of files) {
    const { metadata } = JSON.parse(fs.readFileSync(path.join(NOTEBOOKS, file), "utf8")) as { metadata: Record<string, unknown> };
    assert.deepEqual(metadata.language_info, kernel.language_info, `${file}: metadata.language_info differs from the kernel's kernel_info`);
    assert.deepEqual(metadata.kernelspec, kernel.kernelspec, `${file}: metadata.kernelspec differs from the kernel's spec`);
  }
});

test("a failed notebook's report starts with a banner naming the failed cell", async (t) => {
  const dir = tempDir("fastbook-nb-");
  const cell = (source: string) => ({ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source });
  const nb = {
    cells: [{ cell_type: "markdown", metadata: {}, source: "# Fails on purpose" }, cell('console.log("first");'),
      cell('const answer: number = 41;\nthrow new Error(`wrong answer <${answer}>`);'), cell('console.log("never");')],
    metadata: { kernelspec: { display_name: "TypeScript", language: "typescript", name: "tslab" } }, nbformat: 4, nbformat_minor: 5,
  };
  const input = path.join(dir, "fails.ipynb");
  fs.writeFileSync(input, JSON.stringify(nb));
  const result = await executeNotebook(input, path.join(dir, "out"), { echo: false });
  assert.equal(result.ok, false);
  assert.match(result.message, /NOTEBOOK FAILED: .*fails\.ipynb, code cell 2 \(cell 3 of 4, counting markdown cells\): Error: wrong answer <41>/);
  const html = fs.readFileSync(result.html, "utf8");
  const body = html.slice(html.indexOf("<body"));
  const banner = /<body[^>]*>\s*<div class="fastbook-failure" role="alert" id="fastbook-failure">([\s\S]*?)<\/div>/.exec(body);
  assert.ok(banner, "the banner is the first thing in the body");
  assert.match(banner[1]!, /This notebook failed in code cell 2 \(cell 3 of 4, counting markdown cells\)/);
  assert.match(banner[1]!, /Error: wrong answer &lt;41&gt;/, "the error, escaped");
  assert.match(banner[1]!, /The run stopped there/);
  assert.match(banner[1]!, /<a href="#failed-cell">/);
  assert.equal((body.match(/id="failed-cell"/g) ?? []).length, 1, "the failed cell is marked");
  assert.ok(body.indexOf('id="failed-cell"') < body.indexOf("never"), "the marked cell is the failed one, not the next");
  assert.ok(body.indexOf('id="failed-cell"') > body.indexOf("first"));
  await t.test("the banner shows in a browser", { skip: browserSkipReason() ?? false }, async () => {
    const [check] = await checkReports([result.html], { screenshotDir: "" });
    assert.equal(check!.failureBanner, true);
    assert.deepEqual(check!.problems, []);
  });
});

