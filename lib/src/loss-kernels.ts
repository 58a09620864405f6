// The chapter's two training losses as single kernels on the wasm backend, each with a one-kernel
// gradient. Written with plain ops, a loss and its gradient are a score of tiny kernels (logSoftmax alone
// is six, plus oneHot, casts, sums, means and all their gradients); on batches of 256 each costs more in
// bookkeeping than in arithmetic. The values are the same (tests compare them with the plain ops on cpu).
import { tf } from "./tf";
import { heapView, type WasmBackend } from "./wasm-heap";

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const CE = "FastbookSoftmaxCrossEntropy", CE_GRAD = "FastbookSoftmaxCrossEntropyGrad";
const MNIST = "FastbookMnistLoss", MNIST_GRAD = "FastbookMnistLossGrad";

/** Mean over rows of -log softmax(logits)[label]; also returns the softmax, which the gradient needs. */
function softmaxCrossEntropy(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { logits, labels } = args.inputs as { logits: tf.TensorInfo; labels: tf.TensorInfo };
  const [n, c] = logits.shape;
  const loss = backend.makeOutput([], "float32"), probs = backend.makeOutput([n, c], "float32");
  const x = heapView(backend, logits), y = heapView(backend, labels), p = heapView(backend, probs);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const label = y[i], row = i * c;
    if (!(label >= 0 && label < c)) {
      throw new Error(`crossEntropy: target ${label} (row ${i}) is not a class index in 0..${c - 1}.`);
    }
    let max = -Infinity;
    for (let j = 0; j < c; j++) if (x[row + j] > max) max = x[row + j];
    let sum = 0;
    for (let j = 0; j < c; j++) sum += (p[row + j] = Math.exp(x[row + j] - max));
    for (let j = 0; j < c; j++) p[row + j] /= sum;
    total += max + Math.log(sum) - x[row + label];
  }
  heapView(backend, loss)[0] = n ? total / n : NaN;
  return [loss, probs];
}

/** d loss / d logits = (softmax - onehot(label)) · dy / n. */
function softmaxCrossEntropyGrad(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { probs, labels, dy } = args.inputs as { probs: tf.TensorInfo; labels: tf.TensorInfo; dy: tf.TensorInfo };
  const [n, c] = probs.shape;
  const out = backend.makeOutput([n, c], "float32");
  const p = heapView(backend, probs), y = heapView(backend, labels), d = heapView(backend, out);
  const scale = heapView(backend, dy)[0] / n;
  for (let i = 0; i < n * c; i++) d[i] = p[i] * scale;
  for (let i = 0; i < n; i++) d[i * c + y[i]] -= scale;
  return out;
}

/** mean(where(t = 1, 1 - σ(x), σ(x))); also returns σ(x) for the gradient. */
function mnistLossKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { logits, targets } = args.inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
  const loss = backend.makeOutput([], "float32"), sig = backend.makeOutput(logits.shape, "float32");
  const x = heapView(backend, logits), t = heapView(backend, targets), s = heapView(backend, sig);
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const v = (s[i] = 1 / (1 + Math.exp(-x[i])));
    total += t[i] === 1 ? 1 - v : v;
  }
  heapView(backend, loss)[0] = x.length ? total / x.length : NaN;
  return [loss, sig];
}

/** d loss / d x = ∓σ(x)(1 - σ(x)) · dy / n: minus where the target is 1. */
function mnistLossGrad(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { sig, targets, dy } = args.inputs as { sig: tf.TensorInfo; targets: tf.TensorInfo; dy: tf.TensorInfo };
  const out = backend.makeOutput(sig.shape, "float32");
  const s = heapView(backend, sig), t = heapView(backend, targets), d = heapView(backend, out);
  const scale = heapView(backend, dy)[0] / s.length;
  for (let i = 0; i < s.length; i++) d[i] = (t[i] === 1 ? -scale : scale) * s[i] * (1 - s[i]);
  return out;
}

let registered = false;
function register(): void {
  if (registered) return;
  registered = true;
  const kernels: [string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]][] = [
    [CE, softmaxCrossEntropy], [CE_GRAD, softmaxCrossEntropyGrad], [MNIST, mnistLossKernel], [MNIST_GRAD, mnistLossGrad],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

/** Whether the single-kernel losses apply: wasm, float32 values. */
export const fastLossesApply = (x: tf.Tensor) => tf.getBackend() === "wasm" && x.dtype === "float32";

type CustomGradFunc = Parameters<typeof tf.customGrad>[0];

const run = (name: string, inputs: Record<string, tf.Tensor>) => tf.engine().runKernel(name, inputs, {}) as unknown as tf.Tensor | tf.Tensor[];

/** crossEntropy's fast form: logits [n, c], labels int32 [n]. */
export function fastCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  register();
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const [loss, probs] = run(CE, { logits: x, labels }) as tf.Tensor[];
    save([probs, labels]);
    return { value: loss, gradFunc: (dy: tf.Tensor, [p, y]: tf.Tensor[]) => run(CE_GRAD, { probs: p, labels: y, dy }) as tf.Tensor };
  }) as CustomGradFunc);
  return f(logits) as tf.Scalar;
}

/** mnistLoss's fast form: logits and float32 targets of the same size. */
export function fastMnistLoss(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  register();
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const [loss, sig] = run(MNIST, { logits: x, targets }) as tf.Tensor[];
    save([sig, targets]);
    return { value: loss, gradFunc: (dy: tf.Tensor, [s, t]: tf.Tensor[]) => run(MNIST_GRAD, { sig: s, targets: t, dy }) as tf.Tensor };
  }) as CustomGradFunc);
  return f(logits) as tf.Scalar;
}
