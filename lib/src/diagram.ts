// A flow diagram as inline SVG: boxes in a row joined by arrows, with a loop arrow back from one box to
// an earlier one. Enough for the chapter's seven steps of gradient descent, and it needs no graphviz.
import { escapeHtml, showHtml } from "./jupyter";

/**
 * The diagram `stepsDiagram` shows, as an inline SVG picture: a box per step, arrows between them, and a
 * loop arrow from step `loop.from` back to step `loop.to` (indices into `steps`) labelled `loop.label`.
 */
export function stepsDiagramHtml(steps: string[], loop?: { from: number; to: number; label?: string }): string {
  const w = 92, h = 36, gap = 30, pad = 10, top = loop ? 40 : 10;
  const width = pad * 2 + steps.length * w + (steps.length - 1) * gap;
  const x = (i: number) => pad + i * (w + gap);
  const boxes = steps.map((s, i) =>
    `<rect x="${x(i)}" y="${top}" width="${w}" height="${h}" rx="8" fill="#eef3fb" stroke="#4a6fa5"/>` +
    `<text x="${x(i) + w / 2}" y="${top + h / 2 + 4}" text-anchor="middle" font-family="sans-serif" font-size="12">${escapeHtml(s)}</text>`);
  const arrows = steps.slice(1).map((_, i) =>
    `<line x1="${x(i) + w}" y1="${top + h / 2}" x2="${x(i + 1) - 2}" y2="${top + h / 2}" stroke="#333" marker-end="url(#arrow)"/>`);
  let back = "";
  if (loop) {
    const x1 = x(loop.from) + w / 2, x2 = x(loop.to) + w / 2, y = 12;
    back = `<path d="M ${x1} ${top} V ${y} H ${x2} V ${top - 2}" fill="none" stroke="#a33" marker-end="url(#arrow)"/>` +
      (loop.label ? `<text x="${(x1 + x2) / 2}" y="${y - 2}" text-anchor="middle" font-family="sans-serif" font-size="11" fill="#a33">${escapeHtml(loop.label)}</text>` : "");
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + h + 10}" viewBox="0 0 ${width} ${top + h + 10}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">` +
    `<path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>${back}${arrows.join("")}${boxes.join("")}</svg>`;
}

/**
 * Draws a flow of steps as boxes joined by arrows, with an optional loop arrow back to an earlier step
 * (as text outside Jupyter). The chapter's seven steps of gradient descent:
 * `stepsDiagram(["init", "predict", "loss", "gradient", "step", "stop"], { from: 4, to: 1, label: "repeat" })`.
 */
export function stepsDiagram(steps: string[], loop?: { from: number; to: number; label?: string }): void {
  const text = steps.join(" -> ") + (loop ? `  (${loop.label ?? "repeat"}: ${steps[loop.from]} -> ${steps[loop.to]})` : "");
  showHtml(stepsDiagramHtml(steps, loop), text);
}
