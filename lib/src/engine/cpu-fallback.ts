// Kernels the wasm backend lacks, or gets wrong for some inputs, run by the cpu backend's own kernel
// functions: inputs are read from the wasm heap into a private cpu backend, the cpu kernel runs there, and
// its outputs are written back into the wasm heap. This is for completeness, not speed: the training hot
// paths (float32 matMul, conv2d and its gradients, sum, ...) never come here, and kernels that wasm runs
// correctly keep running in wasm.
//
// A kernel goes to cpu when
//   - wasm has no kernel of that name (Complex, FFT, Einsum, UnsortedSegmentSum, ragged ops, ...);
//   - an input or the requested dtype is `string` or `complex64`, which wasm kernels cannot read;
//   - the wasm kernel is known to give wrong values for the arguments (WRONG_ON_WASM below);
//   - the wasm kernel throws (an unsupported attribute, dtype or layout: NCHW convolutions, integer
//     matMul, bias of another rank, ...). cpu then gives either the result or its own error, so errors
//     read as they do on cpu. A wasm abort (RuntimeError) is not retried: its module is no longer sound.
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { tf } from "../tf";
import { heapView, type KernelArgs, type WasmBackend } from "./wasm-heap";
import { overrideKernel, stockKernel } from "./registry";

type Info = tf.TensorInfo;
type Wasm = Omit<WasmBackend, "dataIdMap"> & {
  dataIdMap: { get(id: object): { memoryOffset: number; stringBytes?: Uint8Array[] } };
  readSync(dataId: object): unknown;
  write(values: unknown, shape: number[], dtype: string): object;
};
type Cpu = MathBackendCPU & { data: { get(id: object): { complexTensorInfos?: { real: Info; imag: Info } } } };

/** Data types that wasm kernels cannot read; the wasm backend stores them (strings in JS, complex64 interleaved). */
const exotic = (dtype: unknown) => dtype === "string" || dtype === "complex64";

/** Argument checks for wasm kernels that return wrong values, instead of failing, for some inputs. */
const WRONG_ON_WASM: Record<string, (args: KernelArgs) => boolean> = {
  // A cast to bool keeps the value instead of 0/1.
  Cast: ({ attrs }) => attrs?.dtype === "bool",
  // clipByValue(NaN) gives the lower bound instead of NaN.
  ClipByValue: () => true,
  // bincount of a tensor of rank 2 or more counts per row; TensorFlow.js (and cpu) counts over all of it.
  Bincount: ({ inputs }) => (inputs.x as Info).shape.length !== 1,
  // A numeric padding without a rounding mode (fractional output size) reads past the input.
  MaxPool: ({ attrs }) => typeof attrs?.pad === "number" && attrs?.dimRoundingMode == null,
  AvgPool: ({ attrs }) => typeof attrs?.pad === "number" && attrs?.dimRoundingMode == null,
};

/** Checks wasm kernels skip: without them a bad argument gives garbage instead of an error. */
const CHECKS: Record<string, (args: KernelArgs) => void> = {
  Slice: ({ inputs, attrs }) => {
    const x = inputs.x as Info;
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs!.begin as number[], attrs!.size as number[]);
    tf.slice_util.assertParamsValid(x as unknown as tf.Tensor, begin, size);
  },
};

let cpu: Cpu | undefined;
const cpuBackend = (): Cpu => (cpu ??= new MathBackendCPU() as Cpu);

let delegated = 0;
const delegatedByKernel = new Map<string, number>();

/** How many kernel calls ran on cpu since the fallback was installed, in all or for one kernel. */
export function cpuFallbackCalls(kernelName?: string): number {
  return kernelName === undefined ? delegated : delegatedByKernel.get(kernelName) ?? 0;
}

/** A wasm tensor's values as a cpu tensor (a copy). */
function toCpu(wasm: Wasm, cpuB: Cpu, t: Info): Info {
  const shape = t.shape, size = shape.reduce((a, b) => a * b, 1);
  if (t.dtype === "string") return cpuB.makeTensorInfo(shape, "string", wasm.dataIdMap.get(t.dataId).stringBytes as unknown as tf.backend_util.BackendValues);
  if (t.dtype === "complex64") {
    const both = new Float32Array(wasm.wasm.HEAPU8.buffer, wasm.dataIdMap.get(t.dataId).memoryOffset, 2 * size);
    const re = new Float32Array(size), im = new Float32Array(size);
    for (let i = 0; i < size; i++) { re[i] = both[2 * i]; im[i] = both[2 * i + 1]; }
    const info = cpuB.makeTensorInfo(shape, "complex64");
    cpuB.data.get(info.dataId).complexTensorInfos = { real: cpuB.makeTensorInfo(shape, "float32", re), imag: cpuB.makeTensorInfo(shape, "float32", im) };
    return info;
  }
  return cpuB.makeTensorInfo(shape, t.dtype, heapView(wasm as WasmBackend, t).slice());
}

const ARRAY_OF: Record<string, Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor> =
  { float32: Float32Array, int32: Int32Array, bool: Uint8Array, complex64: Float32Array };

