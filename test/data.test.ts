// The data layer: verified downloads from a mirror or an address, atomic unpacking, and clear errors.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as tar from "tar";
import { downloadData, unpackedProblem, untarData } from "../lib/src/data/untar";
import { parseSha256Sums } from "../lib/src/data/download";
import { archiveName, folderName, URLs, type DatasetUrl } from "../lib/src/data/urls";
import { listTree, makeArchive, md5, sha256, tempDir } from "./helpers";

/** A mirror folder holding `files` plus a SHA256SUMS listing `sums` (default: the true sums). */
function makeMirror(files: string[], sums?: Record<string, string>): string {
  const mirror = tempDir("fastbook-mirror-");
  const lines: string[] = [];
  for (const f of files) {
    fs.copyFileSync(f, path.join(mirror, path.basename(f)));
    lines.push(`${sums?.[path.basename(f)] ?? sha256(f)}  ${path.basename(f)}`);
  }
  for (const [name, sum] of Object.entries(sums ?? {})) if (!files.some((f) => path.basename(f) === name)) lines.push(`${sum}  ${name}`);
  fs.writeFileSync(path.join(mirror, "SHA256SUMS"), lines.join("\n") + "\n");
  return mirror;
}

const dataset = (file: string, size = 0, hash = ""): DatasetUrl => ({ url: `https://example.invalid/x/${path.basename(file)}`, size, md5: hash });

test("URLs name fastai's archives and folders", () => {
  assert.equal(archiveName(URLs.MNIST_SAMPLE), "mnist_sample.tgz");
  assert.equal(folderName(URLs.MNIST_SAMPLE), "mnist_sample");
  assert.equal(folderName(URLs.MNIST), "mnist_png");
  assert.equal(URLs.MNIST_SAMPLE.size, 3214948);
  assert.equal(URLs.MNIST.md5, "03639f83c4e3d19e0a3a53a8a997c487");
});

test("parseSha256Sums reads sha256sum's output, binary marker included", () => {
  const a = "a".repeat(64), b = "B".repeat(64);
  const sums = parseSha256Sums(`${a}  one.tgz\n${b} *dir/two.tgz\nnot a line\n`);
  assert.equal(sums.get("one.tgz"), a);
  assert.equal(sums.get("dir/two.tgz"), "b".repeat(64));
  assert.equal(sums.size, 2);
});

test("untarData unpacks a verified archive from a mirror and reuses it", async () => {
  const archive = await makeArchive(tempDir(), "tiny");
  const mirror = makeMirror([archive]);
  const dataDir = tempDir("fastbook-data-");
  const dest = await untarData(dataset(archive), { dataDir, mirror });
  assert.equal(dest, path.join(dataDir, "tiny"));
  assert.equal(fs.readFileSync(path.join(dest, "b.txt"), "utf8"), "hello\n");
  assert.ok(fs.existsSync(path.join(dataDir, "archive", "tiny.tgz")));
  // Second call: the mirror is gone, the unpacked folder is reused.
  fs.rmSync(mirror, { recursive: true });
  assert.equal(await untarData(dataset(archive), { dataDir, mirror }), dest);
  assert.deepEqual(listTree(dataDir).filter((f) => !f.startsWith("tiny") && !f.startsWith("archive")), []);
});

test("without a mirror, the archive is checked against its size and md5", async () => {
  const archive = await makeArchive(tempDir(), "sized");
  const dataDir = tempDir("fastbook-data-");
  const good: DatasetUrl = { url: archive, size: fs.statSync(archive).size, md5: md5(archive) };
  assert.ok(fs.existsSync(path.join(await untarData(good, { dataDir, mirror: "" }), "b.txt")));

  const dataDir2 = tempDir("fastbook-data-");
  const badMd5: DatasetUrl = { ...good, md5: "0".repeat(32) };
  await assert.rejects(untarData(badMd5, { dataDir: dataDir2, mirror: "" }), (e: Error) => {
    assert.match(e.message, /Checksum mismatch for sized\.tgz/);
    assert.match(e.message, new RegExp(`expected md5 0{32}, got ${good.md5}`));
    return true;
  });
  const badSize: DatasetUrl = { ...good, size: good.size + 1 };
  await assert.rejects(untarData(badSize, { dataDir: dataDir2, mirror: "" }), /expected \d+ bytes, got \d+/);
  assert.deepEqual(listTree(dataDir2), ["archive"], "nothing but the empty archive folder is left");
});

