// Plotly charts as HTML: data present, plotly.js inlined once, nothing fetched from the network.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { browserSkipReason, checkReports } from "../scripts/browser";
import { heatmapHtml, linePlotHtml, plotFunctionHtml, resetPlotlyInlining, subplotsRowHtml } from "../lib/src/plot";
import { tempDir } from "./helpers";

const PLOTLY_MARKER = "plotly.js (cartesian - minified) v3.4.0"; // the banner at the top of the bundle
const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

/** The chart's own markup, without the inlined plotly.js (whose code mentions URLs for map tiles). */
const withoutPlotly = (html: string) => html.replace(/^<script>[\s\S]*?<\/script>(?=<div)/, "");

function checkWellFormed(html: string): void {
  assert.equal(count(html, /<script\b/gi), count(html, /<\/script>/gi), "every <script> is closed");
  assert.equal(count(html, /<div\b/gi), count(html, /<\/div>/gi));
  assert.doesNotMatch(html, /<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=/i, "loads nothing from elsewhere");
  assert.doesNotMatch(withoutPlotly(html), /https?:\/\//, "no network references in the chart");
}

test("plotly.js is inlined in the first chart only", () => {
  resetPlotlyInlining();
  const first = plotFunctionHtml((x) => x * x);
  const second = linePlotHtml([{ x: [1, 2, 3], y: [4, 5, 6] }]);
  assert.ok(first.includes(PLOTLY_MARKER));
  assert.ok(first.length > 1_000_000, "the whole library, not a reference to it");
  assert.ok(first.length < 2_000_000, `the minified bundle (${first.length} characters), not the 11 MB plotly.js`);
  assert.ok(!second.includes(PLOTLY_MARKER));
  assert.ok(second.length < 5_000);
  // later charts wait for window.Plotly instead of assuming it
  assert.match(second, /window\.Plotly/);
  checkWellFormed(first);
  checkWellFormed(second);
  resetPlotlyInlining();
  assert.ok(linePlotHtml([{ x: [0], y: [0] }]).includes(PLOTLY_MARKER), "again after a reset");
});

test("a line plot carries its data, names its div, and draws into it", () => {
  const html = linePlotHtml([{ x: [1, 2, 3], y: [4, 5, 6], name: "loss" }, { x: [1, 2], y: [0.5, 0.25] }], { title: "Loss", xLabel: "epoch" });
  const id = html.match(/<div id="([^"]+)"/)?.[1];
  assert.ok(id, "a div with an id");
  assert.ok(html.includes(`getElementById("${id}")`));
  assert.ok(html.includes('"x":[1,2,3],"y":[4,5,6]'));
  assert.ok(html.includes('"x":[1,2],"y":[0.5,0.25]'));
  assert.ok(html.includes('"text":"epoch"'));
  assert.ok(html.includes('"displaylogo":false'));
  const other = linePlotHtml([{ x: [1], y: [1] }]).match(/<div id="([^"]+)"/)?.[1];
  assert.notEqual(other, id, "ids are unique");
  checkWellFormed(html);
});

test("user text cannot close the script tag", () => {
  const html = linePlotHtml([{ x: [1], y: [1], name: "</script><b>oops" }], { title: "<i>" });
  assert.ok(!html.includes("</script><b>"));
  assert.ok(html.includes("\\u003c/script>\\u003cb>oops"));
  checkWellFormed(html);
});

