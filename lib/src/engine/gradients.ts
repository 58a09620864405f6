// Gradients that the wasm backend computes slowly or not at all, rewritten as other ops. Each keeps the
// values of TensorFlow.js's own gradient (test/engine.test.ts checks them against `cpu`).
import { tf } from "../tf";
import { usingBlas } from "./blas";
import { isOverridden, originalGradient, overrideGradient, overrideKernel } from "./registry";
import { offsetOf, type KernelArgs } from "./wasm-heap";
import { convLoops, type Heap } from "./blas-conv";
/**
 * The wasm backend's matMul costs roughly the same per *output* element whatever the inner size, and its
 * transposed-operand path is slower still. The gradient of a·b with respect to b (a weight) is aᵀ·dy;
 * computing it as (dyᵀ·a)ᵀ with explicit transposes is about twice as fast there. Other backends keep
 * TensorFlow.js's own gradient, and so does wasm where OpenBLAS does its products (blas.ts).
 */
export function useFastMatMulGradient(): void {
  const original = originalGradient("BatchMatMul");
  if (!original) return;
  overrideGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const grads = original.gradFunc(dy, saved, attrs);
      if (tf.getBackend() !== "wasm" || usingBlas() || transposeA || transposeB || (dy as tf.Tensor).rank !== 2) return grads;
      const [a] = saved;
      return { ...grads, b: () => tf.transpose(tf.matMul(tf.transpose(dy as tf.Tensor2D), a as tf.Tensor2D)) };
    },
  });
}

/** TensorFlow's "same"/"valid" padding along one axis: [before, after]. */
function padding(size: number, k: number, stride: number, mode: "same" | "valid"): [number, number] {
  if (mode === "valid") return [0, 0];
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * The filter gradient of conv2d(x, filter, stride, mode) as one more forward convolution: the padded
 * input with batch and channels swapped, convolved with the output gradient dilated by the stride.
 * (The wasm backend has no Conv2DBackpropFilter kernel at all.)
 */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number, mode: "same" | "valid"): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const [pt, pb] = padding(h, k, stride, mode), [pl, pr] = padding(w, k, stride, mode);
    const xp = tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]]).transpose([3, 1, 2, 0]) as tf.Tensor4D; // [ci, H', W', n]
    const g = tf.conv2d(xp, dy.transpose([1, 2, 0, 3]) as tf.Tensor4D, 1, "valid", "NHWC", stride); // [ci, >=k, >=k, co]
    return g.slice([0, 0, 0, 0], [-1, k, k, -1]).transpose([1, 2, 0, 3]) as tf.Tensor4D; // [k, k, ci, co]
  });
}

/**
 * The input gradient of conv2d as a forward convolution: the output gradient, dilated by the stride
 * (zeros in between) and padded, convolved with the filter rotated by 180° and its channels swapped.
 * On wasm this is several times faster than its Conv2DBackpropInput kernel.
 */
export function conv2dInputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D, xShape: [number, number, number, number], stride: number, mode: "same" | "valid"): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w] = xShape;
    const [k] = filter.shape;
    const [, oh, ow, co] = dy.shape;
    const [pt] = padding(h, k, stride, mode), [pl] = padding(w, k, stride, mode);
    // Zeros needed before and after the dilated gradient, whose length is (oh-1)·s+1.
    const top = k - 1 - pt, bottom = h + pt - (oh - 1) * stride - 1;
    const left = k - 1 - pl, right = w + pl - (ow - 1) * stride - 1;
    let d: tf.Tensor4D = dy;
    let extraH = 0, extraW = 0; // zeros the dilation already appended
    if (stride > 1) {
      // [n, oh, 1, ow, 1, co] padded to [n, oh, s, ow, s, co] puts s-1 zeros after every value.
      d = tf.pad(dy.reshape([n, oh, 1, ow, 1, co]), [[0, 0], [0, 0], [0, stride - 1], [0, 0], [0, stride - 1], [0, 0]])
        .reshape([n, oh * stride, ow * stride, co]) as tf.Tensor4D;
      extraH = extraW = stride - 1;
      if (bottom < extraH || right < extraW) {
        d = d.slice([0, 0, 0, 0], [n, (oh - 1) * stride + 1, (ow - 1) * stride + 1, co]);
        extraH = extraW = 0;
      }
    }
    const padded = tf.pad(d, [[0, 0], [top, bottom - extraH], [left, right - extraW], [0, 0]]) as tf.Tensor4D;
    const rotated = tf.reverse(filter, [0, 1]).transpose([0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(padded, rotated, 1, "valid");
  });
}

/**
 * On wasm, Conv2D's gradients come from the two functions above (lazily, so an input that needs no
 * gradient, such as the images, costs nothing); elsewhere TensorFlow.js's own.
 */
export function useConvGradientsOnWasm(): void {
  const original = originalGradient("Conv2D");
  if (!original) return;
  overrideGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const a = attrs as unknown as { strides: number | [number, number]; pad: unknown; dataFormat: string; dilations: number | [number, number] };
      const [sh, sw] = Array.isArray(a.strides) ? a.strides : [a.strides, a.strides];
      const dil = Array.isArray(a.dilations) ? a.dilations : [a.dilations, a.dilations];
      const simple = sh === sw && (a.pad === "same" || a.pad === "valid") && a.dataFormat === "NHWC" && dil.every((v) => v === 1);
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const square = filter.shape[0] === filter.shape[1]; // the functions above take one filter size
      if (tf.getBackend() !== "wasm" || usingBlas() || !simple || !square) return original.gradFunc(dy, saved, attrs);
      const mode = a.pad as "same" | "valid";
      return {
        x: () => conv2dInputGrad(dy as tf.Tensor4D, filter, x.shape, sh, mode),
        filter: () => conv2dFilterGrad(x, dy as tf.Tensor4D, filter.shape[0], sh, mode),
      };
    },
  });
}

const RELU_GRAD = "FastbookReluGrad";

/** dy · step(x), TensorFlow.js's Relu gradient (NaN where x is NaN, dy·0 where x <= 0), in one pass (conv-loops.wat). */
function reluGrad(args: KernelArgs): tf.TensorInfo {
  const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const backend = args.backend as unknown as Heap;
  const out = backend.makeOutput(x.shape, "float32");
  convLoops(backend).reluGrad(offsetOf(backend, x), offsetOf(backend, dy), offsetOf(backend, out), tf.util.sizeFromShape(x.shape));
  return out;
}

/**
 * On wasm, Relu's gradient as the one-pass kernel above instead of three (step, cast, multiply), each a pass
 * over the activations: at a U-Net's 128x128 level they cost more than the ReLU itself. Elsewhere, and for
 * other dtypes or shapes, TensorFlow.js's own.
 */
export function useReluGradientOnWasm(): void {
  const original = originalGradient("Relu");
  if (!original) return;
  overrideKernel(RELU_GRAD, "wasm", reluGrad);
  overrideGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const d = dy as tf.Tensor;
      if (tf.getBackend() !== "wasm" || !isOverridden(RELU_GRAD, "wasm") || x.dtype !== "float32" || d.dtype !== "float32" ||
          !tf.util.arraysEqual(x.shape, d.shape)) {
        return original.gradFunc(dy, saved, attrs);
      }
      return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: d, x }) as tf.Tensor };
    },
  });
}
