// Labelled image folders, in the manner of fastai's data block pieces: list the images under a folder,
// label each by the folder it sits in, and split the list into training and validation sets, either by
// the folder above the class folders (train/valid, training/testing) or at random.
import * as fs from "node:fs";
import * as path from "node:path";
import { seededRandom, shuffled } from "../dataloader";

/** File extensions `getImageFiles` lists (lower case): the formats `readGray` decodes. */
export const IMAGE_EXTENSIONS: readonly string[] = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"];

/** Options of `getImageFiles`. */
export interface GetImageFilesOptions {
  /** Look in sub-folders too (default true). */
  recurse?: boolean;
  /** Only these top-level sub-folders of `dir` (e.g. ["train", "valid"]); default: all of `dir`. */
  folders?: string[];
}

/**
 * Every image file under `dir` (fastai's `get_image_files`), as full paths in a stable order: each
 * folder's entries sorted by name, sub-folders walked where they fall in that order. Hidden files and
 * folders (".ipynb_checkpoints", ...) are skipped; extensions are matched without regard to case.
 */
export function getImageFiles(dir: string, opts: GetImageFilesOptions = {}): string[] {
  const recurse = opts.recurse ?? true;
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`No such folder: ${dir}`);
  const out: string[] = [];
  const roots = opts.folders ? opts.folders.map((f) => path.join(dir, f)) : [dir];
  for (const root of roots) {
    if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
      throw new Error(`getImageFiles: ${dir} has no folder "${path.relative(dir, root)}" (it holds: ${listNames(dir)}).`);
    }
    walk(root, recurse, out);
  }
  return out;
}

function walk(dir: string, recurse: boolean, out: string[]): void {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith("."));
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)); // code-unit order, as ls()
  const base = path.join(dir, "x").slice(0, -1); // normalised once, not per file (70,000 files for MNIST)
  for (const e of entries) {
    const full = base + e.name;
    // A symbolic link counts as what it points to.
    const isDir = e.isDirectory() || (e.isSymbolicLink() && !!fs.statSync(full, { throwIfNoEntry: false })?.isDirectory());
    if (isDir) {
      if (recurse) walk(full, recurse, out);
    } else if (IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) {
      out.push(full);
    }
  }
}

/** A folder's visible entries, for messages: "a, b, c" or "nothing". */
function listNames(dir: string): string {
  const names = fs.readdirSync(dir).filter((n) => !n.startsWith(".")).sort();
  if (names.length === 0) return "nothing";
  return names.length > 12 ? `${names.slice(0, 12).join(", ")}, ... (${names.length} entries)` : names.join(", ");
}

/** The name of the folder holding `file`: its label (fastai's `parent_label`). "mnist/train/3/7.png" -> "3". */
export function parentLabel(file: string): string {
  return path.basename(path.dirname(file));
}

/** The name of the folder two levels up: "mnist/train/3/7.png" -> "train". */
export function grandparentName(file: string): string {
  return path.basename(path.dirname(path.dirname(file)));
}

/** Splits a list of items into training and validation indices, each in ascending order. */
export type Splitter = (items: readonly unknown[]) => [train: number[], valid: number[]];

/**
 * Splits files by the folder above their class folder (fastai's `GrandparentSplitter`):
 * `<train>/<class>/<file>` to training, `<valid>/<class>/<file>` to validation, anything else left out.
 * The defaults suit MNIST_SAMPLE (`train`, `valid`); full MNIST uses `{ train: "training", valid: "testing" }`.
 * Throws when either side would be empty, naming the folders it did find.
 */
export function grandparentSplitter({ train = "train", valid = "valid" }: { train?: string; valid?: string } = {}): Splitter {
  if (train === valid) throw new Error(`grandparentSplitter: train and valid are both "${train}"; they must be different folders.`);
  return (items) => {
    const trainIdx: number[] = [], validIdx: number[] = [];
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const g = grandparentName(String(item));
      seen.add(g);
      if (g === train) trainIdx.push(i);
      else if (g === valid) validIdx.push(i);
    });
    for (const [name, idx] of [[train, trainIdx], [valid, validIdx]] as const) {
      if (idx.length === 0) {
        throw new Error(`grandparentSplitter: no file lies in a "${name}/<class>/" folder; the folders two levels above ` +
          `the ${items.length} files are: ${[...seen].sort().join(", ") || "none"}. Name the right folders, e.g. ` +
          `{ train: "training", valid: "testing" } for full MNIST, or split at random with validPct.`);
      }
    }
    return [trainIdx, validIdx];
  };
}

/**
 * Puts a random `validPct` of the items (rounded down) in the validation set and the rest in training
 * (fastai's `RandomSplitter`). The same seed gives the same split; without one, each call differs.
 */
export function randomSplitter(validPct = 0.2, seed?: number): Splitter {
  if (!(validPct > 0 && validPct < 1)) throw new Error(`randomSplitter: validPct must be between 0 and 1 (a fraction such as 0.2); got ${validPct}.`);
  return (items) => {
    const n = items.length;
    const cut = Math.floor(validPct * n); // below n, as validPct < 1
    if (cut === 0) throw new Error(`randomSplitter(${validPct}) on ${n} items would leave the validation set empty; use more items or a larger validPct.`);
    const order = shuffled(n, seed === undefined ? Math.random : seededRandom(seed));
    const ascending = (a: number, b: number) => a - b;
    return [order.slice(cut).sort(ascending), order.slice(0, cut).sort(ascending)];
  };
}
