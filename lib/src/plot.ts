// Charts as self-contained HTML: plotly.js travels inside the notebook output itself, so charts show
// live in Jupyter and in exported HTML reports with no network. Node cannot `require` plotly.js (it
// needs a DOM), so its file is read as text; it is inlined once per process, and later charts find it
// as window.Plotly. The file is plotly's official minified "cartesian" bundle (1.4 MB rather than the
// full library's 11 MB unminified): every 2-D trace type (scatter, heatmap, bar, histogram, contour, box,
// image, ...), but no maps, 3-D or financial charts.
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { showHtml } from "./jupyter";

/** One line or set of points on a chart: `{ x: [0, 1, 2], y: [1, 0.5, 0.2], name: "loss" }`. */
export interface Series {
  x: number[];
  y: number[];
  name?: string;
  mode?: "lines" | "markers" | "lines+markers";
  /** Any CSS colour; by default the n-th series of every chart gets the n-th colour of plotly's palette. */
  color?: string;
}

/** Titles, axis labels, size and log axes of a chart. */
export interface PlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** A logarithmic x axis (e.g. learning rates from 1e-7 to 10). */
  logX?: boolean;
  /** A logarithmic y axis. */
  logY?: boolean;
}

/** What `plotFunction` draws: the x range (default -2 to 2), labels, marked points, and how many points. */
export interface PlotFunctionOptions {
  min?: number;
  max?: number;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Points to mark on the curve (red markers), e.g. where SGD currently stands. */
  points?: { x: number; y: number; label?: string }[];
  /** Number of evaluated points (default 100). */
  n?: number;
}

/** One small chart of `subplotsRow`: its title and its series. */
export interface Panel {
  title?: string;
  series: Series[];
}

/** Where the plotly.js bundle inlined into the first chart is read from. */
export const PLOTLY_FILE = require.resolve("plotly.js-cartesian-dist-min/plotly-cartesian.min.js");

let plotlyInlined = false;

/** Makes the next chart include plotly.js again (for tests, or after the chart that included it was cleared). */
export function resetPlotlyInlining(): void {
  plotlyInlined = false;
}

function plotlyScript(): string {
  if (plotlyInlined) return "";
  const source = readFileSync(PLOTLY_FILE, "utf8");
  plotlyInlined = true;
  // The HTML parser ends a script at the first "</script", even inside a JS string.
  return `<script>${source.replace(/<\/script/gi, "<\\/script")}</script>`;
}

// JSON is valid JavaScript; escaping "<" keeps user text (titles, names) from closing the script tag.
const js = (value: unknown): string => JSON.stringify(value).replace(/</g, "\\u003c");

// A random prefix keeps ids unique across kernel restarts, whose old outputs stay in the page.
const idPrefix = `plot-${randomBytes(4).toString("hex")}-`;
let nextId = 0;

type Trace = Record<string, unknown>;
type Layout = Record<string, unknown>;

function chartHtml(traces: Trace[], layout: Layout): string {
  const id = idPrefix + nextId++;
  const config = { displaylogo: false, responsive: true, staticPlot: false };
  // A chart's output can be rendered before the one that carried plotly.js has run it, so wait for
  // window.Plotly a little, then say what is wrong rather than leave an empty box.
  const script = `(function () {
  var tries = 0;
  function draw() {
    var el = document.getElementById(${js(id)});
    if (!el) return;
    if (window.Plotly) { window.Plotly.newPlot(el, ${js(traces)}, ${js(layout)}, ${js(config)}); return; }
    if (++tries < 100) { setTimeout(draw, 50); return; }
    el.textContent = "plotly.js is not loaded on this page (its first chart's output was cleared?): call resetPlotlyInlining() and re-run.";
  }
  draw();
})();`;
  return `${plotlyScript()}<div id="${id}" class="fastbook-plot"></div><script>${script}</script>`;
}

const axis = (label?: string) => ({ title: { text: label ?? "" }, zeroline: false, automargin: true });

function layoutFor(opts: PlotOptions, showLegend: boolean): Layout {
  return {
    width: opts.width ?? 500,
    height: opts.height ?? 320,
    margin: { l: 50, r: 20, t: opts.title ? 40 : 20, b: 45 },
    // Left-aligned, so that plotly's toolbar (top right) does not cover the title.
    title: { text: opts.title ?? "", font: { size: 15 }, x: 0.02, xanchor: "left" },
    // Log axes label their ticks 10⁻⁶ rather than plotly's default SI prefixes (1µ).
    xaxis: { ...axis(opts.xLabel), ...(opts.logX ? { type: "log", exponentformat: "power" } : {}) },
    yaxis: { ...axis(opts.yLabel), ...(opts.logY ? { type: "log", exponentformat: "power" } : {}) },
    showlegend: showLegend,
    legend: { orientation: "h", y: -0.25 },
  };
}

