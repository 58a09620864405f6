// visionLearner: resnet18's body and fastai's head, sized from the loaders; pretrained weights refused.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import {
  tf, initBackend, AdaptiveConcatPool2d, BatchNorm1d, buffersOf, countParameters, Dropout, Flatten, Linear, ReLU, Sequential, resnet18,
  visionLearner, DataLoaders, crossEntropy, accuracy, Adam,
} from "../lib/src/index";

/** Loaders over n random images [h, w, channels] of `c` classes, with what visionLearner reads from ImageDataLoaders. */
function imageLoaders(n: number, size: number, channels: number, c: number) {
  const x = tf.randomUniform([n, size, size, channels], 0, 1, "float32", 1);
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => i % c), "int32");
  return Object.assign(DataLoaders.fromTensors(x, y, x, y, { bs: 4, seed: 1 }), { c, trainDs: { x, y } });
}

const dispose = (m: tf.Tensor[]) => tf.dispose(m);

test("visionLearner: resnet18's body for the loaders' channels, then fastai's head for their classes, trained with Adam", async () => {
  await initBackend("wasm");
  const dls = imageLoaders(8, 32, 3, 5);
  const learn = visionLearner(dls, resnet18, { pretrained: false, lossFunc: crossEntropy, metrics: [accuracy], progress: false, seed: 1 });
  const [body, head] = (learn.model as Sequential).layers as [Sequential, Sequential];
  assert.deepEqual(body.parameters()[0].shape, [7, 7, 3, 64], "the stem takes the loaders' 3 channels");
  const bodyRef = resnet18({ inChannels: 3 });
  assert.equal(countParameters(body), countParameters(bodyRef.body));
  dispose([...bodyRef.parameters(), ...buffersOf(bodyRef)]);
  const kinds = [AdaptiveConcatPool2d, Flatten, BatchNorm1d, Dropout, Linear, ReLU, BatchNorm1d, Dropout, Linear];
  assert.equal(head.layers.length, kinds.length);
  head.layers.forEach((l, i) => assert.ok(l instanceof kinds[i], `head layer ${i} is a ${kinds[i].name}`));
  const [bn1, drop1, lin1, , bn2, drop2, lin2] = head.layers.slice(2) as [BatchNorm1d, Dropout, Linear<false>, ReLU, BatchNorm1d, Dropout, Linear<false>];
  assert.deepEqual([bn1.numFeatures, drop1.p, lin1.weight.shape, bn2.numFeatures, drop2.p, lin2.weight.shape],
    [1024, 0.25, [1024, 512], 512, 0.5, [512, 5]]);
  assert.ok(lin1.bias === undefined && lin2.bias === undefined, "no bias after a batch norm");
  assert.equal(countParameters(head), 2 * 1024 + 1024 * 512 + 2 * 512 + 512 * 5);
  assert.equal(learn.optFunc, Adam, "fastai's default optimizer");
  await learn.fit(1, 1e-3);
  const [rec] = learn.recorder.values;
  assert.ok(Number.isFinite(rec.trainLoss) && Number.isFinite(rec.validLoss));
  (learn.model as Sequential).train(false);
  const preds = learn.predict(tf.slice(dls.trainDs.x, 0, 2));
  assert.deepEqual(preds.shape, [2, 5]);
  dispose([preds, ...learn.model.parameters(), ...buffersOf(learn.model), dls.trainDs.x, dls.trainDs.y]);
  learn.opt?.dispose?.();
});

test("visionLearner refuses pretrained weights and loaders it cannot read, saying what to do", () => {
  const gray = imageLoaders(4, 8, 1, 2);
  assert.throws(() => visionLearner(gray, resnet18, { pretrained: true, lossFunc: crossEntropy }),
    /no pretrained weights are available .*pass \{ pretrained: false \}/);
  const rows = Object.assign(DataLoaders.fromTensors(tf.zeros([4, 64]), tf.zeros([4], "int32"), tf.zeros([4, 64]), tf.zeros([4], "int32")), { c: 2, trainDs: { x: tf.zeros([4, 64]) } });
  assert.throws(() => visionLearner(rows, resnet18, { lossFunc: crossEntropy }), /images \[N, height, width, channels\]; the loaders hold \[4,64\].*flatten: false/);
  const bare = Object.assign(DataLoaders.fromTensors(tf.zeros([4, 8, 8, 1]), tf.zeros([4], "int32"), tf.zeros([4, 8, 8, 1]), tf.zeros([4], "int32")), { c: 2 });
  assert.throws(() => visionLearner(bare, resnet18, { lossFunc: crossEntropy }), /pass \{ nIn \}/);
  const learn = visionLearner(bare, resnet18, { lossFunc: crossEntropy, nIn: 1 });
  assert.deepEqual(learn.model.parameters()[0].shape, [7, 7, 1, 64]);
});
