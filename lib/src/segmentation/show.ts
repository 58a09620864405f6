// Pictures of masks: each image next to itself with the true mask laid over it in colour, and (given a
// learner) with the predicted mask, as fastai's show_batch and show_results draw segmentation data.
import { tf } from "../tf";
import { seededRandom, shuffled } from "../dataloader";
import { escapeHtml, showHtml } from "../jupyter";
import { encodePng } from "./png";
import type { MaskLoader, SegmentationDataLoaders } from "./data";
import type { SegmentationLearner } from "./unet";
import { dropSmallMasks, saltScore } from "./metrics";

/** The overlay colour of true masks: orange. */
export const TRUTH_COLOR: [number, number, number] = [255, 140, 0];
/** The overlay colour of predicted masks: cyan. */
export const PREDICTION_COLOR: [number, number, number] = [0, 200, 255];

/**
 * An RGB PNG of a gray image (values in [0, 1], stretched to its own range, row by row) with `mask` laid over
 * it: salt pixels tinted with `color`, and the mask's outline drawn solid so that thin slivers show too.
 */
export function overlayPng(gray: ArrayLike<number>, height: number, width: number, mask?: ArrayLike<number>,
    color: [number, number, number] = TRUTH_COLOR): Buffer {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < height * width; i++) { lo = Math.min(lo, gray[i]!); hi = Math.max(hi, gray[i]!); }
  const span = hi > lo ? hi - lo : 1;
  const rgb = new Uint8Array(height * width * 3);
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask![y * width + x] !== 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x, v = Math.round(((gray[i]! - lo) / span) * 255);
      const inside = mask !== undefined && on(x, y);
      const edge = inside && !(on(x - 1, y) && on(x + 1, y) && on(x, y - 1) && on(x, y + 1));
      for (let c = 0; c < 3; c++) rgb[3 * i + c] = edge ? color[c]! : inside ? Math.round(0.6 * v + 0.4 * color[c]!) : v;
    }
  }
  return encodePng(width, height, 3, 8, rgb);
}

function figure(png: Buffer, caption: string, size: number): string {
  return `<figure style="display:inline-block;margin:3px">` +
    `<img src="data:image/png;base64,${png.toString("base64")}" width="${size}" style="image-rendering:pixelated;border:1px solid #ddd" ` +
    `alt="${escapeHtml(caption)}"><figcaption style="text-align:center;font:11px sans-serif">${escapeHtml(caption)}</figcaption></figure>`;
}

/** Options of `dls.showBatch` and `learn.showResults` for masks. */
export interface ShowMasksOptions {
  /** How many items (default 6). */
  n?: number;
  /** Draw from the validation set (default: a random pick of the training set). */
  valid?: boolean;
  /** Exactly these items (positions in the set), e.g. the worst by score. */
  items?: number[];
  /** Makes the training pick reproducible. */
  seed?: number;
  /** With a learner: a third picture per item, its predicted mask (in cyan), captioned with the item's score. */
  learn?: SegmentationLearner;
  /** Items per row (default 2: each item is two or three pictures). */
  ncols?: number;
  /** On-screen size of each picture in CSS pixels (default 2x the image; 1.5x with predictions). */
  size?: number;
  /** Predicted masks smaller than this many pixels are drawn and scored as empty (see dropSmallMasks). */
  minPixels?: number;
}

interface Row {
  id: string;
  image: Float32Array;
  mask?: Uint8Array;
  pred?: Uint8Array;
  score?: number;
}

/** The predicted masks and per-item scores of `learn` for items `idx` of `dl`. */
function predict(learn: SegmentationLearner, dl: MaskLoader, idx: number[], minPixels = 0): { preds: Uint8Array[]; scores: number[] } {
  const [xb, yb] = dl.batch(idx);
  learn.model.train?.(false); // BatchNorm on its running statistics; a fit sets the mode again
  try {
    return tf.tidy(() => {
      const logits = dropSmallMasks(learn.model.forward(xb), minPixels);
      const scores = Array.from(saltScore(logits, yb, { reduction: "none" }).dataSync());
      const hw = yb.shape[1]! * yb.shape[2]!, v = logits.dataSync();
      const preds = idx.map((_, k) => Uint8Array.from(v.subarray(k * hw, (k + 1) * hw), (z) => (z > 0 ? 1 : 0)));
      return { preds, scores };
    });
  } finally {
    tf.dispose([xb, yb]);
  }
}

