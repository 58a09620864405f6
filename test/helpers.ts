// Shared by the tests: temporary folders, small archives and images made on the spot, and the rule for
// tests that need real MNIST, and how close two tensors are.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import * as tar from "tar";
import { Jimp } from "jimp";
import * as assert from "node:assert/strict";
import { tf } from "../lib/src/tf";
import { defaultDataDir, unpackedProblem } from "../lib/src/data/untar";
import { archiveName, folderName, URLs } from "../lib/src/data/urls";

/**
 * Options for a unit test too slow for `npm run test:quick` (tens of seconds): under test:quick it is skipped
 * with that reason; `npm test` runs it. Use as `test(name, slow, fn)` or `{ ...slow, timeout }`.
 */
export const slow: { skip?: string } = process.env.FASTBOOK_TEST_QUICK ? { skip: "slow: left out by npm run test:quick, run by npm test" } : {};

export function tempDir(prefix = "fastbook-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes an 8-bit grayscale image with the given pixel values (row by row) as a PNG. */
export async function writeGrayPng(file: string, width: number, height: number, pixels: number[]): Promise<void> {
  const rgba = Buffer.alloc(width * height * 4);
  pixels.forEach((v, i) => { rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = v; rgba[4 * i + 3] = 255; });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, await new Jimp({ width, height, data: rgba }).getBuffer("image/png"));
}

/** Makes `<dir>/<name>.tgz` holding `<name>/a/1.png` and `<name>/b.txt`; returns its path. */
export async function makeArchive(dir: string, name: string): Promise<string> {
  const src = tempDir("fastbook-src-");
  await writeGrayPng(path.join(src, name, "a", "1.png"), 2, 2, [0, 64, 128, 255]);
  fs.writeFileSync(path.join(src, name, "b.txt"), "hello\n");
  const file = path.join(dir, `${name}.tgz`);
  await tar.c({ gzip: true, file, cwd: src }, [name]);
  return file;
}

