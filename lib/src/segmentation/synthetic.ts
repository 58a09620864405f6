// A synthetic stand-in for Kaggle's TGS Salt Identification data, which cannot be downloaded without an
// account: seeded seismic-looking sections with salt bodies, written in exactly the competition's layout
// (train/images, train/masks, test/images, train.csv, depths.csv). It is not real data, and says so.
//
// Each 101x101 image is a small piece of a seismic section: a reflectivity series (layers of random
// thickness and impedance) convolved with a Ricker wavelet gives one trace; the layers follow a structure
// (dip, folds, faults that offset them, sediments dragged up against the salt), with amplitude that varies
// across and down the section. Salt replaces the layers with a weak, chaotic texture; its edge is sometimes a
// strong reflection, sometimes barely visible. Then noise, blur and a random gain and contrast.
import * as fs from "node:fs";
import * as path from "node:path";
import { seededRandom } from "../dataloader";
import { defaultDataDir } from "../data/untar";
import { encodePng } from "./png";
import { rleEncode, type Mask } from "./rle";

/** The side of the competition's images and masks, in pixels. */
export const SALT_SIZE = 101;
const N = SALT_SIZE;

type Rand = () => number;

const uniform = (r: Rand, lo: number, hi: number) => lo + (hi - lo) * r();
/** A standard normal draw (Box-Muller; the second value of each pair is kept for the next call). */
let spare: number | undefined, spareOf: Rand | undefined;
function gauss(r: Rand): number {
  if (spare !== undefined && spareOf === r) {
    const v = spare;
    spare = undefined;
    return v;
  }
  const radius = Math.sqrt(-2 * Math.log(1 - r())), angle = 2 * Math.PI * r();
  spare = radius * Math.sin(angle);
  spareOf = r;
  return radius * Math.cos(angle);
}
function pick<T>(r: Rand, weighted: [T, number][]): T {
  let u = r() * weighted.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of weighted) if ((u -= w) < 0) return v;
  return weighted[weighted.length - 1]![0];
}