test("a checksum mismatch from the mirror is a clear error and keeps nothing", async () => {
  const archive = await makeArchive(tempDir(), "tiny");
  const mirror = makeMirror([archive], { "tiny.tgz": "f".repeat(64) });
  const dataDir = tempDir("fastbook-data-");
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror }), (e: Error) => {
    assert.match(e.message, /Checksum mismatch for tiny\.tgz/);
    assert.match(e.message, new RegExp(`expected sha256 f{64}, got ${sha256(archive)}`));
    return true;
  });
  assert.deepEqual(listTree(dataDir), ["archive"]);
});

/** A copy of `archive` cut in half: it still has a checksum (a mirror may list it) but does not unpack. */
function damagedCopy(archive: string): string {
  const bytes = fs.readFileSync(archive);
  const file = path.join(tempDir(), path.basename(archive));
  fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
  return file;
}

test("a damaged archive that matches the mirror's checksum is not kept; once the mirror is repaired, a rerun works", async () => {
  const archive = await makeArchive(tempDir(), "tiny");
  const mirror = makeMirror([damagedCopy(archive)]); // its SHA256SUMS matches the truncated bytes
  const dataDir = tempDir("fastbook-data-");
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror }), (e: Error) => {
    assert.match(e.message, /^Could not unpack tiny\.tgz \(.*\)\. It matches its checksum \(sha256 \w+ from .*SHA256SUMS\), so the copy it came from \(.*tiny\.tgz\) is itself damaged/);
    assert.match(e.message, /It was not kept\. Repair the source \(the archive and its checksum\) and run again\.$/);
    assert.doesNotMatch(e.message, /kept;|was kept|is kept/);
    return true;
  });
  assert.deepEqual(listTree(dataDir), ["archive"], "no archive, record, marker or temporary folder");
  // The mirror repaired: the same call now works.
  fs.copyFileSync(archive, path.join(mirror, "tiny.tgz"));
  fs.writeFileSync(path.join(mirror, "SHA256SUMS"), `${sha256(archive)}  tiny.tgz\n`);
  const dest = await untarData(dataset(archive), { dataDir, mirror });
  assert.equal(fs.readFileSync(path.join(dest, "b.txt"), "utf8"), "hello\n");
});

test("a damaged archive in place from an earlier run: the error names the two files to delete; then a rerun works", async () => {
  const archive = await makeArchive(tempDir(), "tiny");
  const damaged = damagedCopy(archive);
  const dataDir = tempDir("fastbook-data-");
  // What an earlier version left: the mirror's damaged bytes, verified by its checksum and recorded.
  await downloadData(dataset(damaged), { dataDir, mirror: makeMirror([damaged]) });
  const inPlace = path.join(dataDir, "archive", "tiny.tgz");
  const goodMirror = makeMirror([archive]);
  let message = "";
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror: goodMirror }), (e: Error) => (message = e.message, true));
  assert.match(message, /itself damaged or not this data set\. Delete (\S+) and (\S+), then run again once that source is repaired \(or run untarData with force: true/);
  const [, first, second] = /Delete (\S+) and (\S+),/.exec(message)!;
  assert.deepEqual([first, second], [inPlace, `${inPlace}.verified.json`]);
  fs.rmSync(first!);
  fs.rmSync(second!);
  assert.equal(fs.readFileSync(path.join(await untarData(dataset(archive), { dataDir, mirror: goodMirror }), "b.txt"), "utf8"), "hello\n");
  // force: true recovers too, without deleting anything by hand.
  const dataDir2 = tempDir("fastbook-data-");
  await downloadData(dataset(damaged), { dataDir: dataDir2, mirror: makeMirror([damaged]) });
  const dest2 = await untarData(dataset(archive), { dataDir: dataDir2, mirror: goodMirror, force: true });
  assert.equal(fs.readFileSync(path.join(dest2, "b.txt"), "utf8"), "hello\n");
  assert.equal(sha256(path.join(dataDir2, "archive", "tiny.tgz")), sha256(archive));
});