export function sha256(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

export function md5(file: string): string {
  return createHash("md5").update(fs.readFileSync(file)).digest("hex");
}

/** Lists what a data directory holds, to check that a failure left nothing behind. */
export function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

/**
 * Whether real MNIST_SAMPLE can be had: already unpacked, in DATA_MIRROR, or downloadable. Returns
 * undefined when it can, else the reason. Under CI=true a missing data set is a failure, not a skip.
 */
export async function mnistUnavailable(): Promise<string | undefined> {
  const name = archiveName(URLs.MNIST_SAMPLE);
  if (!unpackedProblem(URLs.MNIST_SAMPLE)) return undefined;
  const mirror = process.env.DATA_MIRROR;
  if (mirror) {
    const local = /^[a-z]+:\/\//i.test(mirror) && !mirror.startsWith("file://") ? undefined : mirror.replace(/^file:\/\//, "");
    if (local) return fs.existsSync(path.join(local, name)) ? undefined : `DATA_MIRROR=${mirror} holds no ${name}`;
    const res = await fetch(`${mirror.replace(/\/+$/, "")}/${name}`, { method: "HEAD", signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    return res?.ok ? undefined : `DATA_MIRROR=${mirror} does not serve ${name}`;
  }
  const res = await fetch(URLs.MNIST_SAMPLE.url, { method: "HEAD", signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  return res?.ok ? undefined : `MNIST cannot be downloaded (no network) and DATA_MIRROR is not set`;
}

/** For `test(name, { skip: await skipUnlessMnist() }, ...)`: a skip reason, or throws under CI. */
export async function skipUnlessMnist(): Promise<string | false> {
  const reason = await mnistUnavailable();
  if (!reason) return false;
  if (process.env.CI === "true") throw new Error(`CI=true and real MNIST is needed: ${reason}. Set DATA_MIRROR (see docs/data.md).`);
  return reason;
}

/** The largest difference between two same-shaped tensors, relative to the largest value of `b`. */
export function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  return diff / Math.max(tf.max(tf.abs(b)).dataSync()[0], 1e-6);
}

/** Asserts |actual - expected| <= tol for one number or element by element, naming what differed. */
export function assertClose(actual: number | ArrayLike<number>, expected: number | ArrayLike<number>, tol = 1e-5, what = "value"): void {
  const a = typeof actual === "number" ? [actual] : Array.from(actual);
  const e = typeof expected === "number" ? [expected] : Array.from(expected);
  assert.equal(a.length, e.length, `${what}: ${a.length} values, expected ${e.length}`);
  e.forEach((v, i) => assert.ok(Math.abs(a[i] - v) <= tol, `${what}${e.length > 1 ? ` [${i}]` : ""}: ${a[i]}, expected ${v} (±${tol})`));
}

/** What a computation may return for comparing across backends: numbers and tensors, nested in arrays. */
export type Values = number | tf.Tensor | Values[];

function flatValues(v: Values): number[] {
  if (typeof v === "number") return [v];
  if (v instanceof tf.Tensor) return Array.from(v.dataSync());
  return v.flatMap(flatValues);
}

/**
 * Runs `compute` on each backend in turn (the engine installed by initBackend) and asserts that every
 * backend's values equal the first's within `tol`, relative to the largest of the first's values.
 * Returns the values per backend. Tensors made by `compute` are disposed.
 */
export async function assertSameOnBackends(
  what: string, compute: () => Values | Promise<Values>, { backends = ["cpu", "wasm"], tol = 1e-5 } = {},
): Promise<number[][]> {
  const { initBackend } = await import("../lib/src/engine/backend");
  const results: number[][] = [];
  for (const backend of backends) {
    await initBackend(backend);
    tf.engine().startScope();
    try {
      results.push(flatValues(await compute()));
    } finally {
      tf.engine().endScope();
    }
  }
  const [ref, ...others] = results;
  const scale = Math.max(1e-6, ...ref.map(Math.abs));
  others.forEach((vals, b) => {
    assert.equal(vals.length, ref.length, `${what}: ${backends[b + 1]} gave ${vals.length} values, ${backends[0]} ${ref.length}`);
    const worst = vals.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
    assert.ok(worst <= tol * scale, `${what}: ${backends[b + 1]} differs from ${backends[0]} by ${worst} (allowed ${tol * scale})`);
  });
  return results;
}

/**
 * For tests on full MNIST: the PNG archive (`URLs.MNIST`) and the original IDX files, which the mirror
 * keeps under `mnist/`. Returns the IDX folder, or a skip reason; under CI=true a missing data set throws.
 */
export function fullMnistIdx(): { dir: string } | { skip: string } {
  const mirror = process.env.DATA_MIRROR?.replace(/^file:\/\//, "");
  let reason: string | undefined;
  if (!mirror || /^[a-z]+:\/\//i.test(mirror)) reason = "the MNIST IDX files need DATA_MIRROR set to a local folder holding mnist/*-ubyte.gz (see docs/data.md)";
  else if (!fs.existsSync(path.join(mirror, "mnist", "train-images-idx3-ubyte.gz"))) reason = `DATA_MIRROR=${mirror} holds no mnist/*-ubyte.gz`;
  else if (!fs.existsSync(path.join(mirror, archiveName(URLs.MNIST))) && !fs.existsSync(path.join(defaultDataDir(), folderName(URLs.MNIST)))) {
    reason = `DATA_MIRROR=${mirror} holds no ${archiveName(URLs.MNIST)}`;
  }
  if (!reason) return { dir: path.join(mirror!, "mnist") };
  if (process.env.CI === "true") throw new Error(`CI=true and full MNIST is needed: ${reason}. Set DATA_MIRROR (see docs/data.md).`);
  return { skip: reason };
}

/**
 * Whether the webgpu backend can start here (on any adapter, a software one included): undefined when it
 * can, else the reason. It needs the optional packages and a WebGPU adapter; without a GPU, Mesa's
 * lavapipe gives one (scripts/webgpu-software.sh installs both, as root).
 */
export async function webgpuUnavailable(): Promise<string | undefined> {
  const { prepareWebgpu } = await import("../lib/src/engine/webgpu-node");
  try {
    await prepareWebgpu(true);
    return undefined;
  } catch (e) {
    return `webgpu cannot start here: ${(e as Error).message}. Install a software adapter and the packages with ` +
      `scripts/webgpu-software.sh (as root, Debian).`;
  }
}

/** For webgpu tests: a skip reason, or throws under CI=true, where the software adapter must be installed. */
export async function skipUnlessWebgpu(): Promise<string | false> {
  const reason = await webgpuUnavailable();
  if (!reason) return false;
  if (process.env.CI === "true") throw new Error(`CI=true and the webgpu tests must run: ${reason}`);
  return reason;
}