/** A cpu tensor's values written into a new wasm tensor (complex64 as interleaved float32 pairs). */
function toWasm(wasm: Wasm, cpuB: Cpu, t: Info): Info {
  const values = cpuB.readSync(t.dataId);
  if (t.dtype === "string") return { dataId: wasm.write(values, t.shape, "string"), shape: t.shape, dtype: t.dtype };
  const Arr = ARRAY_OF[t.dtype];
  // cpu kernels may hold, say, int32 results in a Float32Array: convert, since wasm copies raw bytes.
  const typed = values instanceof Arr ? values : Arr.from(values as ArrayLike<number>);
  return { dataId: wasm.write(typed, t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
}

/** Runs the cpu backend's kernel `kernelName` on wasm tensors; returns wasm tensors. */
export function runOnCpu(kernelName: string, args: KernelArgs): Info | Info[] {
  const kernel = tf.getKernel(kernelName, "cpu");
  if (!kernel) throw new Error(`Kernel '${kernelName}' is registered neither for wasm nor for cpu.`);
  const wasm = args.backend as unknown as Wasm, cpuB = cpuBackend();
  const made: Info[] = [];
  // Some kernels (Concat, AddN, Pack, ...) take an array of tensors, others a map whose entries may be
  // arrays (the ragged ops' splits).
  const move = (t: Info | Info[] | undefined | null): unknown => {
    if (t == null) return t;
    if (Array.isArray(t)) return t.map(move);
    const c = toCpu(wasm, cpuB, t);
    made.push(c);
    return c;
  };
  const inputs = Array.isArray(args.inputs)
    ? move(args.inputs as Info[])
    : Object.fromEntries(Object.entries(args.inputs).map(([k, t]) => [k, move(t as Info)]));
  try {
    const out = kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, attrs: args.attrs, backend: cpuB });
    const outs = Array.isArray(out) ? out : [out];
    made.push(...outs);
    delegated++;
    delegatedByKernel.set(kernelName, (delegatedByKernel.get(kernelName) ?? 0) + 1);
    const back = outs.map((o) => toWasm(wasm, cpuB, o));
    return Array.isArray(out) ? back : back[0];
  } finally {
    for (const t of made) cpuB.disposeData(t.dataId, true);
  }
}

function needsCpu(kernelName: string, args: KernelArgs): boolean {
  // Walked in place, not copied into an array: this runs before every wrapped kernel.
  const inputs = args.inputs as unknown as Record<string, Info | Info[] | null>;
  for (const key in inputs) {
    const t = inputs[key];
    if (Array.isArray(t)) {
      for (const u of t) if (u != null && exotic(u.dtype)) return true;
    } else if (t != null && exotic(t.dtype)) return true;
  }
  if (exotic(args.attrs?.dtype)) return true;
  return WRONG_ON_WASM[kernelName]?.(args) ?? false;
}

/** The kernel functions this module registered, so that a test can tell them from the library's own. */
const registeredHere = new WeakSet<tf.KernelFunc>();

/** Whether `kernelFunc` is one of this module's wrappers or cpu delegates (not a native or OpenBLAS kernel). */
export const isCpuFallback = (kernelFunc: tf.KernelFunc) => registeredHere.has(kernelFunc);

const isWasmAbort = (e: unknown) => e instanceof Error && e.name === "RuntimeError";

/** The wasm kernel, with cpu taking the arguments it cannot run or gets wrong. */
function withCpuFallback(kernelName: string, original: tf.KernelFunc): tf.KernelFunc {
  const check = CHECKS[kernelName];
  return (args) => {
    if (needsCpu(kernelName, args)) return runOnCpu(kernelName, args);
    check?.(args);
    try {
      return original(args);
    } catch (e) {
      if (isWasmAbort(e)) throw e;
      return runOnCpu(kernelName, args);
    }
  };
}

/**
 * The wasm backend reads back float32, int32, bool and string tensors only; complex64 ones (made by the
 * kernels above) are interleaved real/imaginary float32 pairs, which is what cpu's readSync returns too.
 */
function readComplexOnWasm(backend: Wasm): void {
  const proto = Object.getPrototypeOf(backend) as { readSync(dataId: object, start?: number, end?: number): unknown; complexPatched?: boolean };
  if (proto.complexPatched) return;
  const readSync = proto.readSync;
  proto.readSync = function (this: Wasm, dataId: object, start?: number, end?: number) {
    const d = this.dataIdMap.get(dataId) as { memoryOffset: number; dtype?: string; shape?: number[] };
    if (d.dtype !== "complex64") return readSync.call(this, dataId, start, end);
    const size = d.shape!.reduce((a, b) => a * b, 1);
    return new Float32Array(this.wasm.HEAPU8.buffer, d.memoryOffset, 2 * size).slice(2 * (start ?? 0), 2 * (end ?? size));
  };
  proto.complexPatched = true;
}

/**
 * Makes every kernel that the cpu backend has run on wasm: missing ones through cpu, existing ones kept but
 * wrapped so that what they cannot do goes to cpu. These are the base layer of the registry: the library's
 * fast wasm kernels, installed after them, fall back to them.
 */
export function useCpuFallbackOnWasm(): void {
  if (!tf.findBackend("wasm")) return;
  readComplexOnWasm(tf.findBackend("wasm") as unknown as Wasm);
  for (const { kernelName } of tf.getKernelsForBackend("cpu")) {
    const stock = stockKernel(kernelName, "wasm");
    const kernelFunc = stock ? withCpuFallback(kernelName, stock.kernelFunc) : (args: KernelArgs) => runOnCpu(kernelName, args);
    registeredHere.add(kernelFunc);
    overrideKernel(kernelName, "wasm", kernelFunc, { base: true });
  }
}