test("force with a mirror whose damaged archive matches its checksum changes neither the archive nor the folder", async () => {
  const { archive, dataDir, dest } = await unpackedTiny();
  const inPlace = path.join(dataDir, "archive", "tiny.tgz");
  const before = { sha: sha256(inPlace), record: record(dataDir, "tiny.tgz"), tree: listTree(dataDir) };
  fs.writeFileSync(path.join(dest, "mine.txt"), "my own file\n");
  const badMirror = makeMirror([damagedCopy(archive)]);
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror: badMirror, force: true }), (e: Error) => {
    assert.match(e.message, /itself damaged or not this data set\. It was not kept\. The archive and the folder already in place were not changed\. Repair the source/);
    return true;
  });
  assert.equal(sha256(inPlace), before.sha);
  assert.deepEqual(record(dataDir, "tiny.tgz"), before.record);
  assert.deepEqual(listTree(dataDir), [...before.tree, "tiny/mine.txt"].sort(), "nothing added or removed but the user's own file");
  assert.equal(fs.readFileSync(path.join(dest, "mine.txt"), "utf8"), "my own file\n");
});

test("a full disk during the unpack: the error says to free space, and what it says was kept was kept", async (t) => {
  // The module object itself, which tar calls (an `import * as` copy would not change what it calls).
  const fsModule = require("node:fs") as typeof fs;
  const open = fsModule.openSync;
  const full = () => t.mock.method(fsModule, "openSync", ((p: fs.PathLike, ...rest: unknown[]) => {
    if (String(p).includes("/.unpack-") && /\.(png|txt)$/.test(String(p))) throw Object.assign(new Error(`ENOSPC: no space left on device, open '${p}'`), { code: "ENOSPC" });
    return (open as (...a: unknown[]) => number)(p, ...rest);
  }) as typeof fs.openSync);
  t.mock.method(console, "log", () => {});
  // First unpack: the verified archive stays for the next run.
  const archive = await makeArchive(tempDir(), "tiny");
  const mirror = makeMirror([archive]);
  const dataDir = tempDir("fastbook-data-");
  const mock = full();
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror }),
    /^Error: Could not unpack tiny\.tgz into .*: .*no space left on device.*\. Free space or fix the permissions of the data folder .* and run again; the verified archive stays in .*archive\/tiny\.tgz\.$/);
  assert.deepEqual(listTree(dataDir), ["archive", "archive/tiny.tgz", "archive/tiny.tgz.verified.json"]);
  mock.mock.restore();
  assert.equal(fs.readFileSync(path.join(await untarData(dataset(archive), { dataDir, mirror }), "b.txt"), "utf8"), "hello\n");
  // force: the fresh copy is not kept, and the archive and folder in place are as they were.
  const before = listTree(dataDir).map((f) => [f, fs.statSync(path.join(dataDir, f)).isFile() ? sha256(path.join(dataDir, f)) : "dir"]);
  full();
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror, force: true }),
    /the verified archive fetched now was not kept\. The archive and the folder already in place were not changed\.$/);
  assert.deepEqual(listTree(dataDir).map((f) => [f, fs.statSync(path.join(dataDir, f)).isFile() ? sha256(path.join(dataDir, f)) : "dir"]), before);
});

