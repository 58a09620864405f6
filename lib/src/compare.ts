// Putting a hand-written function next to its library counterpart: how far apart their results are, and
// whether they move together.
import { tf } from "./tf";
import { escapeHtml, showHtml } from "./jupyter";

/** One comparison: what was compared, on what, and how close the two results are. */
export interface Comparison {
  fn: string;
  byHand: string;
  counterpart: string;
  on: string;
  /** How many values were compared. */
  n: number;
  /** The largest absolute difference between two corresponding values. */
  maxDiff: number;
  /** Pearson's correlation, or why there is none (one value, or constant values). */
  corr: number | string;
}

/**
 * Pearson's correlation of two lists of numbers: their covariance over the product of their standard
 * deviations, 1 when they rise and fall together. A text saying why, where it is undefined.
 * `pearson([1, 2, 3], [2, 4, 6])` is 1; `pearson([1, 2, 3], [3, 2, 1])` is -1.
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number | string {
  const n = a.length;
  if (n < 2) return "n/a (one value)";
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i] / n; mb += b[i] / n; }
  let cov = 0, va = 0, vb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    cov += da * db; va += da * da; vb += db * db;
  }
  if (va === 0 || vb === 0) return "n/a (constant values)";
  return cov / Math.sqrt(va * vb);
}

/** A difference for reading: exactly 0 as "0", others as 1.19e-7. */
export function formatDiff(d: number): string {
  return d === 0 ? "0" : d.toExponential(2);
}

const corrText = (c: number | string) => (typeof c === "number" ? c.toFixed(6) : c);
const values = (v: tf.Tensor | number[]) => (Array.isArray(v) ? v : Array.from(v.dataSync()));

/**
 * Compares functions written by hand with their TensorFlow.js or library counterparts, one `compare` call
 * each, and shows all comparisons as one table at the end.
 *
 * ```ts
 * const comparisons = new Comparisons();
 * comparisons.compare("sigmoid", "1 / (1 + exp(-x))", "tf.sigmoid", "201 points", sigmoidHand(x), tf.sigmoid(x));
 * comparisons.show();
 * ```
 */
export class Comparisons {
  /** Every comparison made so far, in order. */
  readonly rows: Comparison[] = [];

  /**
   * Compares two results value by value (tensors or lists of numbers, flattened), prints one line with
   * the largest difference and the correlation, and keeps the row for `show`. `byHand`, `counterpart` and
   * `on` describe the two computations and their input, for the table.
   */
  compare = (fn: string, byHand: string, counterpart: string, on: string, hand: tf.Tensor | number[], lib: tf.Tensor | number[]): Comparison => {
    const [h, l] = [values(hand), values(lib)];
    if (h.length !== l.length) throw new Error(`compare ${fn}: ${h.length} values by hand but ${l.length} from the counterpart; compare results of the same shape.`);
    const maxDiff = Math.max(...h.map((v, i) => Math.abs(v - l[i])));
    const row = { fn, byHand, counterpart, on, n: h.length, maxDiff, corr: pearson(h, l) };
    this.rows.push(row);
    console.log(`${fn}: ${row.n} values, max |diff| ${formatDiff(maxDiff)}, correlation ${corrText(row.corr)}`);
    return row;
  };

  /** The largest difference over all comparisons. */
  get largestDiff(): number {
    return Math.max(0, ...this.rows.map((r) => r.maxDiff));
  }

  /** The comparisons as an HTML table: function, both computations, input, values, max |diff|, correlation. */
  html(): string {
    // Jupyter's page style right-aligns table cells: text columns are set to the left explicitly.
    const cell = (s: string, style = "text-align:left") => `<td style="padding:3px 8px;border-top:1px solid #ddd;${style}">${s}</td>`;
    const num = (s: string) => cell(s, "text-align:right;white-space:nowrap");
    const code = (s: string) => `<code>${escapeHtml(s)}</code>`;
    const header = ["function", "by hand", "TensorFlow.js or library", "compared on", "values", "max |diff|", "correlation"]
      .map((h) => `<th style="padding:3px 8px;text-align:left;white-space:nowrap">${escapeHtml(h)}</th>`).join("");
    const body = this.rows.map((r) => "<tr>" + cell(escapeHtml(r.fn), "text-align:left;font-weight:bold") + cell(code(r.byHand)) +
      cell(code(r.counterpart)) + cell(escapeHtml(r.on)) + num(String(r.n)) + num(formatDiff(r.maxDiff)) + num(escapeHtml(corrText(r.corr))) + "</tr>").join("");
    return `<table style="border-collapse:collapse;font:13px sans-serif"><thead><tr>${header}</tr></thead><tbody>${body}</tbody></table>`;
  }

  /** The comparisons as text, one line each. */
  text(): string {
    return this.rows.map((r) => `${r.fn}: max |diff| ${formatDiff(r.maxDiff)}, correlation ${corrText(r.corr)}`).join("\n");
  }

  /** Shows the table in a notebook (its text elsewhere). */
  show(): void {
    showHtml(this.html(), this.text());
  }
}
