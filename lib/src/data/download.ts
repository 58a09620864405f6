// Fetching a file from a URL or a local path, with a progress bar, into a temporary name that only
// becomes the real one once the caller has verified it.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, Transform } from "node:stream";
import { fileURLToPath } from "node:url";
import { formatBytes, ProgressBar } from "../progress-bar";
import { tempName } from "./data-dir";

export function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !s.startsWith("file://");
}

/** A local path for "file://..." or a plain path; undefined for a network URL. */
export function localPath(s: string): string | undefined {
  if (s.startsWith("file://")) return fileURLToPath(s);
  return isUrl(s) ? undefined : path.resolve(s);
}

/** Joins a mirror (directory, file:// or http(s) URL) and a file name. */
export function joinLocation(base: string, name: string): string {
  const local = localPath(base);
  return local ? path.join(local, name) : base.replace(/\/+$/, "") + "/" + name;
}

export class FileMissingError extends Error {}

async function openSource(src: string): Promise<{ stream: Readable; size: number }> {
  const local = localPath(src);
  if (local) {
    let size: number;
    try {
      size = (await fs.promises.stat(local)).size;
    } catch {
      throw new FileMissingError(`File not found: ${local}`);
    }
    return { stream: fs.createReadStream(local), size };
  }
  let res: Response;
  try {
    res = await fetch(src);
  } catch (e) {
    throw new Error(`Could not reach ${src}: ${(e as Error).cause ?? (e as Error).message}`);
  }
  if (res.status === 404) throw new FileMissingError(`Not found (HTTP 404): ${src}`);
  if (!res.ok || !res.body) throw new Error(`Download of ${src} failed: HTTP ${res.status} ${res.statusText}`);
  return { stream: Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), size: Number(res.headers.get("content-length") ?? 0) };
}

export interface Downloaded {
  /** Where the bytes are now (a temporary name next to the destination). */
  tmpPath: string;
  size: number;
  md5: string;
  sha256: string;
}

/** Copies `src` to a temporary file beside `dest`, hashing as it goes. The caller verifies, then renames or deletes. */
export async function downloadToTemp(src: string, dest: string, label = path.basename(dest)): Promise<Downloaded> {
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  const tmpPath = tempName(dest, "part");
  const { stream, size: expected } = await openSource(src);
  const md5 = createHash("md5"), sha256 = createHash("sha256");
  const bar = new ProgressBar(`Downloading ${label}`, expected, formatBytes);
  let done = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      md5.update(chunk); sha256.update(chunk);
      done += chunk.length;
      bar.update(done);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(stream, meter, fs.createWriteStream(tmpPath));
  } catch (e) {
    await fs.promises.rm(tmpPath, { force: true });
    throw new Error(`Download of ${src} was interrupted: ${(e as Error).message}`);
  }
  bar.update(done, true);
  return { tmpPath, size: done, md5: md5.digest("hex"), sha256: sha256.digest("hex") };
}

/** Reads a small text file (SHA256SUMS) from a mirror. */
export async function readText(src: string): Promise<string> {
  const local = localPath(src);
  if (local) {
    try {
      return await fs.promises.readFile(local, "utf8");
    } catch {
      throw new FileMissingError(`File not found: ${local}`);
    }
  }
  const res = await fetch(src).catch((e: Error) => { throw new Error(`Could not reach ${src}: ${e.cause ?? e.message}`); });
  if (res.status === 404) throw new FileMissingError(`Not found (HTTP 404): ${src}`);
  if (!res.ok) throw new Error(`Could not read ${src}: HTTP ${res.status}`);
  return res.text();
}

/** Parses `sha256sum` output: "<hex>  <name>" (or "<hex> *<name>") per line. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(line.trim());
    if (m) sums.set(m[2].replace(/^\.\//, ""), m[1].toLowerCase());
  }
  return sums;
}

export async function hashFile(file: string): Promise<{ size: number; md5: string; sha256: string }> {
  const md5 = createHash("md5"), sha256 = createHash("sha256");
  let size = 0;
  for await (const chunk of fs.createReadStream(file) as AsyncIterable<Buffer>) {
    md5.update(chunk); sha256.update(chunk); size += chunk.length;
  }
  return { size, md5: md5.digest("hex"), sha256: sha256.digest("hex") };
}