test("a file missing from the mirror, or from its SHA256SUMS, is named in the error", async () => {
  const archive = await makeArchive(tempDir(), "tiny");
  const dataDir = tempDir("fastbook-data-");
  const listedOnly = makeMirror([], { "tiny.tgz": sha256(archive) });
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror: listedOnly }),
    /data mirror .* has no tiny\.tgz\. Check DATA_MIRROR/);
  const unlisted = makeMirror([]);
  fs.copyFileSync(archive, path.join(unlisted, "tiny.tgz"));
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror: unlisted }), /SHA256SUMS .* lists no tiny\.tgz/);
  const noSums = tempDir();
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror: noSums }), /has no readable SHA256SUMS/);
  assert.deepEqual(listTree(dataDir).filter((f) => f !== "archive"), []);
});

test("a cached archive that fails its check is fetched again", async () => {
  const archive = await makeArchive(tempDir(), "tiny");
  const mirror = makeMirror([archive]);
  const dataDir = tempDir("fastbook-data-");
  fs.mkdirSync(path.join(dataDir, "archive"));
  fs.writeFileSync(path.join(dataDir, "archive", "tiny.tgz"), "stale");
  const got = await downloadData(dataset(archive), { dataDir, mirror });
  assert.equal(sha256(got), sha256(archive));
});

// ---- archives record how they were verified, and are replaced only by verified copies ----

const record = (dataDir: string, name: string) =>
  JSON.parse(fs.readFileSync(path.join(dataDir, "archive", `${name}.verified.json`), "utf8")) as Record<string, unknown>;

/** Nowhere: a local path that does not exist, so a download fails at once, as offline. */
const offline = (file: string, d: Partial<DatasetUrl> = {}): DatasetUrl =>
  ({ url: path.join(tempDir(), "gone", path.basename(file)), size: 1, md5: "0".repeat(32), ...d });

test("an archive verified by a mirror's SHA256SUMS serves a later run without the mirror, offline", async () => {
  const archive = await makeArchive(tempDir(), "tiny");
  const mirror = makeMirror([archive]);
  const dataDir = tempDir("fastbook-data-");
  const dest = await untarData(dataset(archive), { dataDir, mirror });
  const rec = record(dataDir, "tiny.tgz");
  assert.equal(rec.method, "SHA256SUMS");
  assert.equal(rec.sha256, sha256(archive));
  assert.equal(rec.source, path.join(mirror, "tiny.tgz"));
  assert.match(String(rec.checkedAgainst), new RegExp(`sha256 ${sha256(archive)} from ${path.join(mirror, "SHA256SUMS")}`));
  // Later: no mirror, no network, and fastai's size and md5 do not fit this archive's bytes.
  fs.rmSync(mirror, { recursive: true });
  fs.rmSync(dest, { recursive: true });
  const again = await untarData(offline(archive), { dataDir, mirror: "" });
  assert.equal(fs.readFileSync(path.join(again, "b.txt"), "utf8"), "hello\n");
  assert.equal(sha256(path.join(dataDir, "archive", "tiny.tgz")), sha256(archive), "the archive is untouched");
});

test("an archive with no record that fails its check is kept when no verified copy can be had", async (t) => {
  const archive = await makeArchive(tempDir(), "tiny");
  const dataDir = tempDir("fastbook-data-");
  fs.mkdirSync(path.join(dataDir, "archive"));
  const cached = path.join(dataDir, "archive", "tiny.tgz");
  fs.copyFileSync(archive, cached); // e.g. from a mirror, by a version that kept no record
  const warn = t.mock.method(console, "warn", () => {});
  await assert.rejects(untarData(offline(archive), { dataDir, mirror: "" }), (e: Error) => {
    assert.match(e.message, /Could not download tiny\.tgz/);
    assert.match(e.message, /archive already in .*tiny\.tgz was kept: it fails its check \(expected 1 bytes, got \d+\)/);
    assert.match(e.message, /set DATA_MIRROR to that mirror/);
    return true;
  });
  assert.equal(warn.mock.callCount(), 1);
  assert.match(String(warn.mock.calls[0]!.arguments[0]), /kept until that one is verified/);
  assert.equal(sha256(cached), sha256(archive));
  // With the mirror it came from, it is verified by the SHA256SUMS, recorded, and used; nothing is fetched.
  const mirror = makeMirror([]);
  fs.writeFileSync(path.join(mirror, "SHA256SUMS"), `${sha256(archive)}  tiny.tgz\n`);
  assert.equal(await downloadData(dataset(archive), { dataDir, mirror }), cached);
  assert.equal(record(dataDir, "tiny.tgz").method, "SHA256SUMS");
});

