// The tar reader behind untarData: what it unpacks (checked byte for byte against the files archived),
// the tar dialects it reads, and the archives it refuses.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { randomBytes } from "node:crypto";
import * as tar from "tar";
import { extractTar, TarFormatError } from "../lib/src/data/tar-extract";
import { listTree, tempDir } from "./helpers";

/** One 512-byte ustar header, written by hand from the format's field table. */
function header(name: string, type: string, size: number, prefix = ""): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(size.toString(8).padStart(11, "0") + "\0", 124);
  h.write("14000000000\0", 136);
  h.write(" ".repeat(8), 148);
  h.write(type, 156);
  h.write("ustar\u000000", 257);
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return h;
}

/** An entry: its header, its data and the zeros up to the next block. */
function entry(name: string, type: string, data: Buffer | string = "", prefix = ""): Buffer {
  const bytes = Buffer.from(data);
  return Buffer.concat([header(name, type, bytes.length, prefix), bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512)]);
}

const END = Buffer.alloc(1024);

/** Writes `tarBytes` gzipped (or not) to a fresh file and returns its path. */
function archiveFile(tarBytes: Buffer, gzip = true): string {
  const file = path.join(tempDir(), gzip ? "a.tgz" : "a.tar");
  fs.writeFileSync(file, gzip ? zlib.gzipSync(tarBytes) : tarBytes);
  return file;
}

/** Every file under `dir` with its bytes, by relative path. */
function contents(dir: string): Map<string, Buffer> {
  return new Map(listTree(dir).filter((f) => fs.statSync(path.join(dir, f)).isFile()).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

test("unpacks node-tar's archive of a tree byte for byte: nested folders, empty, block-sized and multi-megabyte files, long names", async () => {
  const src = tempDir("fastbook-src-");
  const long = "n".repeat(120); // longer than the 100-byte name field: node-tar writes a pax header
  const deep = path.join(...Array.from({ length: 12 }, (_, i) => `level${i}`)); // over 100 bytes in all: the ustar prefix
  const files: Record<string, Buffer> = {
    "set/a/1.png": randomBytes(700),
    "set/a/empty.txt": Buffer.alloc(0),
    "set/b/block.bin": randomBytes(512),
    "set/big.bin": randomBytes(3 * 1024 * 1024 + 17), // spans several of the reader's 1 MiB chunks
    [`set/${long}.txt`]: Buffer.from("long name\n"),
    [`set/${deep}/x.txt`]: Buffer.from("deep\n"),
    "set/ünï/çödé.txt": Buffer.from("utf-8 names\n"),
  };
  for (const [name, bytes] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    fs.writeFileSync(path.join(src, name), bytes);
  }
  fs.mkdirSync(path.join(src, "set", "empty-folder"));
  const file = path.join(tempDir(), "set.tgz");
  await tar.c({ gzip: true, file, cwd: src }, ["set"]);

  const out = tempDir("fastbook-out-");
  assert.equal(await extractTar(file, out), Object.keys(files).length);
  assert.deepEqual(contents(out), new Map(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))));
  assert.ok(fs.statSync(path.join(out, "set", "empty-folder")).isDirectory(), "an empty folder is made too");
});

