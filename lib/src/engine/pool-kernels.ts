// max-pool's gradient on the wasm backend, as one pass over the output; and the mean over middle axes
// (global average pooling) with its gradient as one pass each.
//
// The wasm backend's MaxPoolGrad visits every input pixel and searches the windows that cover it: about
// 200 ms for ResNet's first max-pool on a batch of 64 MNIST images. Here each output pixel finds the
// largest value of its window once and adds its gradient there, as PyTorch does (the first largest value
// in row order, never padding): a few milliseconds.
import { tf } from "../tf";
import { heapView, offsetOf, type KernelArgs, type WasmBackend } from "./wasm-heap";
import { isOverridden, originalGradient, originalKernel, overrideGradient, overrideKernel } from "./registry";
import { convLoops, type Heap } from "./blas-conv";

type PoolAttrs = { filterSize: number | [number, number]; strides: number | [number, number]; pad: "same" | "valid" | number; dimRoundingMode?: "floor" | "round" | "ceil" };

/** dx for dy = the gradient at the output of maxPool(x), NHWC float32; every other pixel's gradient is 0. */
function maxPoolGrad(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const dx = backend.makeOutput(x.shape, "float32");
  // Views made after makeOutput, whose allocation may have moved the heap.
  const xs = heapView(backend, x) as Float32Array, g = heapView(backend, dy) as Float32Array, out = heapView(backend, dx) as Float32Array;
  out.fill(0);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const kh = info.filterHeight, kw = info.filterWidth, top = info.padInfo.top, left = info.padInfo.left;
  if (kh === 2 && kw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0 && 2 * oh <= h && 2 * ow <= w) {
    // The common 2x2 pool with stride 2 (a U-Net's): four candidates per value, in the same order and with the
    // same rule as below, without the per-window bookkeeping.
    for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      const p00 = ((b * h + 2 * i) * w + 2 * j) * c, p10 = p00 + w * c, gAt = ((b * oh + i) * ow + j) * c;
      for (let ch = 0; ch < c; ch++) {
        const q0 = p00 + ch, q1 = q0 + c, q2 = p10 + ch, q3 = q2 + c;
        let k = q0, top = xs[q0]!, v = xs[q1]!;
        if (v > top || v !== v) { top = v; k = q1; }
        v = xs[q2]!;
        if (v > top || v !== v) { top = v; k = q2; }
        v = xs[q3]!;
        if (v > top || v !== v) k = q3;
        out[k] += g[gAt + ch]!;
      }
    }
    return dx;
  }
  // Channels innermost, as they lie in memory: the best value and its index so far, per channel.
  const best = new Float32Array(c), at = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      const r0 = Math.max(i * sh - top, 0), r1 = Math.min(i * sh - top + kh, h);
      for (let j = 0; j < ow; j++) {
        const c0 = Math.max(j * sw - left, 0), c1 = Math.min(j * sw - left + kw, w);
        if (r0 >= r1 || c0 >= c1) continue; // a window of padding only
        best.fill(-Infinity);
        at.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let s = c0; s < c1; s++) {
            const base = ((b * h + r) * w + s) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = xs[base + ch];
              if (v > best[ch] || at[ch] < 0 || v !== v) { best[ch] = v; at[ch] = base + ch; } // v !== v: NaN wins
            }
          }
        }
        const gAt = ((b * oh + i) * ow + j) * c;
        for (let ch = 0; ch < c; ch++) out[at[ch]] += g[gAt + ch];
      }
    }
  }
  return dx;
}

/** Puts the kernel above behind MaxPoolGrad on wasm; other dtypes and dilated windows keep the original. */
export function useMaxPoolGradOnWasm(): void {
  const original = originalKernel("MaxPoolGrad", "wasm");
  if (!original) return;
  overrideKernel("MaxPoolGrad", "wasm", (args: KernelArgs) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const a = args.attrs as unknown as PoolAttrs;
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    const sameShape = dy.shape.length === 4 && dy.shape.every((d, i) => d === info.outShape[i]);
    if (input.dtype !== "float32" || dy.dtype !== "float32" || !sameShape) return original.kernelFunc(args);
    return maxPoolGrad(args.backend as unknown as WasmBackend, input, dy, info);
  });
}

const MEAN_GRAD = "FastbookMeanMiddleGrad";
const product = (dims: number[]) => dims.reduce((p, d) => p * d, 1);

/**
 * [outer, mid, inner] when the mean's axes are one run of middle axes (never the last) and inner is a multiple
 * of 4: GlobalAvgPool's mean over height and width of [N, H, W, C]. Undefined for any other mean.
 */
function middleAxes(shape: number[], axis: number | number[]): [number, number, number] | undefined {
  const axes = tf.util.parseAxisParam(axis, shape).slice().sort((p, q) => p - q);
  if (axes.length === 0) return undefined;
  const first = axes[0]!, last = axes[axes.length - 1]!;
  if (last - first + 1 !== axes.length || last >= shape.length - 1) return undefined;
  const outer = product(shape.slice(0, first)), mid = product(shape.slice(first, last + 1)), inner = product(shape.slice(last + 1));
  return inner % 4 === 0 && mid > 0 ? [outer, mid, inner] : undefined;
}

/**
 * tf.mean over middle axes (GlobalAvgPool) as one SIMD pass on wasm, and its gradient (dy spread over the
 * averaged axes, divided by their size) as another. The wasm backend transposes the averaged axes to the end
 * first (120 µs for the 04b CNN's [256, 2, 2, 32]), and TensorFlow.js's gradient is a reshape, a broadcasting
 * multiply by ones and a division. The mean sums in float32 and then divides, where the cpu backend divides
 * each value first and sums in float64: the two agree to float32 rounding. The gradient is cpu's to the last bit.
 */
export function useMeanKernelsOnWasm(): void {
  const original = originalKernel("Mean", "wasm"), originalGrad = originalGradient("Mean");
  if (!original || !originalGrad) return;
  overrideKernel("Mean", "wasm", (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const split = x.dtype === "float32" ? middleAxes(x.shape, axis) : undefined;
    if (!split) return original.kernelFunc(args);
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const backend = args.backend as unknown as Heap;
    const out = backend.makeOutput(keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i)), "float32");
    if (split[0] * split[2] > 0) convLoops(backend).meanMiddle(offsetOf(backend, x), offsetOf(backend, out), ...split);
    return out;
  });
  overrideKernel(MEAN_GRAD, "wasm", (args: KernelArgs) => {
    const { dy } = args.inputs as { dy: tf.TensorInfo };
    const { shape, axis } = args.attrs as unknown as { shape: number[]; axis: number | number[] };
    const backend = args.backend as unknown as Heap;
    const out = backend.makeOutput(shape, "float32");
    const split = middleAxes(shape, axis)!;
    if (product(shape) > 0) convLoops(backend).spreadMiddle(offsetOf(backend, dy), offsetOf(backend, out), ...split);
    return out;
  });
  overrideGradient({
    ...originalGrad,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const d = dy as tf.Tensor;
      const { axis } = attrs as unknown as { axis: number | number[] };
      const split = middleAxes(x.shape, axis);
      if (tf.getBackend() !== "wasm" || !isOverridden(MEAN_GRAD, "wasm") || x.dtype !== "float32" || d.dtype !== "float32" || !split ||
          d.size * split[1] !== x.size) {
        return originalGrad.gradFunc(dy, saved, attrs);
      }
      return { x: () => tf.engine().runKernel(MEAN_GRAD, { dy: d }, { shape: x.shape, axis } as unknown as tf.NamedAttrMap) as tf.Tensor };
    },
  });
}