test("force fetches a fresh copy but keeps the verified archive when the copy fails verification", async () => {
  const archive = await makeArchive(tempDir(), "tiny");
  const dataDir = tempDir("fastbook-data-");
  await downloadData(dataset(archive), { dataDir, mirror: makeMirror([archive]) });
  const before = record(dataDir, "tiny.tgz");
  const other = await makeArchive(tempDir(), "tiny"); // different bytes (time stamps), listed with a wrong sum
  const badMirror = makeMirror([other], { "tiny.tgz": "e".repeat(64) });
  await assert.rejects(downloadData(dataset(archive), { dataDir, mirror: badMirror, force: true }),
    /Checksum mismatch .* archive already in .*tiny\.tgz was kept: a fresh copy was asked for/s);
  assert.equal(sha256(path.join(dataDir, "archive", "tiny.tgz")), sha256(archive));
  assert.deepEqual(record(dataDir, "tiny.tgz"), before);
  assert.deepEqual(listTree(path.join(dataDir, "archive")), ["tiny.tgz", "tiny.tgz.verified.json"], "no temporary file left");
  // A good fresh copy replaces it, record included.
  const goodMirror = makeMirror([other]);
  await downloadData(dataset(other), { dataDir, mirror: goodMirror, force: true });
  assert.equal(sha256(path.join(dataDir, "archive", "tiny.tgz")), sha256(other));
  assert.equal(record(dataDir, "tiny.tgz").sha256, sha256(other));
});

test("an archive that changed since it was verified is replaced by a verified copy, or kept if none comes", async (t) => {
  const archive = await makeArchive(tempDir(), "tiny");
  const mirror = makeMirror([archive]);
  const dataDir = tempDir("fastbook-data-");
  const cached = await downloadData(dataset(archive), { dataDir, mirror });
  fs.appendFileSync(cached, "garbage");
  t.mock.method(console, "warn", () => {});
  await assert.rejects(downloadData(offline(archive), { dataDir, mirror: "" }), /was kept: it changed since it was verified on \d{4}-/);
  assert.ok(fs.readFileSync(cached, "utf8").endsWith("garbage"), "kept as it was");
  assert.equal(await downloadData(dataset(archive), { dataDir, mirror }), cached);
  assert.equal(sha256(cached), sha256(archive));
});

// ---- unpacked folders count only with their completion marker ----

/** A tiny data set unpacked from a mirror into a fresh data folder; the archive stays available. */
async function unpackedTiny() {
  const archive = await makeArchive(tempDir(), "tiny");
  const mirror = makeMirror([archive]);
  const dataDir = tempDir("fastbook-data-");
  const dest = await untarData(dataset(archive), { dataDir, mirror });
  return { archive, mirror, dataDir, dest, marker: path.join(dataDir, "tiny.unpacked.json") };
}

test("the completion marker records the number of files unpacked", async () => {
  const { dataDir, dest, marker, archive } = await unpackedTiny();
  const m = JSON.parse(fs.readFileSync(marker, "utf8")) as Record<string, unknown>;
  assert.equal(m.files, 2, "a/1.png and b.txt");
  assert.equal(m.archiveSha256, sha256(archive));
  assert.equal(unpackedProblem(dataset(archive), dataDir), undefined);
  // A complete folder is used as it is: no archive and no mirror needed.
  fs.rmSync(path.join(dataDir, "archive"), { recursive: true });
  assert.equal(await untarData(offline(archive), { dataDir, mirror: "" }), dest);
});

