// Memory over a long fit: tensor count, tensor bytes and process memory after every epoch of the chapter's
// simple net (784-30-1, batches of 256, lr 0.1) on data shaped like MNIST_SAMPLE (12396 training and 2038
// validation rows of 784 values; synthetic, so no download), then over repeated `new Learner(...).fit`.
//
// usage: npm run memory [-- --epochs 100] [--runs 20] [--backend wasm]
// Exits 1 if the tensor count is not the same after every epoch, or after every repeated run.
import { parseArgs } from "node:util";
import {
  tf, initBackend, describeBackend, Learner, Linear, ReLU, Sequential, DataLoaders, mnistLoss, batchAccuracy, type Callback,
} from "../lib/src/index";

const { values: args } = parseArgs({
  options: { epochs: { type: "string", default: "100" }, runs: { type: "string", default: "20" }, backend: { type: "string" } },
});

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** Two classes of 784-value rows that a linear model can tell apart, labels 0/1 as [n, 1]. */
function data(n: number, seed: number): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const y = tf.cast(tf.greater(tf.randomUniform([n, 1], 0, 1, "float32", seed), 0.5), "float32");
    const x = tf.clipByValue(tf.add(tf.randomUniform([n, 784], 0, 0.6, "float32", seed + 1), tf.mul(y, tf.linspace(-0.3, 0.3, 784).reshape([1, 784]))), 0, 1);
    return [x, y];
  });
}

const simpleNet = () => new Sequential(new Linear(784, 30, { seed: 1 }), new ReLU(), new Linear(30, 1, { seed: 2 }));

async function main(): Promise<void> {
  console.log(describeBackend(await initBackend(args.backend as Parameters<typeof initBackend>[0])));
  const [trainX, trainY] = data(12396, 1), [validX, validY] = data(2038, 3);
  const dls = DataLoaders.fromTensors(trainX, trainY, validX, validY, { bs: 256, seed: 1 });

  const epochs = Number(args.epochs);
  const counts: number[] = [];
  const rss: number[] = [];
  console.log("epoch  tensors  tensor MB  rss MB  heap MB  valid_loss");
  const log: Callback = {
    order: 20,
    afterEpoch: (l) => {
      // With node --expose-gc (NODE_OPTIONS=--expose-gc), heap figures are measured after a full collection.
      (globalThis as { gc?: () => void }).gc?.();
      const m = tf.memory(), p = process.memoryUsage();
      counts.push(m.numTensors);
      rss.push(p.rss);
      const row = l.recorder.values[l.recorder.values.length - 1];
      console.log([String(l.epoch + 1).padStart(5), String(m.numTensors).padStart(7), mb(m.numBytes).padStart(9), mb(p.rss).padStart(6),
        mb(p.heapUsed).padStart(7), row.validLoss.toFixed(6).padStart(11)].join("  "));
    },
  };
  const model = simpleNet();
  await new Learner(dls, model, { lossFunc: mnistLoss, metrics: [batchAccuracy], cbs: [log], progress: false }).fit(epochs, 0.1);
  tf.dispose(model.parameters());
  const flat = new Set(counts).size === 1;
  console.log(`${epochs} epochs: tensor count ${flat ? `flat at ${counts[0]}` : `NOT flat: ${counts[0]} -> ${counts[counts.length - 1]}`}; ` +
    `rss ${mb(rss[0])} MB after epoch 1, ${mb(rss[rss.length - 1])} MB after epoch ${epochs}`);

  const runs = Number(args.runs);
  const after: number[] = [];
  for (let i = 0; i < runs; i++) {
    const m = simpleNet();
    await new Learner(dls, m, { lossFunc: mnistLoss, metrics: [batchAccuracy], progress: false }).fit(1, 0.1);
    tf.dispose(m.parameters());
    after.push(tf.memory().numTensors);
  }
  const runsFlat = new Set(after).size === 1;
  console.log(`${runs} x new Learner(...).fit(1) with the model's parameters disposed: tensor count ` +
    `${runsFlat ? `flat at ${after[0]}` : `NOT flat: ${after.join(", ")}`}; rss ${mb(process.memoryUsage().rss)} MB`);
  tf.dispose([trainX, trainY, validX, validY]);
  if (!flat || !runsFlat) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