/** Value noise on the 101x101 grid: random values on a lattice `cellX` x `cellY` pixels apart, smoothly interpolated. */
function smoothNoise(r: Rand, cellX: number, cellY = cellX): Float32Array {
  const gx = Math.ceil(N / cellX) + 2, gy = Math.ceil(N / cellY) + 2;
  const lattice = Float32Array.from({ length: gx * gy }, () => gauss(r));
  const ox = r() * cellX, oy = r() * cellY; // so that lattice points fall anywhere
  const out = new Float32Array(N * N);
  const smooth = (t: number) => t * t * (3 - 2 * t);
  for (let y = 0; y < N; y++) {
    const fy = (y + oy) / cellY, iy = Math.floor(fy), ty = smooth(fy - iy);
    for (let x = 0; x < N; x++) {
      const fx = (x + ox) / cellX, ix = Math.floor(fx), tx = smooth(fx - ix);
      const a = lattice[iy * gx + ix]!, b = lattice[iy * gx + ix + 1]!;
      const c = lattice[(iy + 1) * gx + ix]!, d = lattice[(iy + 1) * gx + ix + 1]!;
      out[y * N + x] = (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty;
    }
  }
  return out;
}

/** A wavy 1-D curve over 0..n-1: a few sines of decreasing amplitude, for rough boundaries and folds. */
function wiggle(r: Rand, amplitude: number, n = N): Float32Array {
  const parts = Array.from({ length: 4 }, (_, i) => ({
    a: amplitude * uniform(r, 0.3, 1) / (i + 1), f: uniform(r, 0.5, 2.5) * (i + 1), p: uniform(r, 0, 2 * Math.PI),
  }));
  return Float32Array.from({ length: n }, (_, t) => parts.reduce((s, q) => s + q.a * Math.sin(2 * Math.PI * q.f * t / n + q.p), 0));
}

/** A Ricker wavelet of peak period `period` pixels, sampled at `t` pixels from its centre. */
function ricker(t: number, period: number): number {
  const a = (Math.PI * t / period) ** 2;
  return (1 - 2 * a) * Math.exp(-a);
}

/**
 * One seismic trace against relative geological time (in pixels, from -OFFSET): random layers (impedance
 * steps) convolved with a Ricker wavelet, normalised to unit RMS.
 */
const TRACE_LEN = 700, OFFSET = 250;
function makeTrace(r: Rand): Float32Array {
  const reflectivity = new Float32Array(TRACE_LEN);
  const meanThickness = uniform(r, 2.5, 7);
  for (let t = 0; t < TRACE_LEN; t += 1 + Math.floor(-Math.log(1 - r()) * meanThickness)) {
    // Occasional strong beds among many weak contrasts.
    reflectivity[t] = gauss(r) * (r() < 0.12 ? uniform(r, 2, 4) : 1);
  }
  const period = uniform(r, 3.5, 7);
  const half = Math.ceil(2.5 * period);
  const w = Float32Array.from({ length: 2 * half + 1 }, (_, i) => ricker(i - half, period));
  const trace = new Float32Array(TRACE_LEN);
  let sumSq = 0;
  for (let t = 0; t < TRACE_LEN; t++) {
    let s = 0;
    for (let k = -half; k <= half; k++) s += (reflectivity[t - k] ?? 0) * w[k + half]!;
    trace[t] = s;
    sumSq += s * s;
  }
  const rms = Math.sqrt(sumSq / TRACE_LEN) || 1;
  for (let t = 0; t < TRACE_LEN; t++) trace[t]! /= rms;
  return trace;
}

function sampleTrace(trace: Float32Array, tau: number): number {
  const f = Math.min(Math.max(tau + OFFSET, 0), TRACE_LEN - 1.001), i = Math.floor(f);
  return trace[i]! + (trace[i + 1]! - trace[i]!) * (f - i);
}

/** The kinds of salt body the synthetic generator draws ("none": an image without salt). */
export type SaltShape = "none" | "dome" | "sheet" | "flank" | "body" | "sliver" | "speck";

/** The salt body's mask (1 = salt) for a shape, with rough edges. */
function saltMask(r: Rand, shape: SaltShape): Uint8Array {
  const m = new Uint8Array(N * N);
  const set = (inside: (x: number, y: number) => boolean) => {
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) m[y * N + x] = inside(x, y) ? 1 : 0;
  };
  const rough = wiggle(r, uniform(r, 1, 6)), fine = wiggle(r, uniform(r, 0.3, 1.5));
  switch (shape) {
    case "none":
      break;
    case "dome": { // the crest of a diapir: salt below a rounded top, down to the bottom of the image
      const xc = uniform(r, -10, 110), width = uniform(r, 15, 60), top = uniform(r, 5, 70), height = uniform(r, 10, 70);
      set((x, y) => y > top + height * (1 - Math.exp(-(((x - xc) / width) ** 2))) + rough[x]! + fine[(x * 7) % N]!);
      break;
    }
    case "sheet": { // a salt sheet whose top crosses the image and which reaches the bottom
      const y0 = uniform(r, -20, 92), slope = uniform(r, -0.6, 0.6);
      set((x, y) => y > y0 + slope * (x - 50) + rough[x]!);
      break;
    }
    case "flank": { // the steep side of a salt wall
      const x0 = uniform(r, 5, 96), lean = uniform(r, -0.7, 0.7), left = r() < 0.5;
      set((x, y) => (x < x0 + lean * (y - 50) + rough[y]!) === left);
      break;
    }
    case "body": { // a closed body (a canopy or tongue), often cut by the image's edge
      const xc = uniform(r, -10, 110), yc = uniform(r, 0, 100), rx = uniform(r, 12, 55), ry = uniform(r, 8, 40);
      const harmonics = Array.from({ length: 3 }, (_, i) => ({ a: uniform(r, 0, 0.25) / (i + 1), k: i + 2, p: uniform(r, 0, 6.3) }));
      set((x, y) => {
        const dx = (x - xc) / rx, dy = (y - yc) / ry, theta = Math.atan2(dy, dx);
        const radius = 1 + harmonics.reduce((s, h) => s + h.a * Math.sin(h.k * theta + h.p), 0);
        return Math.hypot(dx, dy) < radius;
      });
      break;
    }
    case "sliver": { // a thin weld or stem: a band a few pixels thick along a wavy line
      const vertical = r() < 0.4, c = uniform(r, 10, 90), slope = uniform(r, -0.5, 0.5);
      const thickness = uniform(r, 2.5, 9), from = uniform(r, -30, 40), to = uniform(r, 60, 130);
      set((x, y) => {
        const [u, v] = vertical ? [y, x] : [x, y];
        const taper = Math.min(1, (u - from) / 15, (to - u) / 15);
        return taper > 0 && Math.abs(v - (c + slope * (u - 50) + rough[u]!)) < (thickness * taper) / 2;
      });
      break;
    }
    case "speck": { // a small piece of salt at the image's edge
      const xc = r() < 0.5 ? uniform(r, -5, 10) : uniform(r, 90, 105), yc = uniform(r, 0, 100), radius = uniform(r, 3, 9);
      set((x, y) => Math.hypot(x - xc, (y - yc) * 1.3) < radius + fine[(x + y) % N]!);
      break;
    }
  }
  return m;
}