for (const [what, damage, reason] of [
  ["an empty folder", (dest: string, marker: string) => { fs.rmSync(dest, { recursive: true }); fs.mkdirSync(dest); fs.rmSync(marker); },
    /has no tiny\.unpacked\.json/],
  ["a folder without its marker (an unpack that stopped before the end)", (_: string, marker: string) => fs.rmSync(marker),
    /has no tiny\.unpacked\.json/],
] as const) {
  test(`${what} is unpacked again`, async (t) => {
    const { archive, mirror, dataDir, dest } = await unpackedTiny();
    damage(dest, path.join(dataDir, "tiny.unpacked.json"));
    assert.match(unpackedProblem(dataset(archive), dataDir) ?? "", reason);
    const warn = t.mock.method(console, "warn", () => {});
    assert.equal(await untarData(dataset(archive), { dataDir, mirror }), dest);
    assert.match(String(warn.mock.calls[0]?.arguments[0]), /is incomplete: .* Unpacking it again/);
    assert.equal(fs.readFileSync(path.join(dest, "b.txt"), "utf8"), "hello\n");
    assert.ok(fs.existsSync(path.join(dest, "a", "1.png")));
    assert.equal(unpackedProblem(dataset(archive), dataDir), undefined);
    assert.deepEqual(listTree(dataDir).filter((f) => f.startsWith(".")), [], "no temporary folder left");
  });
}

test("a completed folder is the user's: files added or removed stay, with a one-line note; only force unpacks again", async (t) => {
  const { archive, mirror, dataDir, dest } = await unpackedTiny();
  const mine = path.join(dest, "a", "my_digit.png");
  fs.writeFileSync(mine, "mine");
  const log = t.mock.method(console, "log", () => {});
  const warn = t.mock.method(console, "warn", () => {});
  assert.equal(await untarData(dataset(archive), { dataDir, mirror }), dest);
  assert.equal(fs.readFileSync(mine, "utf8"), "mine", "the user's file stays");
  assert.deepEqual(log.mock.calls.map((c) => String(c.arguments[0])),
    [`Note: ${dest} holds 1 more files than its unpack left (3 instead of 2); it is used as it is. untarData(..., { force: true }) replaces it with a fresh unpack of tiny.tgz.`]);
  // A file removed by the user stays removed.
  fs.rmSync(path.join(dest, "b.txt"));
  fs.rmSync(mine);
  fs.rmSync(path.join(dest, "a", "1.png"));
  log.mock.resetCalls();
  assert.equal(await untarData(dataset(archive), { dataDir, mirror }), dest);
  assert.ok(!fs.existsSync(path.join(dest, "b.txt")));
  assert.match(String(log.mock.calls[0]?.arguments[0]), /holds 2 fewer files than its unpack left \(0 instead of 2\)/);
  assert.equal(log.mock.callCount(), 1);
  assert.equal(warn.mock.callCount(), 0);
  // Asked for: a fresh unpack.
  await untarData(dataset(archive), { dataDir, mirror, force: true });
  assert.equal(fs.readFileSync(path.join(dest, "b.txt"), "utf8"), "hello\n");
  assert.equal(unpackedProblem(dataset(archive), dataDir), undefined);
});

// ---- leftovers of killed runs ----

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "0"]);
  return r.pid!;
}

