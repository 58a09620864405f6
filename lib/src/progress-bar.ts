// A progress bar that updates in place in Jupyter and prints plain lines elsewhere.
import { escapeHtml, newNotebookDisplay, type Display } from "./jupyter";

/** A byte count for reading: `formatBytes(3214948)` is `"3.1 MiB"`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}

/**
 * A progress bar for a long task (a download, an unpack): updated in place in Jupyter, a line per quarter
 * in logs. `const bar = new ProgressBar("mnist_png.tgz", size, formatBytes); ... bar.update(done);`
 */
export class ProgressBar {
  private readonly display: Display | undefined = newNotebookDisplay();
  private readonly start = Date.now();
  private lastDraw = 0;
  private lastPlainPercent = -1;

  /**
   * @param label what is in progress, shown first.
   * @param total the amount at the end (bytes, files, ...).
   * @param format how amounts are written, e.g. `formatBytes`.
   */
  constructor(readonly label: string, readonly total: number, readonly format: (n: number) => string = String) {}

  /** Shows that `done` of the total is done; redraws at most ten times a second, and always at the end (or with `force`). */
  update(done: number, force = false): void {
    const now = Date.now();
    if (!force && done < this.total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const secs = (now - this.start) / 1000;
    const text = `${this.label}: ${(frac * 100).toFixed(0)}% (${this.format(done)}/${this.format(this.total)}, ${secs.toFixed(1)} s)`;
    if (this.display) {
      this.display.html(
        `<div style="font-family:monospace"><progress value="${frac}" max="1" style="width:300px;vertical-align:middle"></progress> ` +
        `${escapeHtml(text)}</div>`);
    } else if (process.stdout.isTTY) {
      // Progress is information, not a warning: stdout (stderr is for warnings and errors).
      process.stdout.write(`\r${text}${frac >= 1 ? "\n" : ""}`);
    } else {
      // Logs get a line at every quarter, not a flood.
      const quarter = Math.floor(frac * 4) * 25;
      if (quarter > this.lastPlainPercent) { this.lastPlainPercent = quarter; process.stdout.write(text + "\n"); }
    }
  }
}
