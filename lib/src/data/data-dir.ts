// The data directory: where it is, whether it can be used (with errors that name DATA_DIR when that is
// where the path came from), and removing what killed runs left in it.
import * as fs from "node:fs";
import * as path from "node:path";
import { formatBytes } from "../progress-bar";

/** The project's data/ folder. */
export function projectDataDir(): string {
  return path.resolve(__dirname, "..", "..", "..", "data");
}

/** The project's data/ folder, or DATA_DIR when set. */
export function defaultDataDir(): string {
  return path.resolve(process.env.DATA_DIR || projectDataDir());
}

/** A data directory and, for messages, where its path came from. */
export interface DataDir {
  dir: string;
  /** "DATA_DIR=..." or "dataDir ..." or "the data folder ...". */
  origin: string;
}

export function resolveDataDir(dataDir: string | undefined): DataDir {
  if (dataDir !== undefined) return { dir: path.resolve(dataDir), origin: `the dataDir option (${path.resolve(dataDir)})` };
  const env = process.env.DATA_DIR;
  if (env) {
    const dir = path.resolve(env);
    return { dir, origin: `DATA_DIR=${env}${dir !== env ? ` (${dir})` : ""}` };
  }
  return { dir: projectDataDir(), origin: `the data folder ${projectDataDir()}` };
}

/** The first existing path from `p` upwards that is not a folder, if any. */
function fileInTheWay(p: string): string | undefined {
  for (let cur = p; ; cur = path.dirname(cur)) {
    try {
      if (!fs.statSync(cur).isDirectory()) return cur;
    } catch { /* missing: look further up */ }
    if (path.dirname(cur) === cur) return undefined;
  }
}

/** Creates `dir` (and `dir/archive`) if needed and checks that it can be written, or says clearly why not. */
export function ensureDataDir({ dir, origin }: DataDir): void {
  const fix = process.env.DATA_DIR
    ? `Set DATA_DIR to a folder you can write to (it is created if missing), or unset it to use ${projectDataDir()}.`
    : "Pass a folder you can write to (it is created if missing).";
  const file = fileInTheWay(dir);
  if (file) {
    throw new Error(`${origin} cannot be used as the data folder: ${file === dir ? "it is" : `${file} is`} a file, not a folder. ${fix}`);
  }
  try {
    fs.mkdirSync(path.join(dir, "archive"), { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    fs.accessSync(path.join(dir, "archive"), fs.constants.W_OK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "EACCES" || err.code === "EPERM" || err.code === "EROFS" ? "it cannot be written" : "it cannot be created";
    throw new Error(`${origin} cannot be used as the data folder: ${why} (${err.message}). ${fix}`);
  }
}

/** Temporary names hold the writer's pid and a time: `<base>.part-<pid>-<ms>`, `.unpack-<name>-<pid>-<ms>`. */
export function tempName(base: string, kind: "part" | "unpack" | "stale"): string {
  // The "r" keeps the random part from reading as a number (older versions wrote only pid and time).
  const tag = `${process.pid}-${Date.now()}-r${Math.random().toString(36).slice(2, 6)}`;
  return kind === "part" ? `${base}.part-${tag}` : path.join(path.dirname(base), `.${kind}-${path.basename(base)}-${tag}`);
}

// Temporary names of this module, and of the image cache (`<entry>.tmp-<pid>`).
const LEFTOVER = /^(?:(?:\.(?:unpack|stale)-.+|.+\.part)-(\d+)-\d+(?:-r[0-9a-z]+)?|.+\.tmp-(\d+))$/;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sizeOf(p: string): number {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of fs.readdirSync(p)) total += sizeOf(path.join(p, name));
  return total;
}

/**
 * Removes what a killed download, unpack or cache write left in `dir` and its `subfolders` (temporary
 * files and folders of processes that no longer run; those of running ones are theirs). Says on stdout
 * what was removed.
 */
export function removeLeftovers(dir: string, subfolders: string[] = ["archive"]): string[] {
  const removed: string[] = [];
  let bytes = 0;
  for (const folder of [dir, ...subfolders.map((f) => path.join(dir, f))]) {
    let names: string[];
    try {
      names = fs.readdirSync(folder);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = LEFTOVER.exec(name);
      if (!m || alive(Number(m[1] ?? m[2]))) continue;
      const p = path.join(folder, name);
      bytes += sizeOf(p);
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    }
  }
  if (removed.length > 0) {
    console.log(`Removed ${removed.length === 1 ? "a leftover" : `${removed.length} leftovers`} of an interrupted run ` +
      `(${formatBytes(bytes)}): ${removed.map((p) => path.relative(dir, p)).join(", ")}`);
  }
  return removed;
}

/** Writes `text` to `file` through a temporary name, so a reader sees the old file or the whole new one. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = tempName(file, "part");
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