test("leftovers of processes that no longer run are removed; those of running ones are not", async (t) => {
  const { archive, mirror, dataDir } = await unpackedTiny();
  const dead = deadPid();
  const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
  t.after(() => live.kill("SIGKILL"));
  const legacyUnpack = path.join(dataDir, `.unpack-tiny-${dead}-1700000000000`); // the older naming
  const newUnpack = path.join(dataDir, `.unpack-tiny-${dead}-1700000000000-rab12`);
  const part = path.join(dataDir, "archive", `tiny.tgz.part-${dead}-1700000000000`);
  const stale = path.join(dataDir, `.stale-tiny-${dead}-1700000000000-r9zz`);
  const liveUnpack = path.join(dataDir, `.unpack-tiny-${live.pid}-1700000000000-rab12`);
  for (const d of [legacyUnpack, newUnpack, stale, liveUnpack]) { fs.mkdirSync(path.join(d, "tiny"), { recursive: true }); fs.writeFileSync(path.join(d, "tiny", "x"), "1234"); }
  fs.writeFileSync(part, "half");
  const log = t.mock.method(console, "log", () => {});
  await untarData(dataset(archive), { dataDir, mirror });
  for (const p of [legacyUnpack, newUnpack, part, stale]) assert.ok(!fs.existsSync(p), `${p} removed`);
  assert.ok(fs.existsSync(liveUnpack), "a running process's folder is left alone");
  assert.match(String(log.mock.calls[0]?.arguments[0]), /Removed 4 leftovers of an interrupted run \(16 B\)/);
});

// ---- SIGKILL in the middle, then a clean rerun (real child processes) ----

const CHILD = path.join(__dirname, "fixtures", "data-child.ts");

interface ChildRun { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }

