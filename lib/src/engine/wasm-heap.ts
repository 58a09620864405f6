// The few internals of TensorFlow.js's wasm backend (BackendWasm) that our kernels and loaders use: each
// tensor's bytes live in the wasm heap at a known offset, so native code and row copies can work in place.
import { tf } from "../tf";

export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
}

/** What a kernel function receives. */
export type KernelArgs = Parameters<tf.KernelFunc>[0];

export type HostArray = Float32Array | Int32Array | Uint8Array;

const ARRAYS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;
export type HostDtype = keyof typeof ARRAYS;

/** A typed-array view of a wasm tensor's data (valid until the next allocation, which may grow the heap). */
export function heapView(backend: WasmBackend, t: tf.TensorInfo, size = t.shape.reduce((a, b) => a * b, 1)): HostArray {
  const Arr = ARRAYS[t.dtype as HostDtype];
  return new Arr(backend.wasm.HEAPU8.buffer as ArrayBuffer, backend.dataIdMap.get(t.dataId).memoryOffset, size);
}

/**
 * A new tensor whose values `fill` writes: straight into the wasm heap on wasm (one copy instead of two),
 * into a fresh array elsewhere.
 */
export function tensorFilledBy(shape: number[], dtype: HostDtype, fill: (values: HostArray) => void): tf.Tensor {
  if (tf.getBackend() === "wasm") {
    const backend = tf.backend() as unknown as WasmBackend;
    const info = backend.makeOutput(shape, dtype);
    try {
      fill(heapView(backend, info));
    } catch (e) {
      (backend as unknown as { disposeData(id: object): void }).disposeData(info.dataId); // nothing half-made stays
      throw e;
    }
    return tf.engine().makeTensorFromTensorInfo(info);
  }
  const values = new ARRAYS[dtype](shape.reduce((a, b) => a * b, 1));
  fill(values);
  return tf.tensor(values, shape, dtype);
}
