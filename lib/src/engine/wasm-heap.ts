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

/** Where a wasm tensor's data starts in the heap, in bytes (what native code is given). */
export const offsetOf = (backend: WasmBackend, t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;

/** A typed-array view of a wasm tensor's data (valid until the next allocation, which may grow the heap). */
export function heapView(backend: WasmBackend, t: tf.TensorInfo, size = t.shape.reduce((a, b) => a * b, 1)): HostArray {
  const Arr = ARRAYS[t.dtype as HostDtype];
  return new Arr(backend.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(backend, t), size);
}

/** A view of `floats` float32 values at heap offset `ptr`, made now (an allocation may have moved the heap). */
export const f32At = (backend: WasmBackend, ptr: number, floats: number) => new Float32Array(backend.wasm.HEAPU8.buffer, ptr, floats);

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

// The wasm backend's heap is one WebAssembly memory of at most 4 GiB; once an allocation fails the module
// aborts and every later op fails until the process restarts. So every allocation is watched: past
// `warnAt` bytes in tensors the library says what holds the memory and how to free it, and an allocation
// that cannot fit is refused with an error while the kernel still works.
const GiB = 2 ** 30;

/** When the heap watch warns and when it refuses (changeable for tests). */
export const heapLimits = { warnAt: 3 * GiB, max: 4 * GiB - 65536 };

const gib = (bytes: number) => `${(bytes / GiB).toFixed(2)} GiB`;

function heapAdvice(): string {
  const m = tf.memory();
  return `tf.memory() counts ${m.numTensors} tensors holding ${gib(m.numBytes)}. Free what you no longer use: ` +
    `dls.dispose() on data loaders you built again, t.dispose() or tf.dispose([...]) on tensors kept in variables; ` +
    `or Kernel > Restart and run the notebook again.`;
}

/** A backend whose tensors live in a wasm heap. */
export type HeapOwner = { wasm: { _malloc(bytes: number): number } };

let warned = false;
const WATCHED = Symbol("heap watch");

/**
 * Watches every allocation the wasm backend makes (tensors and kernel scratch space): warns once when the
 * tensors pass `heapLimits.warnAt` (again after they fell below it), and throws instead of allocating
 * when the tensors plus the new block would pass `heapLimits.max`. Safe to call again.
 */
export function watchWasmHeap(backend: HeapOwner | null): void {
  const wasm = backend?.wasm as { _malloc: ((bytes: number) => number) & { [WATCHED]?: true } } | undefined;
  if (!wasm || wasm._malloc[WATCHED]) return;
  const malloc = wasm._malloc.bind(wasm);
  const watched = Object.assign((bytes: number) => {
    const inUse = tf.engine().state.numBytes;
    if (inUse + bytes > heapLimits.max) {
      throw new Error(`Out of memory: ${gib(bytes)} more would not fit in the wasm backend's ${gib(heapLimits.max)} ` +
        `(tensors hold ${gib(inUse)}). Nothing was allocated and the kernel still works. ${heapAdvice()}`);
    }
    if (inUse + bytes > heapLimits.warnAt && !warned) {
      warned = true;
      console.warn(`Memory is running low: tensors hold ${gib(inUse + bytes)} of the wasm backend's ${gib(heapLimits.max)}; ` +
        `when it is full, every operation fails until Kernel > Restart. ${heapAdvice()}`);
    } else if (inUse + bytes <= heapLimits.warnAt) {
      warned = false;
    }
    return malloc(bytes);
  }, { [WATCHED]: true as const });
  wasm._malloc = watched;
}
