// Two wasm kernels that move bytes instead of walking elements: gathering whole rows (a shuffled
// mini-batch is tf.gather(dataset, rows)) and Identity (tf.clone), which the engine calls for every tensor
// it keeps for a gradient.
import { tf } from "../tf";
import { heapView, offsetOf, type KernelArgs, type WasmBackend } from "./wasm-heap";
import { originalKernel, overrideKernel } from "./registry";

const ROW_DTYPES = ["float32", "int32", "bool"];

/**
 * GatherV2 along axis 0 as one memmove per row within the wasm heap. The wasm kernel walks element by
 * element: about 10 ms for a batch of 256 MNIST images, against a fraction of that for the row copies.
 * Other axes, batch dimensions and dtypes keep the original kernel.
 */
export function useRowGatherOnWasm(): void {
  const original = originalKernel("GatherV2", "wasm");
  if (!original) return;
  overrideKernel("GatherV2", "wasm", (args: KernelArgs) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const n = x.shape[0];
    if (x.shape.length === 0 || tf.util.parseAxisParam(axis, x.shape)[0] !== 0 || batchDims ||
        !ROW_DTYPES.includes(x.dtype) || indices.dtype !== "int32") {
      return original.kernelFunc(args);
    }
    const backend = args.backend as WasmBackend;
    const rows = Array.from(heapView(backend, indices));
    for (const r of rows) {
      if (!(r >= 0 && r < n)) throw new Error(`GatherV2: the index value ${r} is not in [0, ${n - 1}]`);
    }
    const rowShape = x.shape.slice(1);
    const out = backend.makeOutput([...indices.shape, ...rowShape], x.dtype);
    if (rows.length === 0) return out;
    // Offsets read after makeOutput, whose allocation may have grown (moved) the heap.
    const heap = backend.wasm.HEAPU8;
    const rowBytes = (x.dtype === "bool" ? 1 : 4) * rowShape.reduce((a, b) => a * b, 1);
    const from = offsetOf(backend, x), to = offsetOf(backend, out);
    rows.forEach((r, i) => heap.copyWithin(to + i * rowBytes, from + r * rowBytes, from + (r + 1) * rowBytes));
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
