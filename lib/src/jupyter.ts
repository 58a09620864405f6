// A bridge to tslab's display functions. Outside a tslab kernel (tests, scripts) there is no display,
// and callers fall back to plain text.
export interface Display {
  html(s: string): void;
  png(b: Uint8Array): void;
  svg(s: string): void;
  text(s: string): void;
}

interface Tslab {
  display: Display;
  newDisplay(): Display;
}

function tslab(): Tslab | undefined {
  try {
    // tslab keeps the kernel connection in its own module state; only a running kernel has set it.
    const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData?: unknown };
    if (jupyter.lastWriteDisplayData == null) return undefined;
    return require("tslab") as Tslab;
  } catch {
    return undefined;
  }
}

/** True inside a tslab Jupyter kernel, where rich output can be shown. */
export function inJupyter(): boolean {
  return tslab() !== undefined;
}

/** The notebook's display, or undefined outside Jupyter. */
export function notebookDisplay(): Display | undefined {
  return tslab()?.display;
}

/** A display that overwrites one output in place (progress bars, live tables), or undefined outside Jupyter. */
export function newNotebookDisplay(): Display | undefined {
  return tslab()?.newDisplay();
}

/** Shows HTML in a notebook; prints `fallback` elsewhere. */
export function showHtml(html: string, fallback: string): void {
  const d = notebookDisplay();
  if (d) d.html(html);
  else console.log(fallback);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