test("reads GNU long names, pax paths, ustar prefixes, ./ names and plain (uncompressed) tar", async () => {
  const gnuName = `set/${"g".repeat(150)}.txt`;
  const paxName = `set/${"p".repeat(130)}/x.txt`;
  const paxRecord = (key: string, value: string) => {
    const body = ` ${key}=${value}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return `${len}${body}`;
  };
  const bytes = Buffer.concat([
    entry("./set/", "5"),
    entry("././@LongLink", "L", gnuName + "\0"),
    entry(gnuName.slice(0, 100), "0", "gnu\n"),
    entry("PaxHeader/x", "x", paxRecord("mtime", "1700000000.5") + paxRecord("path", paxName)),
    entry("set/short", "0", "pax\n"),
    entry("x.txt", "0", "prefix\n", "set/from/prefix"),
    entry("./set/dot.txt", "0", "dot\n"),
    entry("set/after.txt", "0", "the long name applied to one entry only\n"),
    END,
  ]);
  for (const gzip of [true, false]) {
    const out = tempDir("fastbook-out-");
    assert.equal(await extractTar(archiveFile(bytes, gzip), out), 5);
    assert.deepEqual([...contents(out)].map(([f, b]) => [f, b.toString()]), [
      ["set/after.txt", "the long name applied to one entry only\n"],
      ["set/dot.txt", "dot\n"],
      ["set/from/prefix/x.txt", "prefix\n"],
      [gnuName, "gnu\n"],
      [paxName, "pax\n"],
    ].sort(([a], [b]) => (a! < b! ? -1 : 1)));
  }
});

/** extractTar's error for these tar bytes, and what it left under its folder. */
async function refusal(bytes: Buffer): Promise<{ error: Error; left: string[]; outside: string[] }> {
  const parent = tempDir("fastbook-out-");
  const out = path.join(parent, "root");
  fs.mkdirSync(out);
  const error = await extractTar(archiveFile(bytes), out).then(() => assert.fail("the archive was accepted"), (e: Error) => e);
  return { error, left: listTree(out), outside: fs.readdirSync(parent).filter((f) => f !== "root") };
}

test("refuses names that leave the folder, links and devices, naming the entry", async () => {
  for (const [bad, message] of [
    [entry("../escaped.txt", "0", "x"), /names a path outside its folder \(\.\.\/escaped\.txt\)/],
    [entry("set/../../escaped.txt", "0", "x"), /outside its folder \(set\/\.\.\/\.\.\/escaped\.txt\)/],
    [entry("/tmp/absolute.txt", "0", "x"), /outside its folder \(\/tmp\/absolute\.txt\)/],
    [entry("set/link", "2"), /holds a symbolic link \(set\/link\); a data set archive holds only files and folders/],
    [entry("set/hard", "1"), /holds a hard link \(set\/hard\)/],
    [entry("set/dev", "3"), /holds an entry of type "3" \(set\/dev\)/],
  ] as const) {
    const { error, outside } = await refusal(Buffer.concat([entry("set/ok.txt", "0", "ok"), bad, END]));
    assert.ok(error instanceof TarFormatError, String(error));
    assert.match(error.message, message);
    assert.deepEqual(outside, [], "nothing written outside the folder");
  }
});

test("refuses archives cut short or damaged, so that no partial unpack passes as complete", async () => {
  const whole = Buffer.concat([entry("set/a.txt", "0", "a".repeat(600)), entry("set/b.txt", "0", "b"), END]);
  // Cut after the first entry: a valid gzip of a tar without its end.
  let r = await refusal(whole.subarray(0, 1536));
  assert.match(r.error.message, /stops without its end-of-archive block \(the archive is cut short\)/);
  // Cut inside the second entry's data.
  r = await refusal(whole.subarray(0, 1536 + 512));
  assert.match(r.error.message, /stops in the middle of an entry/);
  // A header whose bytes changed after its checksum was written.
  const damaged = Buffer.from(whole);
  damaged[1536 + 4] ^= 1;
  r = await refusal(damaged);
  assert.match(r.error.message, /a tar header fails its checksum \(not a tar archive, or a damaged one\)/);
  // Not a tar at all.
  r = await refusal(Buffer.from("just some text, gzipped\n".repeat(40)));
  assert.match(r.error.message, /fails its checksum/);
  // A gzip stream cut in half: zlib's own error.
  const file = archiveFile(whole);
  const gz = fs.readFileSync(file);
  fs.writeFileSync(file, gz.subarray(0, gz.length >> 1));
  await assert.rejects(extractTar(file, tempDir()), /unexpected end of file/);
});

test("a size field that is not octal is refused with the field named", async () => {
  const h = header("set/a.txt", "0", 1);
  h.write("12x45678901\0", 124);
  let sum = 0;
  h.write(" ".repeat(8), 148);
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  const { error } = await refusal(Buffer.concat([h, Buffer.alloc(512), END]));
  assert.match(error.message, /a tar header's size field is not a number \("12x45678901/);
});