test("plotFunction evaluates f over [min, max] and marks the given points", () => {
  const html = plotFunctionHtml((x) => x * x, { points: [{ x: -1.5, y: 2.25 }], n: 5, title: "x²" });
  // 5 points from -2 to 2: -2, -1, 0, 1, 2 and their squares
  assert.ok(html.includes('"x":[-2,-1,0,1,2],"y":[4,1,0,1,4]'));
  assert.ok(html.includes('"x":[-1.5],"y":[2.25]'));
  assert.match(html, /"marker":\{"color":"red"/);
  // a pole becomes a gap (null), not invalid JSON
  assert.ok(plotFunctionHtml((x) => 1 / x, { min: -1, max: 1, n: 3 }).includes('"y":[-1,null,1]'));
  checkWellFormed(html);
});

test("subplotsRow makes one pair of axes per panel", () => {
  const panels = [1, 2, 3, 4].map((k) => ({ title: `step ${k}`, series: [{ x: [0, 1], y: [0, k] }] }));
  const html = subplotsRowHtml(panels);
  for (const axis of ["xaxis", "xaxis2", "xaxis3", "xaxis4", "yaxis4"]) assert.ok(html.includes(`"${axis}":`), axis);
  assert.ok(!html.includes('"xaxis5"'));
  assert.ok(html.includes('"xaxis":"x4","yaxis":"y4"'), "the fourth panel's trace sits on the fourth axes");
  for (const k of [1, 2, 3, 4]) assert.ok(html.includes(`"text":"step ${k}"`));
  checkWellFormed(html);
});

test("a headless browser draws every chart offline, heatmaps included", { skip: browserSkipReason() ?? false }, async () => {
  resetPlotlyInlining();
  // The bundle must also draw heatmaps (for pictures of weights and activations), not only scatter traces.
  const heatmap = `<div id="hm" class="fastbook-plot"></div><script>Plotly.newPlot("hm", [{ type: "heatmap", z: [[0, 1], [2, 3]] }]);</script>`;
  const body = plotFunctionHtml((x) => x * x, { points: [{ x: -1.5, y: 2.25 }] })
    + linePlotHtml([{ x: [1, 2], y: [3, 4], name: "</script>" }, { x: [1, 2], y: [4, 3] }])
    + subplotsRowHtml([{ title: "a", series: [{ x: [0, 1], y: [1, 0] }] }, { title: "b", series: [{ x: [0, 1], y: [0, 1] }] }])
    + linePlotHtml([{ x: [1e-7, 1e-3, 10], y: [3, 2, 9] }], { logX: true })
    + heatmapHtml([[5, 1], [0, 7]], { xTicks: ["3", "7"], yTicks: ["3", "7"] })
    + heatmap;
  const file = path.join(tempDir("fastbook-plot-"), "charts.html");
  writeFileSync(file, `<!doctype html><html><body>${body}</body></html>`);
  const [check] = await checkReports([file]);
  assert.deepEqual(check!.problems, []);
  assert.equal(check!.plots, 6);
  assert.equal(check!.plotsDrawn, 6);
});

test("the browser check notices a chart that was not drawn", { skip: browserSkipReason() ?? false }, async () => {
  resetPlotlyInlining();
  linePlotHtml([{ x: [0], y: [0] }]); // plotly.js went into a chart that is not on this page
  const file = path.join(tempDir("fastbook-plot-"), "missing.html");
  writeFileSync(file, `<!doctype html><html><body>${linePlotHtml([{ x: [1, 2], y: [3, 4] }])}</body></html>`);
  const [check] = await checkReports([file], { timeoutMs: 8000 });
  assert.deepEqual(check!.problems, ["1 of 1 plots not drawn"]);
});

test("log axes and heatmaps", () => {
  const log = linePlotHtml([{ x: [1e-7, 1e-3, 10], y: [3, 2, 9] }], { logX: true });
  assert.ok(log.includes('"xaxis":{"title":{"text":""},"zeroline":false,"automargin":true,"type":"log","exponentformat":"power"}'));
  assert.ok(!linePlotHtml([{ x: [1], y: [1] }]).includes('"type":"log"'), "linear unless asked");
  const hm = heatmapHtml([[5, 0.25], [7, 1]], { xTicks: ["a", "b"], yTicks: ["<c>", "d"], title: "T" });
  assert.ok(hm.includes('"z":[[5,0.25],[7,1]]'));
  assert.ok(hm.includes('"text":"0.250"') && hm.includes('"text":"7"'), "values written in the cells");
  assert.ok(hm.includes('"\\u003cc>"'), "names escaped");
  checkWellFormed(hm);
  assert.throws(() => heatmapHtml([[1, 2], [3]]), /rectangular.*\[2,1\]/);
  assert.throws(() => heatmapHtml([[1, 2]], { xTicks: ["a"] }), /1x2 values but 1 row names and 1 column names/);
});
