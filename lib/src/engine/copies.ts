// Wasm kernels that move bytes instead of walking elements: gathering whole rows (a shuffled mini-batch is
// tf.gather(dataset, rows)), Slice (a crop copies runs of whole rows), and Identity (tf.clone), which the
// engine calls for every tensor it keeps for a gradient.
import { tf } from "../tf";
import { heapView, offsetOf, type KernelArgs, type WasmBackend } from "./wasm-heap";
import { originalKernel, overrideKernel } from "./registry";
import { convLoops, type Heap } from "./blas-conv";

const ROW_DTYPES = ["float32", "int32", "bool"];

/**
 * GatherV2 along axis 0 as whole-row copies within the wasm heap, several rows side by side (conv-loops.wat's
 * gatherRows), the row numbers checked there too. The wasm kernel walks element by element: about 10 ms for
 * a batch of 256 MNIST images, against a fraction of that for the row copies.
 * Other axes, batch dimensions and dtypes keep the original kernel.
 */
export function useRowGatherOnWasm(): void {
  const original = originalKernel("GatherV2", "wasm");
  if (!original) return;
  overrideKernel("GatherV2", "wasm", (args: KernelArgs) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const n = x.shape[0], rank = x.shape.length;
    if (rank === 0 || (axis !== 0 && axis !== -rank) || batchDims ||
        !ROW_DTYPES.includes(x.dtype) || indices.dtype !== "int32") {
      return original.kernelFunc(args);
    }
    const backend = args.backend as WasmBackend;
    const loops = convLoops(backend as unknown as Heap);
    const count = tf.util.sizeFromShape(indices.shape);
    const bad = loops.firstBadRow(offsetOf(backend, indices), count, n);
    if (bad >= 0) throw new Error(`GatherV2: the index value ${(heapView(backend, indices) as Int32Array)[bad]} is not in [0, ${n - 1}]`);
    const rowShape = x.shape.slice(1);
    const out = backend.makeOutput([...indices.shape, ...rowShape], x.dtype);
    if (count === 0) return out;
    // Offsets read after makeOutput, whose allocation may have grown (moved) the heap.
    const rowBytes = (x.dtype === "bool" ? 1 : 4) * rowShape.reduce((a, b) => a * b, 1);
    const from = offsetOf(backend, x), to = offsetOf(backend, out);
    if (rowBytes % 4 === 0) { // the wasm loop moves whole 32-bit words
      loops.gatherRows(from, offsetOf(backend, indices), to, count, rowBytes, rowBytes <= 4096 ? 8 : rowBytes <= 16384 ? 4 : 1);
      return out;
    }
    const heap = backend.wasm.HEAPU8, at = Array.from(heapView(backend, indices));
    at.forEach((r, i) => heap.copyWithin(to + i * rowBytes, from + r * rowBytes, from + (r + 1) * rowBytes));
    return out;
  });
}

/**
 * On wasm, Identity copies the tensor's bytes. Tensors are never changed in place, so, as the cpu backend
 * does, the clone can share the data and count one more user.
 */
export function useSharedIdentityOnWasm(): void {
  const original = originalKernel("Identity", "wasm");
  if (!original) return;
  overrideKernel("Identity", "wasm", (args: KernelArgs) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === "string") return original.kernelFunc(args);
    (args.backend as unknown as { incRef(id: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}

/**
 * Slice as one copy per contiguous run: the innermost axes the slice keeps whole, together with the last one it
 * cuts. The wasm kernel walks element by element; cropping a U-Net's [32, 128, 128, 1] output to 101x101 took
 * about 20 ms, as runs of 101 values well under one. Strings keep the original kernel.
 */
export function useRunSliceOnWasm(): void {
  const original = originalKernel("Slice", "wasm");
  if (!original) return;
  overrideKernel("Slice", "wasm", (args: KernelArgs) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (!ROW_DTYPES.includes(x.dtype) || x.shape.length === 0) return original.kernelFunc(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size?: number | number[] };
    const [from, sizes] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
    tf.slice_util.assertParamsValid(x as unknown as tf.Tensor, from, sizes); // a slice past the end is an error, as on cpu
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(sizes, x.dtype);
    const total = sizes.reduce((a, b) => a * b, 1);
    if (total === 0) return out;
    // Views made after makeOutput, whose allocation may have moved the heap.
    const src = heapView(backend, x), dst = heapView(backend, out);
    const rank = x.shape.length, strides = tf.util.computeStrides(x.shape);
    let cut = rank - 1, run = 1; // the run: axes cut..rank-1, of which only `cut` may be partial
    while (cut >= 0) {
      run *= sizes[cut]!;
      if (sizes[cut] !== x.shape[cut] || cut === 0) break;
      cut--;
    }
    const stride = (a: number) => (a === rank - 1 ? 1 : strides[a]!);
    const idx = new Array<number>(cut).fill(0); // an odometer over the axes before `cut`
    for (let o = 0; o < total; o += run) {
      let at = from[cut]! * stride(cut);
      for (let a = 0; a < cut; a++) at += (from[a]! + idx[a]!) * stride(a);
      dst.set(src.subarray(at, at + run), o);
      for (let a = cut - 1; a >= 0 && ++idx[a]! === sizes[a]; a--) idx[a] = 0;
    }
    return out;
  });
}