// plotly's default colours, assigned by position so that series match across the panels of a row.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

const trace = (s: Series, i: number): Trace => {
  const color = s.color ?? PALETTE[i % PALETTE.length];
  return { type: "scatter", x: s.x, y: s.y, mode: s.mode ?? "lines", name: s.name ?? "", line: { color }, marker: { color } };
};

function describe(title: string | undefined, parts: string[]): string {
  return `[plot${title ? `: ${title}` : ""}, ${parts.join(", ")}]`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The chart `plotFunction` shows, as self-contained HTML (for reports and tests). */
export function plotFunctionHtml(f: (x: number) => number, opts: PlotFunctionOptions = {}): string {
  const { min = -2, max = 2, n = 100, points = [] } = opts;
  if (!(n >= 2)) throw new Error(`plotFunction needs n >= 2 points; got ${n}.`);
  const xs = Array.from({ length: n }, (_, i) => min + ((max - min) * i) / (n - 1));
  // Non-finite values become gaps in the curve (JSON null) rather than invalid JSON.
  const ys = xs.map((x) => { const y = f(x); return Number.isFinite(y) ? y : null; });
  const traces: Trace[] = [{ type: "scatter", x: xs, y: ys, mode: "lines", name: "" }];
  if (points.length > 0) {
    const labelled = points.some((p) => p.label);
    traces.push({
      type: "scatter", x: points.map((p) => p.x), y: points.map((p) => p.y), name: "",
      mode: labelled ? "markers+text" : "markers", text: points.map((p) => p.label ?? ""), textposition: "top center",
      marker: { color: "red", size: 9 },
    });
  }
  return chartHtml(traces, layoutFor({ title: opts.title, xLabel: opts.xLabel ?? "x", yLabel: opts.yLabel ?? "y" }, false));
}

/**
 * Plots y = f(x) over [min, max] (fastbook's `plot_function`), optionally marking `points` in red.
 * `plotFunction((x) => x * x, { min: -2, max: 2, points: [{ x: 1.5, y: 2.25 }] })`.
 */
export function plotFunction(f: (x: number) => number, opts: PlotFunctionOptions = {}): void {
  const parts = ["1 function"];
  if (opts.points?.length) parts.push(plural(opts.points.length, "marked point"));
  showHtml(plotFunctionHtml(f, opts), describe(opts.title, parts));
}

/** The chart `linePlot` shows, as self-contained HTML. */
export function linePlotHtml(series: Series[], opts: PlotOptions = {}): string {
  const legend = series.length > 1 && series.some((s) => s.name);
  return chartHtml(series.map(trace), layoutFor(opts, legend));
}

/**
 * Plots one or more series on shared axes, e.g. training and validation loss per epoch:
 * `linePlot([{ x: epochs, y: trainLoss, name: "train" }, { x: epochs, y: validLoss, name: "valid" }], { xLabel: "epoch" })`.
 */
export function linePlot(series: Series[], opts: PlotOptions = {}): void {
  showHtml(linePlotHtml(series, opts), describe(opts.title, [`${series.length} series`]));
}

/** The chart `subplotsRow` shows, as self-contained HTML. */
export function subplotsRowHtml(panels: Panel[], opts: { height?: number; width?: number } = {}): string {
  const k = panels.length;
  if (k === 0) throw new Error("subplotsRow needs at least one panel.");
  const gap = 0.04;
  const layout: Layout = {
    width: opts.width ?? Math.min(880, Math.max(500, 230 * k)),
    height: opts.height ?? 260,
    margin: { l: 40, r: 15, t: 35, b: 35 },
    showlegend: false,
    annotations: [] as unknown[],
  };
  const traces: Trace[] = [];
  panels.forEach((panel, i) => {
    // Plotly names the first axes "xaxis"/"x" and the rest "xaxis2"/"x2", ...; each panel gets its own
    // pair, placed side by side by explicit domains (a one-row grid) so the titles can sit above them.
    const suffix = i === 0 ? "" : String(i + 1);
    const domain = [i / k + (i > 0 ? gap : 0), (i + 1) / k - (i < k - 1 ? gap : 0)];
    layout[`xaxis${suffix}`] = { domain, anchor: `y${suffix}`, zeroline: false };
    layout[`yaxis${suffix}`] = { anchor: `x${suffix}`, zeroline: false };
    panel.series.forEach((s, j) => traces.push({ ...trace(s, j), xaxis: `x${suffix}`, yaxis: `y${suffix}` }));
    if (panel.title) {
      (layout.annotations as unknown[]).push({
        text: panel.title, showarrow: false, xref: "paper", yref: "paper",
        x: (domain[0]! + domain[1]!) / 2, y: 1, xanchor: "center", yanchor: "bottom", font: { size: 13 },
      });
    }
  });
  return chartHtml(traces, layout);
}

/**
 * Several small plots side by side in one chart (the chapter's row of SGD steps):
 * `subplotsRow([{ title: "step 1", series: [s1] }, { title: "step 2", series: [s2] }])`.
 */
export function subplotsRow(panels: Panel[], opts: { height?: number; width?: number } = {}): void {
  const titles = panels.map((p) => p.title).filter(Boolean);
  showHtml(subplotsRowHtml(panels, opts), `[plot, ${plural(panels.length, "panel")}${titles.length ? `: ${titles.join(", ")}` : ""}]`);
}

/** A heatmap's row and column names, whether values are written in the cells, and its colours. */
export interface HeatmapOptions extends PlotOptions {
  /** Names of the columns (along x) and rows (along y); default 0, 1, 2, ... */
  xTicks?: string[];
  yTicks?: string[];
  /** Write each cell's value in it (default true). */
  showValues?: boolean;
  /** A plotly colour scale name (default: white for the lowest values to dark blue for the highest). */
  colorscale?: string;
}

// plotly's own "Blues" runs from dark (low) to light (high); this one runs the way a reader expects.
const BLUES = [[0, "#f7fbff"], [0.5, "#6baed6"], [1, "#08306b"]];

/** The chart `heatmap` shows, as self-contained HTML. */
export function heatmapHtml(z: number[][], opts: HeatmapOptions = {}): string {
  const rows = z.length, cols = z[0]?.length ?? 0;
  if (rows === 0 || cols === 0 || z.some((r) => r.length !== cols)) {
    throw new Error(`heatmap needs a rectangular table of values (rows of equal length); got rows of lengths [${z.map((r) => r.length)}].`);
  }
  const x = opts.xTicks ?? Array.from({ length: cols }, (_, j) => String(j));
  const y = opts.yTicks ?? Array.from({ length: rows }, (_, i) => String(i));
  if (x.length !== cols || y.length !== rows) {
    throw new Error(`heatmap: ${rows}x${cols} values but ${y.length} row names and ${x.length} column names.`);
  }
  const values = z.flat().filter(Number.isFinite);
  const lo = Math.min(...values), hi = Math.max(...values);
  const fmtCell = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(3));
  // Values written in the cells, in white where the colour behind them is dark.
  const annotations = opts.showValues === false ? [] : z.flatMap((row, i) => row.map((v, j) => ({
    x: x[j], y: y[i], text: fmtCell(v), showarrow: false,
    font: { size: 12, color: hi > lo && (v - lo) / (hi - lo) > 0.6 ? "white" : "black" },
  })));
  const size = Math.max(320, 36 * Math.max(rows, cols) + 150);
  const base = layoutFor({ ...opts, width: opts.width ?? size, height: opts.height ?? size }, false);
  const layout: Layout = {
    ...base,
    // Names are categories even when they look like numbers; the first row at the top, as in a table.
    xaxis: { ...(base.xaxis as Layout), type: "category", tickmode: "array", tickvals: x, ticktext: x },
    yaxis: { ...(base.yaxis as Layout), type: "category", autorange: "reversed", tickmode: "array", tickvals: y, ticktext: y },
    annotations,
  };
  const hover = `${opts.yLabel ?? "row"} %{y}, ${opts.xLabel ?? "column"} %{x}: %{z}<extra></extra>`;
  return chartHtml([{ type: "heatmap", z, x, y, colorscale: opts.colorscale ?? BLUES, hovertemplate: hover }], layout);
}

/**
 * Shows a table of numbers as coloured cells (a confusion matrix, say), the values written in them:
 * `heatmap([[50, 2], [3, 45]], { xTicks: ["3", "7"], yTicks: ["3", "7"], xLabel: "Predicted", yLabel: "Actual" })`.
 */
export function heatmap(z: number[][], opts: HeatmapOptions = {}): void {
  const width = Math.max(...z.map((r) => r.length));
  showHtml(heatmapHtml(z, opts), describe(opts.title, [`${z.length}x${width} heatmap`]) + "\n" + z.map((r) => r.join("\t")).join("\n"));
}