function runChild(args: object): ChildRun {
  const env = { ...process.env };
  delete env.DATA_DIR; delete env.DATA_MIRROR;
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify(args)], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  child.stdout!.on("data", (b: Buffer) => { out += b.toString(); });
  child.stderr!.on("data", (b: Buffer) => { err += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitFor(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An archive of `n` small files under `<name>/`. */
async function archiveOf(n: number, name: string): Promise<string> {
  const src = tempDir("fastbook-src-");
  for (let i = 0; i < n; i++) {
    fs.mkdirSync(path.join(src, name, String(i % 10)), { recursive: true });
    fs.writeFileSync(path.join(src, name, String(i % 10), `${i}.txt`), `file ${i}\n`.repeat(50));
  }
  const file = path.join(tempDir(), `${name}.tgz`);
  await tar.c({ gzip: true, file, cwd: src }, [name]);
  return file;
}

test("SIGKILL during a download, then a rerun: the partial file is removed and the data arrive whole", async (t) => {
  const archive = await makeArchive(tempDir(), "tiny");
  const bytes = fs.readFileSync(archive);
  let stall = true;
  const server = http.createServer((req, res) => {
    if (req.url === "/SHA256SUMS") return res.end(`${sha256(archive)}  tiny.tgz\n`);
    if (req.url !== "/tiny.tgz") { res.statusCode = 404; return res.end(); }
    res.writeHead(200, { "content-length": bytes.length });
    if (stall) res.write(bytes.subarray(0, 100)); // and then nothing more
    else res.end(bytes);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dataDir = tempDir("fastbook-data-");
  const parts = () => fs.existsSync(path.join(dataDir, "archive")) ? fs.readdirSync(path.join(dataDir, "archive")).filter((f) => f.includes(".part-")) : [];

  const first = runChild({ dataset: dataset(archive), dataDir, mirror });
  await waitFor("the first 100 bytes in a .part file", () => parts().some((f) => fs.statSync(path.join(dataDir, "archive", f)).size === 100));
  first.child.kill("SIGKILL");
  assert.equal(await first.exited, null, "killed, not exited");
  assert.equal(parts().length, 1, "the killed download left its partial file");
  assert.ok(!fs.existsSync(path.join(dataDir, "archive", "tiny.tgz")), "no archive under the real name");

  stall = false;
  const second = runChild({ dataset: dataset(archive), dataDir, mirror });
  assert.equal(await second.exited, 0, second.stderr());
  assert.match(second.stdout(), /Removed a leftover of an interrupted run \(100 B\): archive\/tiny\.tgz\.part-/);
  assert.match(second.stdout(), /Unpacking tiny\.tgz into/);
  assert.match(second.stdout(), new RegExp(`DONE ${path.join(dataDir, "tiny")}`));
  assert.equal(second.stderr(), "", "nothing on stderr: progress and information go to stdout");
  assert.deepEqual(parts(), []);
  assert.equal(sha256(path.join(dataDir, "archive", "tiny.tgz")), sha256(archive));
  assert.equal(unpackedProblem(dataset(archive), dataDir), undefined);
});

test("SIGKILL during an unpack, then a rerun offline: the half-unpacked folder is removed and the data unpack whole", async () => {
  const archive = await archiveOf(300, "many");
  const mirror = makeMirror([archive]);
  const dataDir = tempDir("fastbook-data-");
  const unpacks = () => fs.readdirSync(dataDir).filter((f) => f.startsWith(".unpack-"));

  const first = runChild({ dataset: dataset(archive), dataDir, mirror, stallUnpackAfter: 120 });
  await waitFor("the unpack to be under way", () => first.stdout().includes("STALLED"));
  first.child.kill("SIGKILL");
  assert.equal(await first.exited, null);
  assert.equal(unpacks().length, 1, "the killed unpack left its temporary folder");
  assert.ok(listTree(path.join(dataDir, unpacks()[0]!)).filter((f) => f.endsWith(".txt")).length >= 119, "with files in it");
  assert.ok(!fs.existsSync(path.join(dataDir, "many")), "the data folder never appeared half-done");
  assert.ok(fs.existsSync(path.join(dataDir, "archive", "many.tgz.verified.json")), "the archive was verified before the unpack");

  // The rerun has neither mirror nor network: the verified archive is enough.
  fs.rmSync(mirror, { recursive: true });
  const second = runChild({ dataset: offline(archive), dataDir, mirror: "" });
  assert.equal(await second.exited, 0, second.stderr());
  assert.match(second.stdout(), /Removed a leftover of an interrupted run \(\d+\.\d KiB\): \.unpack-many-/);
  assert.equal(second.stderr(), "");
  assert.deepEqual(unpacks(), []);
  assert.equal(listTree(path.join(dataDir, "many")).filter((f) => f.endsWith(".txt")).length, 300);
  assert.equal(unpackedProblem(dataset(archive), dataDir), undefined);
});

// ---- DATA_DIR problems name DATA_DIR ----

test("DATA_DIR naming a file, or a path under a file, is an error that names DATA_DIR", async (t) => {
  const archive = await makeArchive(tempDir(), "tiny");
  const file = path.join(tempDir(), "not-a-folder");
  fs.writeFileSync(file, "x");
  const saved = process.env.DATA_DIR;
  t.after(() => { if (saved === undefined) delete process.env.DATA_DIR; else process.env.DATA_DIR = saved; });
  process.env.DATA_DIR = file;
  await assert.rejects(untarData(dataset(archive), { mirror: makeMirror([archive]) }),
    new RegExp(`^Error: DATA_DIR=${file} cannot be used as the data folder: it is a file, not a folder\\. Set DATA_DIR to a folder`));
  process.env.DATA_DIR = path.join(file, "data");
  await assert.rejects(downloadData(dataset(archive), { mirror: makeMirror([archive]) }),
    new RegExp(`DATA_DIR=${file}/data cannot be used as the data folder: ${file} is a file, not a folder`));
  delete process.env.DATA_DIR;
  await assert.rejects(untarData(dataset(archive), { dataDir: file, mirror: makeMirror([archive]) }), /the dataDir option \(.*\) cannot be used .* it is a file/);
});

test("two processes unpacking the same data set at once both get the complete folder", async () => {
  const archive = await archiveOf(300, "many");
  const mirror = makeMirror([archive]);
  const dataDir = tempDir("fastbook-data-");
  await downloadData(dataset(archive), { dataDir, mirror });
  const runs = [runChild({ dataset: dataset(archive), dataDir, mirror }), runChild({ dataset: dataset(archive), dataDir, mirror })];
  for (const r of runs) {
    assert.equal(await r.exited, 0, r.stderr());
    assert.match(r.stdout(), /DONE /);
  }
  assert.equal(unpackedProblem(dataset(archive), dataDir), undefined);
  assert.deepEqual(fs.readdirSync(dataDir).filter((f) => f.startsWith(".")), [], "no temporary folder left");
});
