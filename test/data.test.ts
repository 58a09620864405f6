// The data layer: verified downloads from a mirror or an address, atomic unpacking, and clear errors.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { downloadData, untarData } from "../lib/src/data/untar";
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

test("a truncated archive fails to unpack, leaving no half-unpacked folder and no bad archive", async () => {
  const archive = await makeArchive(tempDir(), "tiny");
  const bytes = fs.readFileSync(archive);
  fs.writeFileSync(archive, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const mirror = makeMirror([archive]); // its SHA256SUMS matches the truncated bytes
  const dataDir = tempDir("fastbook-data-");
  await assert.rejects(untarData(dataset(archive), { dataDir, mirror }), /Could not unpack .*tiny\.tgz.*truncated or corrupt/s);
  assert.deepEqual(listTree(dataDir), ["archive"]);
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