/** HTML for rows of items: image, image with its true mask, and with the prediction when there is one. */
export function masksHtml(rows: Row[], height: number, width: number, opts: { ncols?: number; size?: number; caption: string }): string {
  // Two pictures an item at twice the image size, three (with predictions) at 1.5 times: two items fit a page.
  const size = opts.size ?? Math.round((rows.some((r) => r.pred) ? 1.5 : 2) * width);
  const cells = rows.map((r) => {
    const salt = r.mask ? r.mask.reduce((s, v) => s + v, 0) / (height * width) : undefined;
    const figs = [figure(overlayPng(r.image, height, width), r.id, size)];
    if (r.mask) figs.push(figure(overlayPng(r.image, height, width, r.mask, TRUTH_COLOR), `mask: ${(100 * salt!).toFixed(0)}% salt`, size));
    if (r.pred) figs.push(figure(overlayPng(r.image, height, width, r.pred, PREDICTION_COLOR), `prediction: score ${r.score!.toFixed(2)}`, size));
    return `<div style="display:inline-block;margin:2px 10px 6px 0">${figs.join("")}</div>`;
  });
  const grid = `display:grid;grid-template-columns:repeat(${opts.ncols ?? 2},max-content)`;
  return `<div style="font:12px sans-serif">${escapeHtml(opts.caption)}</div><div style="${grid}">${cells.join("")}</div>`;
}

/** The items `idx` of a loader as rows to draw (predicted by `learn` when given). */
export function maskRows(dl: MaskLoader, idx: number[], learn?: SegmentationLearner, minPixels?: number): Row[] {
  const { height, width } = dl.size;
  const hw = height * width;
  const predicted = learn ? predict(learn, dl, idx, minPixels) : undefined;
  return idx.map((i, k) => ({
    id: dl.pairs.ids[i]!,
    image: dl.pairs.images.subarray(i * hw, (i + 1) * hw),
    mask: dl.pairs.masks?.subarray(i * hw, (i + 1) * hw),
    pred: predicted?.preds[k],
    score: predicted?.scores[k],
  }));
}

/**
 * Draws `n` items of the training set (a random pick) or the validation set (its first items): each image, the
 * image with its mask in orange, and with a learner, its predicted mask in cyan with the item's score.
 */
export function showMaskBatch(dls: SegmentationDataLoaders, opts: ShowMasksOptions = {}): void {
  const dl = opts.valid ? dls.valid : dls.train;
  const n = opts.items?.length ?? Math.min(opts.n ?? 6, dl.n);
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`showBatch: n must be a positive whole number; got ${opts.n}.`);
  const bad = opts.items?.find((i) => !(Number.isInteger(i) && i >= 0 && i < dl.n));
  if (bad !== undefined) throw new Error(`showBatch: item ${bad} is not in the ${opts.valid ? "validation" : "training"} set (0 to ${dl.n - 1}).`);
  const idx = opts.items ?? (opts.valid ? Array.from({ length: n }, (_, i) => i)
    : shuffled(dl.n, opts.seed === undefined ? Math.random : seededRandom(opts.seed)).slice(0, n));
  const rows = maskRows(dl, idx, opts.learn, opts.minPixels);
  const [h, w] = dls.imageSize;
  const what = `${n} ${opts.valid ? "validation" : "training"} image${n === 1 ? "" : "s"} (${w}x${h}${dls.synthetic ? ", synthetic" : ""})`;
  const caption = `${what}: image, mask (orange)${opts.learn ? ", prediction (cyan)" : ""}`;
  const text = rows.map((r) => `${r.id}: ${r.mask ? `${r.mask.reduce((s, v) => s + v, 0)} salt pixels` : ""}` +
    `${r.pred ? `, predicted ${r.pred.reduce((s, v) => s + v, 0)}, score ${r.score!.toFixed(2)}` : ""}`).join("\n");
  showHtml(masksHtml(rows, h, w, { ncols: opts.ncols, size: opts.size, caption }), `${caption}\n${text}`);
}
