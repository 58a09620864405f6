// max-pool's gradient on the wasm backend, as one pass over the output.
//
// The wasm backend's MaxPoolGrad visits every input pixel and searches the windows that cover it: about
// 200 ms for ResNet's first max-pool on a batch of 64 MNIST images. Here each output pixel finds the
// largest value of its window once and adds its gradient there, as PyTorch does (the first largest value
// in row order, never padding): a few milliseconds.
import { tf } from "../tf";
import { heapView, type KernelArgs, type WasmBackend } from "./wasm-heap";
import { originalKernel, overrideKernel } from "./registry";

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
