// Image files to tensors, folder listing order, and images back to PNG.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { ls, openImage, readGray, stackImages, tensorToPng } from "../lib/src/data/images";
import { tf } from "../lib/src/tf";
import { tempDir, writeGrayPng } from "./helpers";

test("openImage gives int32 pixels [height, width] equal to the file's bytes", async () => {
  const file = path.join(tempDir(), "im.png");
  await writeGrayPng(file, 3, 2, [0, 1, 2, 253, 254, 255]);
  const t = await openImage(file);
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(t.dtype, "int32");
  assert.deepEqual(t.arraySync(), [[0, 1, 2], [253, 254, 255]]);
  t.dispose();
});

test("colour images become gray by the luma weights 0.299, 0.587, 0.114", async () => {
  const { Jimp } = await import("jimp");
  const file = path.join(tempDir(), "rgb.png");
  // Pure red, green, blue and white.
  const rgba = Buffer.from([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255]);
  fs.writeFileSync(file, await new Jimp({ width: 4, height: 1, data: rgba }).getBuffer("image/png"));
  assert.deepEqual(Array.from((await readGray(file)).data), [76, 150, 29, 255]);
});

test("openImage with mode rgb gives int32 [height, width, 3]: the file's red, green and blue, alpha dropped", async () => {
  const { Jimp } = await import("jimp");
  const dir = tempDir();
  // Red, green, blue, half-transparent yellow; then a gray, white, black and a colour with alpha 0.
  const rgba = [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 0, 128,
    100, 100, 100, 255, 255, 255, 255, 255, 0, 0, 0, 255, 10, 20, 30, 0];
  const rgb = [[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], [[100, 100, 100], [255, 255, 255], [0, 0, 0], [10, 20, 30]]];
  for (const [name, mime] of [["im.png", "image/png"], ["im.bmp", "image/bmp"]] as const) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, await new Jimp({ width: 4, height: 2, data: Buffer.from(rgba) }).getBuffer(mime));
    const t = await openImage(file, { mode: "rgb" });
    assert.deepEqual(t.shape, [2, 4, 3], name);
    assert.equal(t.dtype, "int32");
    if (mime === "image/png") assert.deepEqual(t.arraySync(), rgb);
    else assert.deepEqual((t.arraySync() as number[][][]).map((r) => r.slice(0, 3)), rgb.map((r) => r.slice(0, 3)), "BMP (no alpha)");
    t.dispose();
  }
  // A gray file in rgb mode: the same value in all three channels, as PIL's convert("RGB").
  const gray = path.join(dir, "gray.png");
  await writeGrayPng(gray, 3, 1, [0, 128, 255]);
  const g = await openImage(gray, { mode: "rgb" });
  assert.deepEqual(g.arraySync(), [[[0, 0, 0], [128, 128, 128], [255, 255, 255]]]);
  g.dispose();
  await assert.rejects(openImage(gray, { mode: "RGB" as "rgb" }), /openImage: mode "RGB" is not known; use "gray" \(the default\) or "rgb"/);
  await assert.rejects(openImage(path.join(dir, "nope.png"), { mode: "rgb" }), /No such image file: .*nope\.png/);
});

test("tensorToPng draws [height, width, 3] in colour: int32 as 0..255, floats as 0..1, clipped", async () => {
  const file = path.join(tempDir(), "colour.png");
  const ints = tf.tensor3d([[[255, 0, 0], [0, 128, 255]], [[300, -5, 7], [1, 2, 3]]], [2, 2, 3], "int32");
  fs.writeFileSync(file, await tensorToPng(ints));
  const back = await openImage(file, { mode: "rgb" });
  assert.deepEqual(back.arraySync(), [[[255, 0, 0], [0, 128, 255]], [[255, 0, 7], [1, 2, 3]]]);
  const floats = tf.tensor3d([[[1, 0.5, 0], [0.2, 1.5, -1]]], [1, 2, 3]);
  fs.writeFileSync(file, await tensorToPng(floats, "gray")); // a colour map does not apply to colour
  const backF = await openImage(file, { mode: "rgb" });
  assert.deepEqual(backF.arraySync(), [[[255, 128, 0], [51, 255, 0]]]);
  tf.dispose([ints, back, floats, backF]);
});

