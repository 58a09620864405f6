// Showing tensors to a learner: images, and pixel values as a heat-shaded table.
import { tf } from "./tf";
import { escapeHtml, showHtml } from "./jupyter";
import { tensorToPng, type ColorMap } from "./data/images";

export interface ShowImageOptions {
  title?: string;
  /** "Greys" (default: dark ink on white, as in the chapter's figures) or "gray". */
  cmap?: ColorMap;
  /** On-screen size in CSS pixels (default 4x the image, at least 64). */
  size?: number;
}

async function imageFigure(t: tf.Tensor, opts: ShowImageOptions): Promise<string> {
  const png = await tensorToPng(t, opts.cmap);
  const size = opts.size ?? Math.max(64, 4 * t.shape[1]!);
  // A caption keeps its line breaks and wraps within the figure, so captioned images line up in a grid.
  const caption = opts.title ? `<figcaption style="text-align:center;font:12px sans-serif;white-space:pre-line;overflow-wrap:anywhere">${escapeHtml(opts.title)}</figcaption>` : "";
  const width = opts.title ? `;width:${Math.max(size + 2, 136)}px;vertical-align:top;text-align:center` : "";
  return `<figure style="display:inline-block;margin:4px${width}">` +
    `<img src="data:image/png;base64,${png.toString("base64")}" width="${size}" ` +
    `style="image-rendering:pixelated;border:1px solid #ddd" alt="${escapeHtml(opts.title ?? "image")}">${caption}</figure>`;
}

/** Shows a 2-D tensor as an image (fastai's show_image). */
export async function showImage(t: tf.Tensor, opts: ShowImageOptions = {}): Promise<void> {
  showHtml(await imageFigure(t, opts), `[image ${t.shape.join("x")}${opts.title ? ": " + opts.title : ""}]`);
}

export interface ShowImagesOptions {
  titles?: string[];
  cmap?: ColorMap;
  size?: number;
  /** Lay the images out in rows of this many (default: side by side, wrapping with the page). */
  ncols?: number;
}

/** HTML for several 2-D tensors as captioned images, side by side or in a grid of `ncols` columns. */
export async function imagesHtml(ts: tf.Tensor[], opts: ShowImagesOptions = {}): Promise<string> {
  const figs = await Promise.all(ts.map((t, i) => imageFigure(t, { title: opts.titles?.[i], cmap: opts.cmap, size: opts.size })));
  const grid = opts.ncols ? ` style="display:grid;grid-template-columns:repeat(${opts.ncols},max-content)"` : "";
  return `<div${grid}>${figs.join("")}</div>`;
}

/** Shows several 2-D tensors side by side (fastai's show_images). */
export async function showImages(ts: tf.Tensor[], opts: ShowImagesOptions = {}): Promise<void> {
  showHtml(await imagesHtml(ts, opts), `[${ts.length} images]`);
}

/**
 * An HTML table of a 2-D tensor's values, each cell shaded from white (lowest) to black (highest),
 * like pandas' `style.background_gradient('Greys')` in the chapter. `rowStart`/`colStart` label the
 * axes when the tensor is a slice of a bigger image.
 */
export function pixelTableHtml(t: tf.Tensor, opts: { rowStart?: number; colStart?: number; fontSize?: number } = {}): string {
  if (t.rank !== 2) throw new Error(`pixelTable needs a 2-D tensor; got shape [${t.shape}].`);
  const cols = t.shape[1]!;
  const values = t.arraySync() as number[][];
  const flat = values.flat();
  const lo = Math.min(...flat), hi = Math.max(...flat), span = hi > lo ? hi - lo : 1;
  const r0 = opts.rowStart ?? 0, c0 = opts.colStart ?? 0;
  const cellText = (v: number) => (t.dtype === "float32" && !Number.isInteger(v) ? v.toFixed(2) : String(v));
  const cell = "padding:1px 3px;text-align:right;border:none";
  const head = `<tr><th style="${cell}"></th>${Array.from({ length: cols }, (_, j) => `<th style="${cell}">${c0 + j}</th>`).join("")}</tr>`;
  const body = values.map((row, i) => `<tr><th style="${cell}">${r0 + i}</th>` + row.map((v) => {
    const level = (v - lo) / span;
    const shade = Math.round(255 * (1 - level));
    const ink = level > 0.5 ? "#fff" : "#000";
    return `<td style="${cell};background:rgb(${shade},${shade},${shade});color:${ink}">${cellText(v)}</td>`;
  }).join("") + "</tr>").join("");
  return `<table style="border-collapse:collapse;font:${opts.fontSize ?? 7}pt monospace">${head}${body}</table>`;
}

/** Shows `pixelTableHtml` in the notebook (plain numbers elsewhere). */
export function pixelTable(t: tf.Tensor, opts: { rowStart?: number; colStart?: number; fontSize?: number } = {}): void {
  showHtml(pixelTableHtml(t, opts), t.toString());
}

/** The number held by a one-element tensor (PyTorch's `.item()`). */
export function item(t: tf.Tensor): number {
  if (t.size !== 1) throw new Error(`item() needs a tensor holding one number; this one has shape [${t.shape}] (${t.size} numbers).`);
  return t.dataSync()[0];
}

/** A one-element tensor's number with `digits` decimals, for printing: fmt(loss) -> "0.4333". */
export function fmt(t: tf.Tensor, digits = 4): string {
  return item(t).toFixed(digits);
}
