// Case (j): the first untarData(URLs.MNIST) on a fresh data folder (copy from a local mirror, checksums,
// unpacking 70,000 PNGs, completion marker) against GNU tar extracting the same archive, taking turns.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { downloadData, URLs } from "fastbook-ts";
import { CACHE, QUICK } from "./config";
import { runJson } from "./torch";

export const UNPACK_RUNS = QUICK ? 1 : 5;

export interface UnpackResult { ours: number[]; tar: number[]; files: number; tarVersion: string }

/** The first line of `tar --version`, or undefined when there is no tar to compare with. */
export function tarVersion(): string | undefined {
  const r = spawnSync("tar", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n")[0]!.trim() : undefined;
}

/** Files (not folders) under `dir`, by relative path. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)))
    .sort();
}

/** Both sides unpacked the same files with the same bytes (checked once, untimed). */
function assertSameTree(ours: string, theirs: string): number {
  const a = filesUnder(ours), b = filesUnder(theirs);
  if (a.length !== b.length || a.some((f, i) => f !== b[i])) {
    throw new Error(`(j): untarData unpacked ${a.length} files, tar ${b.length}; the file lists differ`);
  }
  const differs = a.find((f) => !fs.readFileSync(path.join(ours, f)).equals(fs.readFileSync(path.join(theirs, f))));
  if (differs) throw new Error(`(j): ${differs} differs between untarData's unpack and tar's`);
  return a.length;
}

/**
 * A mirror folder (archive + SHA256SUMS) made from the verified archive in the data folder, so that every
 * run of ours copies and checks the same local bytes that tar reads, with or without DATA_MIRROR.
 */
async function localMirror(): Promise<string> {
  const archive = await downloadData(URLs.MNIST);
  const mirror = path.join(CACHE, "unpack-mirror");
  fs.mkdirSync(mirror, { recursive: true });
  const copy = path.join(mirror, path.basename(archive));
  fs.copyFileSync(archive, copy);
  const sha = createHash("sha256").update(fs.readFileSync(copy)).digest("hex");
  fs.writeFileSync(path.join(mirror, "SHA256SUMS"), `${sha}  ${path.basename(copy)}\n`);
  return mirror;
}

/** Lets the previous run's writes reach the disk and its folder go, so that no run pays for another's. */
function settle(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  spawnSync("sync", { stdio: "ignore" });
}

/**
 * Times UNPACK_RUNS pairs: `tar -xzf` into a fresh folder, then untarData(URLs.MNIST) into a fresh data
 * folder in a fresh process (`childArgs` plus the folder and mirror; the child times the call itself).
 */
export async function benchUnpack(childArgs: string[], version: string): Promise<UnpackResult> {
  const mirror = await localMirror();
  const archive = path.join(mirror, "mnist_png.tgz");
  const runsDir = path.join(CACHE, "unpack-runs");
  fs.rmSync(runsDir, { recursive: true, force: true });
  const result: UnpackResult = { ours: [], tar: [], files: 0, tarVersion: version };
  for (let i = 0; i < UNPACK_RUNS; i++) {
    const tarDir = path.join(runsDir, `tar-${i}`), dataDir = path.join(runsDir, `ours-${i}`);
    fs.mkdirSync(tarDir, { recursive: true });
    spawnSync("sync", { stdio: "ignore" });
    const t0 = performance.now();
    const r = spawnSync("tar", ["-xzf", archive, "-C", tarDir], { stdio: "inherit" });
    result.tar.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`(j): tar -xzf ${archive} failed (exit ${r.status ?? r.signal})`);
    // Run 0 keeps tar's folder, to be compared with ours; the disk is settled either way.
    if (i > 0) settle(tarDir);
    else spawnSync("sync", { stdio: "ignore" });
    result.ours.push(runJson(process.execPath, [...childArgs, dataDir, mirror]).ms as number);
    if (i === 0) {
      result.files = assertSameTree(path.join(dataDir, "mnist_png"), path.join(tarDir, "mnist_png"));
      settle(tarDir);
    }
    settle(dataDir);
  }
  fs.rmSync(runsDir, { recursive: true, force: true });
  console.log(`bench: (j) first unpack of ${result.files} MNIST PNGs: ours ${result.ours.map((t) => t.toFixed(0)).join(", ")} ms; ` +
    `${version} ${result.tar.map((t) => t.toFixed(0)).join(", ")} ms`);
  return result;
}
