// Checks of labelled image sets before any pixel is read: where the images lie, the class names, the
// labels of IDX files. Each error says what was found, where, and what to change.
import * as path from "node:path";
import type { IdxArray } from "./idx";

/** How fromFolder finds classes: under train/valid folders, or directly under the folder (a random split). */
export type FolderLayout = { train: string; valid: string } | "random";

/**
 * Every image must sit directly in a class folder: `<dir>/<train|valid>/<class>/<image>`, or
 * `<dir>/<class>/<image>` for a random split. Images above the class folders would be labelled by the
 * wrong folder; images deeper would be left out or labelled by a sub-folder. Files outside the train and
 * valid folders are not the loaders' business (fastai leaves them out too).
 */
export function checkImagePlaces(dir: string, files: readonly string[], layout: FolderLayout): void {
  const depth = layout === "random" ? 2 : 3; // path parts below dir, file included
  const inSplit = (parts: string[]) => layout === "random" || parts[0] === layout.train || parts[0] === layout.valid;
  const loose: string[] = [], deep: string[] = [];
  for (const f of files) {
    const parts = path.relative(dir, f).split(path.sep);
    if (!inSplit(parts)) continue;
    if (parts.length < depth) loose.push(f);
    else if (parts.length > depth) deep.push(f);
  }
  const classFolder = (f: string) => layout === "random" ? path.join(dir, "<class>") : path.join(dir, path.relative(dir, f).split(path.sep)[0]!, "<class>");
  if (loose.length > 0) {
    const where = [...new Set(loose.map((f) => path.dirname(f)))];
    throw new Error(`${loose.length} image(s) lie directly in ${where.join(" and ")} (e.g. ${path.basename(loose[0]!)}), not in a class folder. ` +
      `Each image must sit in a folder named by its class: ${classFolder(loose[0]!)}/<image>.`);
  }
  if (deep.length > 0) {
    const example = path.relative(dir, deep[0]!);
    const home = path.join(classFolder(deep[0]!), path.basename(deep[0]!));
    throw new Error(`${deep.length} image(s) lie in a folder below a class folder (e.g. ${example}); an image is labelled by the ` +
      `folder it sits in, so these would be left out or given a wrong class. Move each into its class folder (${home}) ` +
      `or out of ${layout === "random" ? dir : `${layout.train}/ and ${layout.valid}/`}.`);
  }
}

/**
 * Every class of the validation set must have training images: a model never shown a class cannot learn
 * it, and its accuracy there says nothing.
 */
export function checkClassesTrained(trainLabels: readonly string[], validLabels: readonly string[], layout: FolderLayout): void {
  const trained = new Set(trainLabels);
  const untrained = new Map<string, number>();
  for (const l of validLabels) if (!trained.has(l)) untrained.set(l, (untrained.get(l) ?? 0) + 1);
  if (untrained.size === 0) return;
  const list = [...untrained].map(([l, n]) => `"${l}" (${n})`).join(", ");
  throw new Error(layout === "random"
    ? `With this random split every image of class ${list} fell in the validation set, so the model would never train on it. ` +
      `Give that class more images, or use another seed or a smaller validPct.`
    : `Class ${list} has images under ${layout.valid}/ but none under ${layout.train}/, so the model would never train on it. ` +
      `Add its training images in ${layout.train}/<class>/, or move ${layout.valid}/<class>/ out of the data folder.`);
}

/**
 * The class names for these labels: `given` (checked to hold every label, no duplicates) or the labels'
 * distinct values sorted. A classifier needs at least two classes.
 */
export function checkVocab(given: readonly string[] | undefined, labels: string[], what: (l: string) => string, where: string): string[] {
  const found = [...new Set(labels)].sort();
  const vocab = given ? [...given] : found;
  const dup = vocab.find((v, i) => vocab.indexOf(v) !== i);
  if (dup !== undefined) throw new Error(`The vocab names "${dup}" twice; each class needs one name.`);
  if (given) {
    const missing = found.find((l) => !vocab.includes(l));
    if (missing !== undefined) throw new Error(`${what(missing)} in ${where} is not in the vocab you gave (${vocab.join(", ")}).`);
  }
  if (vocab.length < 2) {
    throw new Error(`${where} holds only one class (${vocab[0]}); a classifier needs at least two.` +
      (given ? "" : ` Put each class's images in a folder of its own: <folder>/<class>/<image>.`));
  }
  return vocab;
}

/** Both sets need images of one size. */
export function checkSameSize(train: [number, number], valid: [number, number], firsts: [string, string]): void {
  if (train[0] !== valid[0] || train[1] !== valid[1]) {
    throw new Error(`The training images are ${train[1]}x${train[0]} (${firsts[0]}) but the validation images are ` +
      `${valid[1]}x${valid[0]} (${firsts[1]}); both sets need one size.`);
  }
}

/** Normalising divides by the standard deviation: it must be a positive number. */
export function checkStats(stats: { mean: number; std: number }, computed: boolean): void {
  if (!(stats.std > 0 && Number.isFinite(stats.mean))) {
    throw new Error(`Cannot normalise by mean ${stats.mean} and standard deviation ${stats.std}: ` +
      (computed ? "every training pixel has the same value." : "std must be a positive number."));
  }
}

export function checkIdxImages(a: IdxArray, file: string): void {
  if (a.shape.length !== 3 || a.dtype !== "uint8") {
    throw new Error(`${file} should hold images [N, height, width] of uint8 pixels; it holds [${a.shape}] of ${a.dtype}` +
      `${a.shape.length === 1 ? " (a labels file?)" : ""}.`);
  }
}

/** The labels as int32, checked: one dimension, whole non-negative numbers, one per image. */
export function idxLabels(a: IdxArray, file: string, nImages: number, imagesFile: string): Int32Array {
  if (a.shape.length !== 1 || !["uint8", "int8", "int16", "int32"].includes(a.dtype)) {
    throw new Error(`${file} should hold labels [N] of integers; it holds [${a.shape}] of ${a.dtype}` +
      `${a.shape.length === 3 ? " (an images file?)" : ""}.`);
  }
  if (a.shape[0] !== nImages) {
    throw new Error(`${file} holds ${a.shape[0]} labels but ${imagesFile} holds ${nImages} images; ` +
      `labels and images must come in matching pairs (one label per image).`);
  }
  const labels = Int32Array.from(a.data as ArrayLike<number>);
  const neg = labels.findIndex((l) => l < 0);
  if (neg >= 0) throw new Error(`${file}: label ${neg} is ${labels[neg]}; class labels are 0 or more.`);
  return labels;
}
