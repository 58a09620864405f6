// The pixel-similarity distances, against values worked out by hand.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { l1Distance, mnistDistance, rmseDistance } from "../lib/src/distances";
import { tf } from "../lib/src/tf";
import { assertClose } from "./helpers";

const close = (actual: ArrayLike<number>, expected: number[]) => assertClose(actual, expected, 1e-6);

test("l1Distance and rmseDistance of two 2x2 images", () => {
  const a = tf.tensor2d([[0, 1], [0.5, 0.25]]);
  const b = tf.tensor2d([[1, 1], [0, 0.75]]);
  // |diffs| = 1, 0, 0.5, 0.5 -> mean 0.5; squares 1, 0, 0.25, 0.25 -> mean 0.375 -> sqrt 0.6123724
  close(l1Distance(a, b).dataSync(), [0.5]);
  close(rmseDistance(a, b).dataSync(), [Math.sqrt(0.375)]);
  close(l1Distance(a, a).dataSync(), [0]);
  tf.dispose([a, b]);
});

test("mnistDistance averages over the last two axes and broadcasts a batch against one image", () => {
  const ideal = tf.tensor2d([[0, 0], [1, 1]]);
  const batch = tf.tensor3d([
    [[0, 0], [1, 1]], // identical: 0
    [[1, 1], [0, 0]], // every pixel off by 1: 1
    [[0.5, 0], [1, 0]], // 0.5, 0, 0, 1 -> 0.375
  ]);
  const before = tf.memory().numTensors;
  const d = mnistDistance(batch, ideal);
  assert.equal(tf.memory().numTensors, before + 1, "only the result is left allocated");
  assert.deepEqual(d.shape, [3]);
  close(d.dataSync(), [0, 1, 0.375]);
  tf.dispose([ideal, batch, d]);
});