/**
 * Distance in pixels from each pixel to the nearest pixel of the other kind (salt vs sediment), by a
 * two-pass chamfer transform; large where the image has only one kind.
 */
function distanceToEdge(mask: Uint8Array): Float32Array {
  const far = 1e4, d = new Float32Array(N * N);
  for (let i = 0; i < d.length; i++) {
    const x = i % N, y = Math.floor(i / N);
    const edge = (x > 0 && mask[i - 1] !== mask[i]) || (x < N - 1 && mask[i + 1] !== mask[i]) ||
      (y > 0 && mask[i - N] !== mask[i]) || (y < N - 1 && mask[i + N] !== mask[i]);
    d[i] = edge ? 0.5 : far;
  }
  const a = 1, b = Math.SQRT2;
  for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) {
    const i = y * N + x;
    if (x > 0) d[i] = Math.min(d[i]!, d[i - 1]! + a);
    if (y > 0) d[i] = Math.min(d[i]!, d[i - N]! + a, x > 0 ? d[i - N - 1]! + b : far, x < N - 1 ? d[i - N + 1]! + b : far);
  }
  for (let y = N - 1; y >= 0; y--) for (let x = N - 1; x >= 0; x--) {
    const i = y * N + x;
    if (x < N - 1) d[i] = Math.min(d[i]!, d[i + 1]! + a);
    if (y < N - 1) d[i] = Math.min(d[i]!, d[i + N]! + a, x < N - 1 ? d[i + N + 1]! + b : far, x > 0 ? d[i + N - 1]! + b : far);
  }
  return d;
}

/** A 3x3 box blur, `times` times (a little smoothing, as migration and processing leave). */
function blur(v: Float32Array, times: number): Float32Array {
  let src = v;
  for (let k = 0; k < times; k++) {
    const out = new Float32Array(N * N);
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) {
      let s = 0, n = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy, xx = x + dx;
        if (yy >= 0 && yy < N && xx >= 0 && xx < N) s += src[yy * N + xx]!, n++;
      }
      out[y * N + x] = s / n;
    }
    src = out;
  }
  return src;
}

