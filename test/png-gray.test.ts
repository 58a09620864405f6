// The direct 8-bit gray PNG decoder (lib/src/data/png-gray.ts) against pngjs, the general decoder: every
// row filter, odd sizes, several IDAT chunks, the other PNG types it must leave alone, and broken files.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { PNG } from "pngjs";
import { decodeGray8Png } from "../lib/src/data/png-gray";
import { ls, readGray } from "../lib/src/data/images";
import { skipUnlessMnist, slow } from "./helpers";
import { untarData } from "../lib/src/data/untar";
import { URLs } from "../lib/src/data/urls";

/** A gray PNG written by pngjs with one filter type for every row (or its adaptive choice: -1). */
function grayPng(width: number, height: number, pixels: Uint8Array, filterType: number, colorType = 0): Buffer {
  const png = new PNG({ width, height, colorType, inputColorType: 0, bitDepth: 8, inputHasAlpha: false, filterType } as never);
  png.data = Buffer.from(pixels);
  return PNG.sync.write(png, { colorType, inputColorType: 0, inputHasAlpha: false, filterType } as never);
}

function pixels(n: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : (s = (s * 1103515245 + 12345) >>> 0) >>> 24));
}

test("decodes every PNG row filter to the same pixels pngjs gives, for odd sizes too", () => {
  for (const [w, h] of [[28, 28], [1, 1], [5, 3], [17, 9]]) {
    const px = pixels(w * h, w * 31 + h);
    for (const filter of [-1, 0, 1, 2, 3, 4]) {
      const file = grayPng(w, h, px, filter);
      if (filter >= 0) {
        const at = file.indexOf("IDAT");
        const raw = zlib.inflateSync(file.subarray(at + 4, at + 4 + file.readUInt32BE(at - 4)));
        assert.equal(raw[0], filter, "the file really uses that filter");
      }
      const ours = decodeGray8Png(file);
      assert.ok(ours, `${w}x${h} filter ${filter} is our flavour`);
      assert.deepEqual([ours.width, ours.height], [w, h]);
      assert.deepEqual(Array.from(ours.data), Array.from(px), `${w}x${h}, filter ${filter}`);
    }
  }
});

test("image data split over several IDAT chunks is joined", () => {
  const px = pixels(20 * 20, 3);
  const file = grayPng(20, 20, px, 4);
  // Cut the one IDAT chunk into two (lengths fixed up; the decoder skips CRCs).
  const at = file.indexOf("IDAT") - 4, len = file.readUInt32BE(at), body = at + 8, half = Math.floor(len / 2);
  const chunk = (data: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from("IDAT"), data, Buffer.alloc(4)]);
  const c1 = chunk(file.subarray(body, body + half)), c2 = chunk(file.subarray(body + half, body + len));
  c1.writeUInt32BE(half, 0);
  c2.writeUInt32BE(len - half, 0);
  const split = Buffer.concat([file.subarray(0, at), c1, c2, file.subarray(body + len + 4)]);
  assert.deepEqual(Array.from(decodeGray8Png(split)!.data), Array.from(px));
});

test("other PNG types are left to the general decoder; non-PNG bytes are not PNGs", () => {
  const rgb = new PNG({ width: 2, height: 2 });
  rgb.data = Buffer.from([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 9, 9, 9, 255]);
  assert.equal(decodeGray8Png(PNG.sync.write(rgb)), undefined, "RGBA");
  assert.equal(decodeGray8Png(Buffer.from("not a png at all")), undefined);
});

test("broken files fail with a reason: truncated, wrong size, bad filter byte", () => {
  const file = grayPng(28, 28, pixels(784, 5), 1);
  assert.throws(() => decodeGray8Png(file.subarray(0, 60)), /runs past the end|truncated/);
  const wrongSize = Buffer.from(file);
  wrongSize.writeUInt32BE(27, 16); // IHDR width 28 -> 27
  assert.throws(() => decodeGray8Png(wrongSize), /holds \d+ bytes where 27x28 needs/);
  const raw = Buffer.alloc(2 * 3, 0);
  raw[3] = 9; // row 1's filter byte
  const badFilter = grayPng(2, 2, Uint8Array.from([1, 2, 3, 4]), 0);
  const at = badFilter.indexOf("IDAT") - 4;
  const idat = zlib.deflateSync(raw);
  const chunk = Buffer.concat([Buffer.alloc(4), Buffer.from("IDAT"), idat, Buffer.alloc(4)]);
  chunk.writeUInt32BE(idat.length, 0);
  const rebuilt = Buffer.concat([badFilter.subarray(0, at), chunk, badFilter.subarray(badFilter.indexOf("IEND") - 4)]);
  assert.throws(() => decodeGray8Png(rebuilt), /unknown filter type 9/);
});

test("on real MNIST_SAMPLE files, readGray gives pngjs's pixels", slow, async (t) => {
  const skip = await skipUnlessMnist();
  if (skip) return t.skip(skip);
  const sample = await untarData(URLs.MNIST_SAMPLE);
  const files = [...ls(path.join(sample, "train", "3")).slice(0, 200), ...ls(path.join(sample, "valid", "7")).slice(0, 200)];
  for (const f of files) {
    const ref = PNG.sync.read(require("node:fs").readFileSync(f));
    const ours = await readGray(f);
    assert.deepEqual(Array.from(ours.data), Array.from(ref.data.filter((_: number, i: number) => i % 4 === 0)), f);
  }
});