test("a corrupt or missing image file is a clear error naming the file", async () => {
  const dir = tempDir();
  const bad = path.join(dir, "bad.png");
  const good = path.join(dir, "good.png");
  await writeGrayPng(good, 4, 4, new Array(16).fill(9));
  fs.writeFileSync(bad, fs.readFileSync(good).subarray(0, 20)); // PNG signature, then cut off
  await assert.rejects(openImage(bad), (e: Error) => e.message.includes(`Could not decode image ${bad}`) && /corrupt/.test(e.message));
  fs.writeFileSync(bad, "not an image at all");
  await assert.rejects(openImage(bad), /Could not decode image .*bad\.png/);
  await assert.rejects(openImage(path.join(dir, "nope.png")), /No such image file: .*nope\.png/);
  await assert.rejects(stackImages([good, bad]), /bad\.png/);
});

test("ls sorts like fastai's ls().sorted(): by name as text, so 10000 comes right after 10", () => {
  const dir = tempDir();
  for (const n of ["9.png", "10011.png", "10.png", "10000.png", "1.png", "B.png", "a.png"]) fs.writeFileSync(path.join(dir, n), "");
  assert.deepEqual(ls(dir).map((p) => path.basename(p)), ["1.png", "10.png", "10000.png", "10011.png", "9.png", "B.png", "a.png"]);
  assert.equal(ls(dir)[0], path.join(dir, "1.png"));
  assert.throws(() => ls(path.join(dir, "missing")), /No such folder: .*missing/);
});

test("stackImages stacks [N, h, w] float32 in [0, 1], in the order given", async () => {
  const dir = tempDir();
  await writeGrayPng(path.join(dir, "a.png"), 2, 2, [0, 51, 102, 255]);
  await writeGrayPng(path.join(dir, "b.png"), 2, 2, [255, 204, 153, 0]);
  const t = await stackImages([path.join(dir, "b.png"), path.join(dir, "a.png")]);
  assert.deepEqual(t.shape, [2, 2, 2]);
  assert.equal(t.dtype, "float32");
  const v = Array.from(t.dataSync());
  [1, 0.8, 0.6, 0, 0, 0.2, 0.4, 1].forEach((x, i) => assert.ok(Math.abs(v[i] - x) < 1e-6, `value ${i}: ${v[i]} != ${x}`));
  t.dispose();
  await writeGrayPng(path.join(dir, "big.png"), 3, 2, [0, 0, 0, 0, 0, 0]);
  await assert.rejects(stackImages([path.join(dir, "a.png"), path.join(dir, "big.png")]), /big\.png: it is 3x2, the first image is 2x2/);
  await assert.rejects(stackImages([]), /no files/);
});

test("stackImages stops between two files on Kernel > Interrupt (SIGINT) and removes its listener", async () => {
  const dir = tempDir();
  const files = Array.from({ length: 50 }, (_, i) => path.join(dir, `${i}.png`));
  for (const f of files) await writeGrayPng(f, 2, 2, [0, 51, 102, 255]);
  const listeners = process.listenerCount("SIGINT");
  const stacking = stackImages(files, { cache: false });
  await Promise.resolve(); // the loop has read a file and waits at its first checkpoint
  process.emit("SIGINT");
  await assert.rejects(stacking, /stackImages was interrupted after \d+ of 50 images/);
  assert.equal(process.listenerCount("SIGINT"), listeners);
  const t = await stackImages(files, { cache: false }); // and runs to the end when not interrupted
  assert.deepEqual(t.shape, [50, 2, 2]);
  t.dispose();
});