/** One synthetic image (gray bytes, row by row) and its salt mask. */
export function syntheticSaltImage(seed: number, shape?: SaltShape): { image: Uint8Array; mask: Uint8Array; shape: SaltShape } {
  const r = seededRandom(seed);
  shape ??= pick<SaltShape>(r, [["none", 39], ["dome", 15], ["sheet", 13], ["flank", 10], ["body", 11], ["sliver", 7], ["speck", 5]]);
  const mask = saltMask(r, shape);
  let salt = 0;
  for (let i = 0; i < mask.length; i++) salt += mask[i]!;
  if (salt === 0) shape = "none"; // a body drawn wholly outside the frame
  const dist = distanceToEdge(mask);
  const trace = makeTrace(r);

  // Structure: relative geological time at each pixel.
  const dip = uniform(r, -0.35, 0.35), fold = wiggle(r, uniform(r, 0, 8)), foldDeep = wiggle(r, uniform(r, 0, 5));
  const faults = Array.from({ length: pick(r, [[0, 5], [1, 3], [2, 2]]) }, () => ({
    x0: uniform(r, 10, 90), lean: uniform(r, -0.6, 0.6), throw: uniform(r, 3, 14) * (r() < 0.5 ? -1 : 1),
  }));
  const drag = salt > 0 ? uniform(r, 3, 15) : 0, dragReach = uniform(r, 6, 20);
  const lateral = smoothNoise(r, 30), chaos = smoothNoise(r, uniform(r, 3, 6), uniform(r, 2, 4)), chaosFine = smoothNoise(r, 2);
  const fadeWith = uniform(r, 0, 0.012); // amplitude that decays with depth
  const saltAmp = uniform(r, 0.12, 0.45), subsaltAmp = uniform(r, 0.25, 0.7);
  const edge = pick(r, [["strong", 50], ["faint", 35], ["none", 15]]);
  const edgeAmp = edge === "strong" ? uniform(r, 1.2, 2.5) : edge === "faint" ? uniform(r, 0.2, 0.6) : 0;
  const edgePeriod = uniform(r, 3, 6), edgeSign = r() < 0.8 ? 1 : -1;

  const firstSalt = Int32Array.from({ length: N }, (_, x) => {
    for (let y = 0; y < N; y++) if (mask[y * N + x]) return y;
    return N;
  });
  const sig = new Float32Array(N * N);
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const i = y * N + x;
      let tau = y - dip * (x - 50) - fold[x]! - foldDeep[x]! * (y / N);
      for (const f of faults) if (x > f.x0 + f.lean * (y - 50)) tau += f.throw;
      const d = dist[i]!;
      let v: number;
      if (mask[i]) {
        v = saltAmp * (0.8 * chaos[i]! + 0.6 * chaosFine[i]!);
      } else {
        // Sediments bend up against the salt; below a salt body they are dimmer (the salt's shadow).
        tau += drag * Math.exp(-d / dragReach);
        v = sampleTrace(trace, tau) * (1 + 0.35 * lateral[i]!) * Math.exp(-fadeWith * y);
        if (y > firstSalt[x]!) v *= subsaltAmp;
      }
      if (edgeAmp > 0 && d < 3 * edgePeriod) v += edgeSign * edgeAmp * ricker(mask[i] ? -d : d, edgePeriod) * (1 + 0.3 * lateral[i]!);
      sig[i] = v;
    }
  }
  const noisy = new Float32Array(N * N);
  const noise = uniform(r, 0.08, 0.45);
  for (let i = 0; i < sig.length; i++) noisy[i] = sig[i]! + noise * gauss(r);
  const smoothed = blur(noisy, pick(r, [[0, 4], [1, 5], [2, 1]]));

  // Gain and contrast vary a lot between images; a few are clipped.
  const contrast = Math.exp(uniform(r, Math.log(10), Math.log(70))), level = uniform(r, 95, 160);
  const image = new Uint8Array(N * N);
  for (let i = 0; i < image.length; i++) image[i] = Math.max(0, Math.min(255, Math.round(level + contrast * smoothed[i]!)));
  return { image, mask, shape };
}

/** Options of the synthetic stand-in's generator. */
export interface SyntheticSaltOptions {
  /** Training images with masks (default 4000, as in the competition). */
  nTrain?: number;
  /** Unlabelled test images (default 1000; the competition has 18,000). */
  nTest?: number;
  seed?: number;
}

/** A 10-character hexadecimal id, as the competition's ids look. */
function hexId(r: Rand): string {
  return Array.from({ length: 10 }, () => Math.floor(r() * 16).toString(16)).join("");
}

const README = `SYNTHETIC stand-in for the TGS Salt Identification Challenge data (Kaggle).

These images are NOT real seismic data. They were generated by fastbook-ts (makeSyntheticSalt) to have the
competition's layout and a similar look: layered reflectors that bend and break, noise, varying contrast, and
salt bodies of varied shapes (domes, sheets, flanks, closed bodies, thin slivers, small pieces; none in about
39% of the images) with weak, chaotic interiors and sometimes faint edges. Scores on this set say nothing about
the real competition. For the real data, download it from Kaggle and set TGS_SALT_DIR to its folder.

Layout: train/images/<id>.png (101x101, gray stored as 8-bit RGB), train/masks/<id>.png (101x101, 16-bit gray,
65535 = salt), train.csv (id,rle_mask), depths.csv (id,z), test/images/<id>.png.
`;

