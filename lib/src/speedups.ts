// Where TensorFlow.js's CPU backends are slow for this chapter's work, and what we do instead. Each
// speed-up keeps results equal to the plain ops (test/speedups.test.ts checks them against `cpu`).
import { tf } from "./tf";
import { usingBlas } from "./blas";
import { tensorFilledBy, type HostArray, type HostDtype, type WasmBackend } from "./wasm-heap";

const onHost = () => ["wasm", "cpu"].includes(tf.getBackend());

// Host copies of big, immutable tensors (a data set), made once per tensor.
const hostCopies = new WeakMap<tf.Tensor, HostArray>();

function hostCopy(t: tf.Tensor): HostArray {
  let src = hostCopies.get(t);
  if (!src) { src = t.dataSync() as HostArray; hostCopies.set(t, src); }
  return src;
}

const rowsCopyable = (t: tf.Tensor) =>
  onHost() && !(t instanceof tf.Variable) && (t.dtype === "float32" || t.dtype === "int32" || t.dtype === "bool");

/**
 * `tf.gather(t, rows)` along axis 0. On wasm and cpu the Gather kernel walks element by element (about
 * 10 ms for a batch of 256 MNIST images); copying whole rows out of a host copy of `t` takes a fraction
 * of that. Variables change, so they always take tf.gather.
 */
export function gatherRows(t: tf.Tensor, rows: number[]): tf.Tensor {
  // Checked on every backend: GPU gathers give zeros for rows out of range instead of failing.
  const n = t.shape[0]!;
  for (const r of rows) if (!(Number.isInteger(r) && r >= 0 && r < n)) throw new Error(`gatherRows: row ${r} is outside 0..${n - 1}.`);
  if (!rowsCopyable(t)) return tf.tidy(() => tf.gather(t, tf.tensor1d(rows, "int32")));
  return copyRows(t, rows.length, (copy) => rows.forEach((r, i) => copy(r, i, 1)));
}

/** Rows start..end-1 of `t` (tf.slice along axis 0), copied in one piece on wasm and cpu. */
export function sliceRows(t: tf.Tensor, start: number, end: number): tf.Tensor {
  const n = t.shape[0]!;
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
    throw new Error(`sliceRows: rows ${start}..${end} are outside 0..${n}.`);
  }
  if (!rowsCopyable(t)) return tf.slice(t, [start], [end - start]);
  return copyRows(t, end - start, (copy) => copy(start, 0, end - start));
}

/**
 * A new tensor of `count` rows shaped like `t`'s rows; `plan` calls copy(from, to, rows) for each run of
 * rows to take. On wasm the rows are moved within the wasm heap (no host copy of the data set at all);
 * on cpu they come from a host copy of `t`, made once.
 */
function copyRows(t: tf.Tensor, count: number, plan: (copy: (from: number, to: number, rows: number) => void) => void): tf.Tensor {
  const width = t.size / t.shape[0]!;
  const src = tf.getBackend() === "wasm" ? undefined : hostCopy(t);
  return tensorFilledBy([count, ...t.shape.slice(1)], t.dtype as HostDtype, (out) => {
    if (src) return plan((from, to, rows) => out.set(src.subarray(from * width, (from + rows) * width), to * width));
    // On wasm `out` lies in the heap beside `t`'s data: rows move within it (memmove).
    const heap = new Uint8Array(out.buffer), rowBytes = out.BYTES_PER_ELEMENT * width;
    const from0 = (tf.backend() as unknown as WasmBackend).dataIdMap.get(t.dataId).memoryOffset;
    plan((from, to, rows) => heap.copyWithin(out.byteOffset + to * rowBytes, from0 + from * rowBytes, from0 + (from + rows) * rowBytes));
  });
}

let identityPatched = false;

/**
 * On wasm, Identity (tf.clone) copies the tensor's bytes, and the engine clones every tensor it keeps for
 * a gradient: a training step copies its whole batch and every activation once more. Tensors are never
 * changed in place, so, as the cpu backend does, the clone can share the data and count one more user.
 */
export function useSharedIdentityOnWasm(): void {
  const original = tf.getKernel("Identity", "wasm");
  if (identityPatched || !original) return;
  identityPatched = true;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.dtype === "string") return original.kernelFunc(args);
      (args.backend as unknown as { incRef(id: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

let matMulGradPatched = false;

/**
 * The wasm backend's matMul costs roughly the same per *output* element whatever the inner size, and its
 * transposed-operand path is slower still. The gradient of a·b with respect to b (a weight) is aᵀ·dy;
 * computing it as (dyᵀ·a)ᵀ with explicit transposes is about twice as fast there. Other backends keep
 * TensorFlow.js's own gradient, and so does wasm where OpenBLAS does its products (blas.ts).
 */
export function useFastMatMulGradient(): void {
  if (matMulGradPatched) return;
  const original = tf.getGradient("BatchMatMul");
  if (!original) return;
  matMulGradPatched = true;
  tf.registerGradient({
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

let convGradPatched = false;

/**
 * On wasm, Conv2D's gradients come from the two functions above (lazily, so an input that needs no
 * gradient, such as the images, costs nothing); elsewhere TensorFlow.js's own.
 */
export function useConvGradientsOnWasm(): void {
  if (convGradPatched) return;
  const original = tf.getGradient("Conv2D");
  if (!original) return;
  convGradPatched = true;
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const a = attrs as unknown as { strides: number | [number, number]; pad: unknown; dataFormat: string; dilations: number | [number, number] };
      const [sh, sw] = Array.isArray(a.strides) ? a.strides : [a.strides, a.strides];
      const dil = Array.isArray(a.dilations) ? a.dilations : [a.dilations, a.dilations];
      const simple = sh === sw && (a.pad === "same" || a.pad === "valid") && a.dataFormat === "NHWC" && dil.every((v) => v === 1);
      if (tf.getBackend() !== "wasm" || usingBlas() || !simple) return original.gradFunc(dy, saved, attrs);
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const mode = a.pad as "same" | "valid";
      return {
        x: () => conv2dInputGrad(dy as tf.Tensor4D, filter, x.shape, sh, mode),
        filter: () => conv2dFilterGrad(x, dy as tf.Tensor4D, filter.shape[0], sh, mode),
      };
    },
  });
}
