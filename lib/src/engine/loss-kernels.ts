// The chapter's two training losses as single kernels on the wasm backend (webgpu-kernels.ts has them
// for webgpu), each with a one-kernel gradient. Written with plain ops, a loss and its gradient are a
// score of tiny kernels (logSoftmax alone is six, plus oneHot, casts, sums, means and all their
// gradients); on batches of 256 each costs more in bookkeeping than in arithmetic. The values are the
// same (tests compare them with the plain ops on cpu).
import { tf } from "../tf";
import { f32At, heapView, offsetOf, type KernelArgs, type WasmBackend } from "./wasm-heap";
import { convLoops, perChannel, type Heap } from "./blas-conv";
import { isOverridden, overrideGradient, overrideKernel } from "./registry";

// The kernels' names; webgpu-kernels.ts registers the same four on webgpu.
export const CE = "FastbookSoftmaxCrossEntropy", CE_GRAD = "FastbookSoftmaxCrossEntropyGrad";
export const MNIST = "FastbookMnistLoss", MNIST_GRAD = "FastbookMnistLossGrad";

/** Throws where a label is not a class index in 0..c-1. */
function checkLabels(y: ArrayLike<number>, n: number, c: number): void {
  for (let i = 0; i < n; i++) {
    const label = y[i];
    if (!(Number.isInteger(label) && label >= 0 && label < c)) {
      throw new Error(`crossEntropy: target ${label} (row ${i}) is not a class index in 0..${c - 1}.`);
    }
  }
}

/**
 * Mean over rows of -log softmax(logits)[label], and the softmax, which the gradient then reads instead of
 * computing it again. The softmax is made in wasm (conv-loops.wat's softmaxRows, exponentials in float32);
 * each row's loss, max + ln(sum) − logit[label], is summed here in float64.
 */
function softmaxCrossEntropy(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as Heap;
  const { logits, labels } = args.inputs as { logits: tf.TensorInfo; labels: tf.TensorInfo };
  const [n, c] = logits.shape as [number, number];
  checkLabels(heapView(backend, labels), n, c); // before any output is made: a throw leaves nothing behind
  const loss = backend.makeOutput([], "float32"), probs = backend.makeOutput([n, c], "float32");
  if (n === 0 || c === 0) {
    heapView(backend, loss)[0] = NaN;
    return [loss, probs];
  }
  const stats = perChannel(backend, n, 1); // each row's max, then each row's sum
  try {
    convLoops(backend).softmaxRows(offsetOf(backend, logits), offsetOf(backend, probs), stats.at(0), n, c);
    // Views taken after every allocation: an allocation may move the heap.
    const x = heapView(backend, logits), y = heapView(backend, labels), rowStats = f32At(backend, stats.at(0), 2 * n);
    let total = 0;
    for (let i = 0; i < n; i++) total += rowStats[i]! + Math.log(rowStats[n + i]!) - x[i * c + y[i]!]!;
    heapView(backend, loss)[0] = total / n;
  } finally {
    stats.done();
  }
  return [loss, probs];
}

/** d loss / d logits = (softmax − onehot(label)) · dy / n, from the softmax the forward kernel kept. */
function softmaxCrossEntropyGrad(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { probs, labels, dy } = args.inputs as { probs: tf.TensorInfo; labels: tf.TensorInfo; dy: tf.TensorInfo };
  const [n, c] = probs.shape;
  const out = backend.makeOutput([n, c], "float32");
  const y = heapView(backend, labels), d = heapView(backend, out) as Float32Array;
  d.set(heapView(backend, probs));
  const scale = heapView(backend, dy)[0] / n;
  for (let i = 0; i < n * c; i++) d[i] *= scale;
  for (let i = 0; i < n; i++) d[i * c + y[i]] -= scale;
  return out;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** mean(where(t = 1, 1 - σ(x), σ(x))). */
function mnistLossKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { logits, targets } = args.inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
  const loss = backend.makeOutput([], "float32");
  const x = heapView(backend, logits), t = heapView(backend, targets);
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const s = sigmoid(x[i]);
    total += t[i] === 1 ? 1 - s : s;
  }
  heapView(backend, loss)[0] = x.length ? total / x.length : NaN;
  return loss;
}

/** d loss / d x = ∓σ(x)(1 - σ(x)) · dy / n: minus where the target is 1. */
function mnistLossGrad(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { logits, targets, dy } = args.inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo; dy: tf.TensorInfo };
  const out = backend.makeOutput(logits.shape, "float32");
  const x = heapView(backend, logits), t = heapView(backend, targets), d = heapView(backend, out);
  const scale = heapView(backend, dy)[0] / x.length;
  for (let i = 0; i < x.length; i++) {
    const s = sigmoid(x[i]);
    d[i] = (t[i] === 1 ? -scale : scale) * s * (1 - s);
  }
  return out;
}

const run = (name: string, inputs: Record<string, tf.Tensor>) => tf.engine().runKernel(name, inputs, {}) as unknown as tf.Tensor;

/** Registers the four loss kernels on wasm, and the two losses' gradients. */
export function useLossKernelsOnWasm(): void {
  const kernels: [string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]][] = [
    [CE, softmaxCrossEntropy], [CE_GRAD, softmaxCrossEntropyGrad], [MNIST, mnistLossKernel], [MNIST_GRAD, mnistLossGrad],
  ];
  for (const [kernelName, kernelFunc] of kernels) overrideKernel(kernelName, "wasm", kernelFunc);
  useLossGradients();
}

/** The two losses' gradients (gradients are global: each runs the grad kernel of the backend in use). */
export function useLossGradients(): void {
  // The gradient with respect to the logits (first input) is the grad kernel; the targets get none.
  overrideGradient({
    kernelName: CE,
    inputsToSave: ["labels"],
    outputsToSave: [false, true], // the softmax
    gradFunc: (dys, [labels, probs]) => ({
      logits: () => run(CE_GRAD, { probs: probs!, labels: labels!, dy: (dys as tf.Tensor[])[0]! }),
      labels: () => tf.zerosLike(labels!),
    }),
  });
  overrideGradient({
    kernelName: MNIST,
    inputsToSave: ["logits", "targets"],
    gradFunc: (dy, [logits, targets]) => ({
      logits: () => run(MNIST_GRAD, { logits: logits!, targets: targets!, dy: dy as tf.Tensor }),
      targets: () => tf.zerosLike(targets!),
    }),
  });
}

/** `t` as `dtype`: itself when it already is (tf.cast would still run a kernel to copy it). */
const ofType = (t: tf.Tensor, dtype: tf.DataType) => (t.dtype === dtype ? t : tf.cast(t, dtype));

/** Whether the single-kernel losses apply: wasm or webgpu, float32 values, kernels registered there. */
const applies = (x: tf.Tensor) => {
  const backend = tf.getBackend();
  return (backend === "wasm" || backend === "webgpu") && x.dtype === "float32" && isOverridden(CE, backend);
};

/** crossEntropy's fast form (logits [n, c], labels int32 [n]); undefined where it does not apply. */
export function fastCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar | undefined {
  if (!applies(logits)) return undefined;
  const [loss, probs] = tf.engine().runKernel(CE, { logits, labels: ofType(labels, "int32") }, {}) as unknown as [tf.Scalar, tf.Tensor];
  probs.dispose(); // the gradient keeps its own reference to it
  return loss;
}

/** mnistLoss's fast form (logits and targets of the same size); undefined where it does not apply. */
export function fastMnistLoss(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar | undefined {
  return applies(logits) ? run(MNIST, { logits, targets: ofType(targets, "float32") }) as tf.Scalar : undefined;
}