/**
 * Writes a synthetic TGS-salt folder at `dir` (which must not exist yet): `train/images`, `train/masks`,
 * `test/images`, `train.csv`, `depths.csv`, and a README.txt that says it is synthetic. Seeded: the same
 * options give the same files.
 */
export function makeSyntheticSalt(dir: string, opts: SyntheticSaltOptions = {}): { nTrain: number; nTest: number; withSalt: number } {
  const nTrain = opts.nTrain ?? 4000, nTest = opts.nTest ?? 1000, seed = opts.seed ?? 2018;
  for (const sub of ["train/images", "train/masks", "test/images"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const r = seededRandom(seed);
  const ids = new Set<string>();
  while (ids.size < nTrain + nTest) ids.add(hexId(r));
  const [trainIds, testIds] = [[...ids].slice(0, nTrain), [...ids].slice(nTrain)];
  const rgb = (gray: Uint8Array) => {
    const out = new Uint8Array(gray.length * 3);
    for (let i = 0; i < gray.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = gray[i]!;
    return out;
  };
  const train = ["id,rle_mask"], depths = ["id,z"];
  let withSalt = 0;
  [...trainIds, ...testIds].forEach((id, k) => {
    const { image, mask } = syntheticSaltImage(seed * 100003 + k + 1);
    const isTrain = k < nTrain;
    fs.writeFileSync(path.join(dir, isTrain ? "train/images" : "test/images", `${id}.png`), encodePng(N, N, 3, 8, rgb(image)));
    depths.push(`${id},${Math.round(uniform(r, 51, 959))}`);
    if (!isTrain) return;
    fs.writeFileSync(path.join(dir, "train/masks", `${id}.png`), encodePng(N, N, 1, 16, Uint16Array.from(mask, (v) => v * 65535)));
    const m: Mask = { height: N, width: N, data: mask };
    const code = rleEncode(m);
    if (code) withSalt++;
    train.push(`${id},${code}`);
  });
  fs.writeFileSync(path.join(dir, "train.csv"), train.join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "depths.csv"), depths.join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "README.txt"), README);
  return { nTrain, nTest, withSalt };
}

/** True when `dir` holds the synthetic set's README (as makeSyntheticSalt writes it). */
export function isSyntheticSalt(dir: string): boolean {
  try {
    return fs.readFileSync(path.join(dir, "README.txt"), "utf8").startsWith("SYNTHETIC");
  } catch {
    return false;
  }
}

/** Where the salt data lives and what it is. */
export interface SaltData {
  path: string;
  /** "kaggle": TGS_SALT_DIR, the competition's download; "synthetic": the generated stand-in. */
  source: "kaggle" | "synthetic";
}

/**
 * The TGS salt data: the folder named by the environment variable TGS_SALT_DIR (Kaggle's download, unpacked:
 * train/images, train/masks, train.csv, depths.csv, test/images) when set; otherwise the synthetic stand-in in
 * the data folder, generated on first use (about ten seconds) and reused after.
 */
export function tgsSalt(opts: SyntheticSaltOptions = {}): SaltData {
  const given = process.env.TGS_SALT_DIR;
  if (given) {
    const missing = ["train/images", "train/masks"].filter((d) => !fs.existsSync(path.join(given, d)));
    if (missing.length) {
      throw new Error(`TGS_SALT_DIR=${given} has no ${missing.join(" or ")} folder. Point it at the unpacked competition ` +
        "data (train/images, train/masks, train.csv, depths.csv, test/images), or unset it to use the synthetic stand-in.");
    }
    return { path: given, source: isSyntheticSalt(given) ? "synthetic" : "kaggle" };
  }
  const nTrain = opts.nTrain ?? 4000, nTest = opts.nTest ?? 1000, seed = opts.seed ?? 2018;
  const name = `tgs_salt_synthetic-${seed}-${nTrain}-${nTest}`;
  const dir = path.join(defaultDataDir(), name);
  const marker = `${dir}.complete`;
  if (fs.existsSync(marker) && fs.existsSync(dir)) return { path: dir, source: "synthetic" };
  // Written under a temporary name and renamed when complete, so that an interrupted run leaves no half set.
  const tmp = `${dir}.part-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  makeSyntheticSalt(tmp, { nTrain, nTest, seed });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
  return { path: dir, source: "synthetic" };
}
