// Where a small training step's time goes on a backend: what one op costs to dispatch (no waiting for
// the GPU), what a read back costs after one op, and case (b)'s step (784-30-1, batch 256) with its kernel
// count. On a GPU the arithmetic of these ops is microseconds, so the figures are the per-op overheads.
//   TFJS_BACKEND=webgpu node dispatch.cjs        (scripts/gpu/run.sh runs it under --cpu-prof)
import { tf, initBackend, describeBackend, Linear, ReLU, Sequential, mnistLoss } from "fastbook-ts";

function perCall(n: number, body: () => void): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) body();
  return (1000 * (performance.now() - t0)) / n; // µs
}

async function main(): Promise<void> {
  const backend = await initBackend();
  console.log(`dispatch: ${describeBackend(backend)}`);
  const x = tf.randomNormal([256, 30]), w = tf.randomNormal([30, 30]);
  const model = new Sequential(new Linear(784, 30, { seed: 21 }), new ReLU(), new Linear(30, 1, { seed: 22 }));
  const xb = tf.randomUniform([256, 784]), yb = tf.cast(tf.greater(tf.randomUniform([256, 1]), 0.5), "float32");
  const params = model.parameters() as tf.Variable[];
  const step = () => {
    const { value, grads } = tf.variableGrads(() => mnistLoss(model.forward(xb), yb) as tf.Scalar, params);
    tf.tidy(() => { for (const p of params) p.assign(tf.sub(p, tf.mul(grads[p.name], 0.1))); });
    value.dataSync(); // the one host read per batch, as the Learner does
    tf.dispose([value, ...Object.values(grads)]);
  };
  const settle = () => { const t = tf.add(x, 0); t.dataSync(); t.dispose(); };
  for (let i = 0; i < 30; i++) step(); // shaders compiled, V8 warm
  const kernels = (await tf.profile(() => { step(); })).kernels.length;
  for (let round = 0; round < 3; round++) {
    settle();
    const add = perCall(1000, () => tf.add(x, x).dispose());
    settle();
    const matMul = perCall(1000, () => tf.matMul(x, w).dispose());
    settle();
    const read = perCall(200, () => { const y = tf.add(x, x); y.dataSync(); y.dispose(); });
    const stepUs = perCall(50, step);
    console.log(`dispatch: add ${add.toFixed(1)} µs, matMul ${matMul.toFixed(1)} µs to queue; add + read back ${read.toFixed(0)} µs; ` +
      `case (b)'s step ${(stepUs / 1000).toFixed(2)} ms for ${kernels} kernels (${(stepUs / kernels).toFixed(0)} µs a kernel)`);
  }
  tf.dispose([x, w, xb, yb, ...params]);
}

main().catch((e: unknown) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
