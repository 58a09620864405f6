// BatchNorm in training mode as two kernels on the wasm backend: the forward (the batch's statistics and the
// normalised, scaled and shifted output) and its gradient (all three gradients at once). Written with plain
// ops, each direction is about eight elementwise kernels with broadcasting, each a full pass over the
// activations; at 128x128 with few channels they cost more than the convolutions around them. Here the
// forward reads x twice and writes y once, the gradient reads dy and x twice and writes dx once, in the
// wasm loops of conv-loops.wat (four channels at a time, so channel counts divisible by 4). The formulas
// are nn.ts's, channels last; per-channel sums end in float64, the per-channel factors are computed in float64.
import { tf } from "../tf";
import { heapView, offsetOf, type KernelArgs } from "./wasm-heap";
import { isOverridden, overrideKernel } from "./registry";
import { convLoops, perChannel, type Heap } from "./blas-conv";

const BN = "FastbookBatchNormTrain", BN_GRAD = "FastbookBatchNormTrainGrad";

/** y = (x − mean)/√(var + eps) · weight + bias with the batch's mean and (biased) variance; outputs y, mean, variance. */
function batchNormTrain(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as unknown as Heap;
  const { x, weight, bias } = args.inputs as { x: tf.TensorInfo; weight: tf.TensorInfo; bias: tf.TensorInfo };
  const { eps } = args.attrs as { eps: number };
  const c = x.shape[x.shape.length - 1]!, pixels = x.shape.reduce((a, b) => a * b, 1) / c;
  const y = backend.makeOutput(x.shape, "float32"), meanOut = backend.makeOutput([c], "float32"), varOut = backend.makeOutput([c], "float32");
  const run = convLoops(backend), v = perChannel(backend, c, 4); // sums (f64), mean (f32), scale, shift (f32)
  run.channelDots(offsetOf(backend, x), 0, 0, 0, pixels, c, v.at(0));
  const mean = v.f64(0).map((s) => s / pixels);
  v.f32(1).set(mean);
  run.channelDots(offsetOf(backend, x), offsetOf(backend, x), v.at(1), v.at(1), pixels, c, v.at(0));
  // The mean's float32 rounding shifted every deviation alike: take that shift's square back out.
  const meanError = v.f32(1).map((m32, ch) => m32 - mean[ch]!);
  const variance = v.f64(0).map((s, ch) => Math.max(0, s / pixels - meanError[ch]! ** 2));
  const w = heapView(backend, weight), b = heapView(backend, bias);
  const scale = variance.map((s, ch) => w[ch]! / Math.sqrt(s + eps));
  v.f32(2).set(scale);
  v.f32(3).set(mean.map((m, ch) => b[ch]! - m * scale[ch]!));
  run.channelAffine(offsetOf(backend, x), 0, offsetOf(backend, y), v.at(2), 0, v.at(3), pixels, c);
  (heapView(backend, meanOut) as Float32Array).set(mean);
  (heapView(backend, varOut) as Float32Array).set(variance);
  v.done();
  return [y, meanOut, varOut];
}

/**
 * With x̂ = (x − mean)/√(var + eps): dbias = Σ dy, dweight = Σ dy·x̂, dx = weight/√(var + eps) · (dy − dbias/n − x̂·dweight/n).
 */
function batchNormTrainGrad(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as unknown as Heap;
  const { dy, x, weight, mean, variance } = args.inputs as Record<string, tf.TensorInfo>;
  const { eps } = args.attrs as { eps: number };
  const c = x!.shape[x!.shape.length - 1]!, n = x!.shape.reduce((a, b) => a * b, 1) / c;
  const dx = backend.makeOutput(x!.shape, "float32"), dw = backend.makeOutput([c], "float32"), db = backend.makeOutput([c], "float32");
  const run = convLoops(backend), v = perChannel(backend, c, 5); // sums (f64), zeros, a, k, k0 (f32)
  const m = Float64Array.from(heapView(backend, mean!)), w = heapView(backend, weight!);
  const rstd = Float64Array.from(heapView(backend, variance!), (s) => 1 / Math.sqrt(s + eps));
  run.channelDots(offsetOf(backend, dy!), 0, 0, 0, n, c, v.at(0));
  const dbias = v.f64(0).slice();
  v.f32(1).fill(0);
  run.channelDots(offsetOf(backend, dy!), offsetOf(backend, x!), v.at(1), offsetOf(backend, mean!), n, c, v.at(0));
  const dweight = v.f64(0).map((s, ch) => s * rstd[ch]!);
  // dx = a·dy + k·x + k0 per channel, with a = w·rstd, k = −a·rstd·dweight/n, k0 = −a·dbias/n − k·mean.
  const a = rstd.map((r, ch) => w[ch]! * r), k = a.map((ac, ch) => -ac * rstd[ch]! * dweight[ch]! / n);
  v.f32(2).set(a);
  v.f32(3).set(k);
  v.f32(4).set(a.map((ac, ch) => -ac * dbias[ch]! / n - k[ch]! * m[ch]!));
  run.channelAffine(offsetOf(backend, dy!), offsetOf(backend, x!), offsetOf(backend, dx), v.at(2), v.at(3), v.at(4), n, c);
  (heapView(backend, dw) as Float32Array).set(dweight);
  (heapView(backend, db) as Float32Array).set(dbias);
  v.done();
  return [dx, dw, db];
}

/** Registers the two kernels on wasm. */
export function useBatchNormKernelsOnWasm(): void {
  overrideKernel(BN, "wasm", batchNormTrain);
  overrideKernel(BN_GRAD, "wasm", batchNormTrainGrad);
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: object) =>
  tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as unknown as tf.Tensor[];

/**
 * BatchNorm's training-mode forward (x channels last, float32, channels divisible by 4) as one kernel with a
 * one-kernel gradient; `onStats` receives the batch's mean and biased variance. Undefined where it does not apply.
 */
export function fastBatchNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number,
  onStats: (mean: tf.Tensor, variance: tf.Tensor) => void): tf.Tensor | undefined {
  if (tf.getBackend() !== "wasm" || x.dtype !== "float32" || x.shape[x.rank - 1]! % 4 !== 0 || !isOverridden(BN, "wasm")) return undefined;
  const norm = tf.customGrad((...args: unknown[]) => {
    const [xs, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, variance] = run(BN, { x: xs, weight: w, bias: b }, { eps });
    onStats(mean!, variance!);
    save([xs, w, mean!, variance!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw, sm, sv] = saved;
        return run(BN_GRAD, { dy, x: sx!, weight: sw!, mean: sm!, variance: sv! }, { eps });
      },
    };
  });
  return norm(x, weight, bias);
}
