// Showing tensors to a learner: images, pixel values as a heat-shaded table, and a batch of labelled images.
import { tf } from "./tf";
import { escapeHtml, showHtml } from "./jupyter";
import { tensorToPng, type ColorMap } from "./data/images";
import { range, seededRandom, shuffled } from "./dataloader";
import type { ImageDataLoaders } from "./data/image-dataloaders";

/** Options of `showImage`. */
export interface ShowImageOptions {
  /** Shown above the image. */
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

/** Shows a tensor as an image (fastai's show_image): [height, width] in gray, [height, width, 3] in colour. */
export async function showImage(t: tf.Tensor, opts: ShowImageOptions = {}): Promise<void> {
  showHtml(await imageFigure(t, opts), `[image ${t.shape.join("x")}${opts.title ? ": " + opts.title : ""}]`);
}

/** Options of `showImages`. */
export interface ShowImagesOptions {
  /** One caption per image, shown above it. */
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

/** The most images showBatch draws: enough to look at, bounded in time and page size. */
export const SHOW_BATCH_MAX = 100;

/** Options of `dls.showBatch`. */
export interface ShowBatchOptions {
  /** How many images (default 9, at most 100 and the set's size). */
  n?: number;
  /** Images per row (default 3). */
  ncols?: number;
  /** Draw from the validation set, in its order (default: the training set, a random pick). */
  valid?: boolean;
  /** Makes the training pick reproducible; it never disturbs the training loader's own shuffles. */
  seed?: number;
  cmap?: ColorMap;
  /** On-screen size of each image in CSS pixels (default 4x the image). */
  size?: number;
}

/** What showBatch draws: the images as HTML, and a text grid of their labels. */
export async function showBatchHtml(dls: ImageDataLoaders, opts: ShowBatchOptions = {}): Promise<{ html: string; text: string }> {
  for (const [name, v] of [["n", opts.n], ["ncols", opts.ncols]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`showBatch: ${name} must be a positive whole number; got ${v}.`);
  }
  const ds = opts.valid ? dls.validDs : dls.trainDs;
  const asked = opts.n ?? 9;
  const n = Math.min(asked, SHOW_BATCH_MAX, ds.length);
  const ncols = Math.min(opts.ncols ?? 3, n);
  const idx = opts.valid ? range(n) : shuffled(ds.length, opts.seed === undefined ? Math.random : seededRandom(opts.seed)).slice(0, n);
  const [xb, yb] = ds.batch(idx);
  const labels = Array.from(yb.dataSync());
  const images = tf.tidy(() => tf.unstack(dls.decode(xb)));
  tf.dispose([xb, yb]);
  try {
    const titles = labels.map((l) => dls.vocab[l] ?? String(l));
    const html = await imagesHtml(images, { titles, ncols, cmap: opts.cmap, size: opts.size });
    const width = Math.max(...titles.map((t) => t.length));
    const rows: string[] = [];
    for (let i = 0; i < n; i += ncols) rows.push(titles.slice(i, i + ncols).map((t) => t.padEnd(width)).join("  ").trimEnd());
    const [h, w] = dls.imageSize;
    const capped = asked > SHOW_BATCH_MAX && ds.length > SHOW_BATCH_MAX ? `; showBatch draws at most ${SHOW_BATCH_MAX} (n was ${asked})` : "";
    const caption = `${n} ${opts.valid ? "validation" : "training"} image${n === 1 ? "" : "s"} (${w}x${h})${capped}`;
    return { html: `<div style="font:12px sans-serif">${escapeHtml(caption)}</div>${html}`, text: `${caption}, labels:\n${rows.join("\n")}` };
  } finally {
    tf.dispose(images);
  }
}

/**
 * Draws `n` images of the training set (or the first of the validation set) in a grid, each captioned with
 * its class name (fastai's `show_batch`). Outside Jupyter it prints the labels as a text grid.
 */
export async function showBatch(dls: ImageDataLoaders, opts: ShowBatchOptions = {}): Promise<void> {
  const { html, text } = await showBatchHtml(dls, opts);
  showHtml(html, text);
}
