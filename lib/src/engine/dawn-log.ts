// Dawn prints "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 ..."
// straight to the process's stderr (file descriptor 2, past Node's streams) when it hands out an adapter
// whose driver reports very large limits, as Mesa's lavapipe does. In a notebook kernel that descriptor is
// Jupyter's log, and the line means nothing to a reader. So while Dawn picks an adapter, descriptor 2 points
// at a temporary file; afterwards every other line it received goes on to stderr.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Dawn's notes that it lowered an adapter limit to one it supports. */
export const DAWN_LIMIT_NOTE = /^Warning: \w+ artificially reduced from \d+ to \d+ to fit .*$/;

interface Libc { dup(fd: number): number; dup2(from: number, to: number): number; close(fd: number): number }
let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== "linux") return libc;
  try {
    const koffi = require("koffi") as typeof import("koffi");
    const lib = koffi.load("libc.so.6");
    libc = { dup: lib.func("int dup(int)"), dup2: lib.func("int dup2(int, int)"), close: lib.func("int close(int)") };
  } catch {
    // Without koffi (an optional package) the notes stay: harmless, only noisy.
  }
  return libc;
}

/** Runs `work` with Dawn's limit notes kept out of stderr; whatever else was written there still arrives. */
export async function withoutDawnLimitNotes<T>(work: () => Promise<T>): Promise<T> {
  const c = loadLibc();
  if (!c) return work();
  const file = path.join(os.tmpdir(), `fastbook-dawn-${process.pid}-${Date.now()}.log`);
  const fd = fs.openSync(file, "w+");
  const saved = c.dup(2);
  if (saved < 0 || c.dup2(fd, 2) < 0) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    return work();
  }
  try {
    return await work();
  } finally {
    c.dup2(saved, 2);
    c.close(saved);
    fs.closeSync(fd);
    const rest = fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "" && !DAWN_LIMIT_NOTE.test(l));
    fs.rmSync(file, { force: true });
    if (rest.length > 0) process.stderr.write(rest.join("\n") + "\n");
  }
}