test("tensorToPng scales min..max to the gray range and round-trips through the decoder", async () => {
  const file = path.join(tempDir(), "out.png");
  const t = tf.tensor2d([[0.5, 1], [1.5, 2.5]]);
  fs.writeFileSync(file, await tensorToPng(t, "gray"));
  assert.deepEqual(Array.from((await readGray(file)).data), [0, 64, 128, 255]);
  fs.writeFileSync(file, await tensorToPng(t)); // "Greys": high values dark
  assert.deepEqual(Array.from((await readGray(file)).data), [255, 191, 127, 0]);
  await assert.rejects(tensorToPng(tf.zeros([2, 2, 2])), /must be \[height, width\] \(gray\) or \[height, width, 3\] \(colour\); got shape \[2,2,2\]/);
  t.dispose();
});

test("stackImages caches decoded pixels and notices when a file changes", async () => {
  const dir = tempDir(), cacheDir = path.join(tempDir(), "cache");
  const a = path.join(dir, "a.png"), b = path.join(dir, "b.png");
  await writeGrayPng(a, 2, 1, [0, 255]);
  await writeGrayPng(b, 2, 1, [51, 102]);
  const first = await stackImages([a, b], { cacheDir });
  assert.equal(fs.readdirSync(cacheDir).length, 1, "one cache entry written");
  const stats = fs.statSync(a);
  const again = await stackImages([a, b], { cacheDir });
  assert.deepEqual(again.arraySync(), first.arraySync());
  // A changed file (new content, new mtime) is decoded again.
  await writeGrayPng(a, 2, 1, [255, 0]);
  fs.utimesSync(a, stats.atime, new Date(stats.mtimeMs + 5000));
  const changed = await stackImages([a, b], { cacheDir });
  assert.deepEqual(Array.from(changed.dataSync(), (v) => Math.round(v * 255)), [255, 0, 51, 102]);
  assert.equal(fs.readdirSync(cacheDir).length, 2);
  // cache: false neither reads nor writes.
  await stackImages([b], { cacheDir, cache: false });
  assert.equal(fs.readdirSync(cacheDir).length, 2);
  // A damaged entry (cut short) is not trusted: the images are decoded again and the entry rewritten.
  const entries = fs.readdirSync(cacheDir).map((n) => path.join(cacheDir, n));
  const entry = entries.sort((p, q) => fs.statSync(q).mtimeMs - fs.statSync(p).mtimeMs)[0]; // the changed files' entry
  const memory = tf.memory().numTensors;
  fs.truncateSync(entry, 5);
  const repaired = await stackImages([a, b], { cacheDir });
  assert.deepEqual(Array.from(repaired.dataSync(), (v) => Math.round(v * 255)), [255, 0, 51, 102]);
  assert.equal(fs.statSync(entry).size, 4 * 4, "rewritten whole");
  assert.equal(tf.memory().numTensors, memory + 1, "only the result is left");
  tf.dispose([first, again, changed, repaired]);
});

test("stackImages removes cache files half-written by a killed process, not those of a running one", async (t) => {
  const dir = tempDir(), cacheDir = path.join(tempDir(), "cache");
  const a = path.join(dir, "a.png");
  await writeGrayPng(a, 2, 1, [0, 255]);
  const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
  const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
  t.after(() => live.kill("SIGKILL"));
  fs.mkdirSync(cacheDir);
  const deadTmp = path.join(cacheDir, `abc-1x2x2.f32.tmp-${dead}`), liveTmp = path.join(cacheDir, `abc-1x2x2.f32.tmp-${live.pid}`);
  fs.writeFileSync(deadTmp, Buffer.alloc(1000));
  fs.writeFileSync(liveTmp, Buffer.alloc(10));
  const log = t.mock.method(console, "log", () => {});
  (await stackImages([a], { cacheDir })).dispose();
  assert.ok(!fs.existsSync(deadTmp));
  assert.ok(fs.existsSync(liveTmp));
  assert.match(String(log.mock.calls[0]?.arguments[0]), /Removed a leftover of an interrupted run \(1000 B\): abc-1x2x2\.f32\.tmp-/);
});
