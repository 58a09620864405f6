// Matrix products (matMul, and conv2d through blas-conv.ts) by the machine's OpenBLAS, on the wasm backend.
//
// TensorFlow.js's wasm backend runs one thread in Node, and its matMul is slow whenever an operand is
// transposed or the output is narrow, which is exactly what a training step's gradients are. PyTorch
// multiplies matrices with OpenBLAS; where the same library is installed (Debian: libopenblas0-pthread),
// we call its cblas_sgemm directly on the wasm heap through koffi (an FFI package shipped with prebuilt
// binaries), with no copies. Without either, nothing changes: the wasm kernel stays in place.
import { tf } from "../tf";
import { heapView, offsetOf, type KernelArgs, type WasmBackend } from "./wasm-heap";
import { conv2dKernels, convLoops, perChannel, reluInPlace, widened, type Heap } from "./blas-conv";
import { NO_TRANS, ROW_MAJOR, THREADED_FROM, TRANS, addBias, isRowBias, ones, prod, type Sgemm } from "./blas-common";
import { isOverridden, originalKernel, overrideGradient, overrideKernel } from "./registry";
import { fasterThreadCount } from "./blas-threads";

interface Blas {
  sgemm: Sgemm;
  /** The shared library that was loaded, for describeBackend. */
  library: string;
  threads: number;
}

let blas: Blas | null | undefined;
let whyNot = "";

/** Libraries tried in turn; FASTBOOK_BLAS names another (any CBLAS with cblas_sgemm). */
const CANDIDATES = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"];

/**
 * Products with a small result and a long inner dimension run on one thread whatever their size: OpenBLAS
 * shares out the result's blocks, and a convolution's filter gradient ([kh·kw·ci, co], a few hundred values
 * summed over half a million pixels) on two threads took four times the processor time of one, and longer.
 * A small result with a short inner dimension (an MLP's 256×784 by 784×128 forward product) gains from the
 * second thread as a large result does: 195 µs against 296 µs on one.
 */
const THREADED_RESULT_FROM = 65536;
const THREADED_INNER_UNDER = 8192;

/** Whether a product is large enough, and shaped, to gain from OpenBLAS's threads (on a quiet machine). */
const mayThread = (m: number, n: number, k: number) =>
  m * n * k >= THREADED_FROM && (m * n >= THREADED_RESULT_FROM || k < THREADED_INNER_UNDER);

/**
 * OpenBLAS's idle threads wait for the next product by spinning on sched_yield for 2^28 cycles (about 0.1 s)
 * before they sleep, so a training step's products keep its second thread spinning throughout: in resnet18's
 * steps a quarter of the machine's time went to system calls, and the process used twice the processor time
 * of its wall time. With 2^18 cycles (about 0.1 ms, which covers the gap between a step's back-to-back
 * products) it used 30-45% less processor time, and epochs were 3-7% shorter for the MLP and the small CNN
 * and level for resnet18 (bench/README.md, run 13). OpenBLAS reads this once, as it loads; a value the user
 * has set is kept, and the variable is not left behind for child processes.
 */
const SPIN_CYCLES_LOG2 = "18";

/** Loads `name` with OPENBLAS_THREAD_TIMEOUT set to SPIN_CYCLES_LOG2 while it loads, unless the user set it. */
function loadWithShortSpin(koffi: typeof import("koffi"), name: string) {
  const unset = process.env.OPENBLAS_THREAD_TIMEOUT === undefined;
  if (unset) process.env.OPENBLAS_THREAD_TIMEOUT = SPIN_CYCLES_LOG2;
  try {
    return koffi.load(name);
  } finally {
    if (unset) delete process.env.OPENBLAS_THREAD_TIMEOUT;
  }
}

/** OpenBLAS's thread count, set only when it changes. */
function threadSetter(setThreads: (n: number) => void, initial: number): (n: number) => void {
  let current = initial;
  return (n) => { if (n !== current) { setThreads(n); current = n; } };
}

/** OpenBLAS through koffi, loaded once; null (with the reason in `blasStatus`) where either is missing. */
export function loadBlas(): Blas | null {
  if (blas !== undefined) return blas;
  blas = null;
  if (process.env.FASTBOOK_BLAS === "off") { whyNot = "turned off by FASTBOOK_BLAS=off"; return null; }
  let koffi: typeof import("koffi");
  try {
    koffi = require("koffi");
  } catch (e) {
    whyNot = `the optional package koffi did not load (${(e as Error).message.split("\n")[0]})`;
    return null;
  }
  const names = process.env.FASTBOOK_BLAS ? [process.env.FASTBOOK_BLAS] : CANDIDATES;
  for (const name of names) {
    try {
      const lib = loadWithShortSpin(koffi, name);
      const sgemm = lib.func("void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int)") as Sgemm;
      let threads = 1;
      let setThreads: ((n: number) => void) | undefined;
      try {
        threads = (lib.func("int openblas_get_num_threads()") as () => number)();
        setThreads = lib.func("void openblas_set_num_threads(int)") as (n: number) => void;
      } catch { /* another CBLAS: its own threading */ }
      blas = { sgemm: widened(setThreads ? fasterThreadCount(sgemm, threadSetter(setThreads, threads), threads, mayThread) : sgemm), library: name, threads };
      return blas;
    } catch (e) {
      whyNot = `${name}: ${(e as Error).message.split("\n")[0]}`;
    }
  }
  whyNot = `no OpenBLAS found (${whyNot}); on Debian: apt-get install libopenblas0-pthread`;
  return null;
}

/** One line saying whether matrix products go through OpenBLAS, and if not, why. */
export function blasStatus(): string {
  const b = loadBlas();
  return b ? `matMul and conv2d through ${b.library} (${b.threads} thread${b.threads === 1 ? "" : "s"})` : `matMul and conv2d in wasm: ${whyNot}`;
}

/**
 * BatchMatMul as OpenBLAS sgemm calls on the wasm heap: one per batch entry, broadcasting a batch of 1.
 * Anything else (other dtypes, general broadcasting) goes to the original kernel.
 */
function blasBatchMatMul(sgemm: Sgemm, fallback: tf.KernelFunc) {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
    const batchA = prod(outerA), batchB = prod(outerB);
    const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
    if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2 ||
        !(sameOuter || batchA === 1 || batchB === 1)) {
      return fallback(args);
    }
    const ar = a.shape[a.shape.length - 2]!, ac = a.shape[a.shape.length - 1]!;
    const br = b.shape[b.shape.length - 2]!, bc = b.shape[b.shape.length - 1]!;
    const m = transposeA ? ac : ar, k = transposeA ? ar : ac;
    const k2 = transposeB ? bc : br, n = transposeB ? br : bc;
    // Mismatched shapes: the original kernel reports them (as cpu does).
    if (k !== k2) return fallback(args);
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput([...outer, m, n], "float32");
    const batch = prod(outer);
    if (m * n * batch === 0) return out;
    // Views made after makeOutput, whose allocation may have grown (moved) the heap.
    const av = heapView(backend, a) as Float32Array, bv = heapView(backend, b) as Float32Array, cv = heapView(backend, out) as Float32Array;
    for (let i = 0; i < batch; i++) {
      const ai = batchA === 1 ? av : av.subarray(i * ar * ac, (i + 1) * ar * ac);
      const bi = batchB === 1 ? bv : bv.subarray(i * br * bc, (i + 1) * br * bc);
      const ci = batch === 1 ? cv : cv.subarray(i * m * n, (i + 1) * m * n);
      sgemm(ROW_MAJOR, transposeA ? TRANS : NO_TRANS, transposeB ? TRANS : NO_TRANS, m, n, k, 1,
        ai, Math.max(1, ac), bi, Math.max(1, bc), 0, ci, Math.max(1, n));
    }
    return out;
  };
}

/** Whether the current backend is wasm with OpenBLAS behind its products. */
export const usingBlas = () => tf.getBackend() === "wasm" && isOverridden(CONV_BIAS, "wasm"); // only OpenBLAS adds it

/**
 * Leading-axes sums with at most this many columns, a multiple of 4, run as conv-loops.wat's channelDots
 * (BatchNorm's per-channel sums: four columns at a time, float32 within blocks of 256 rows, float64 across).
 * A one-row sgemm runs far below its rate with few columns: the bias gradient of 8 channels over 256 images
 * of 14x14 took 156 µs that way, 45 µs so, and 4 channels over 32 images of 128x128 842 µs against 320.
 * From 32 columns sgemm is faster.
 */
const COLUMN_SUMS_UP_TO = 16;

/**
 * Sum over the leading axes (a bias gradient: dy summed over every axis but the channels) as one product
 * ones[1, M]·x[M, C]; wasm's Sum transposes such a tensor before reducing it. Other sums keep the original.
 */
function blasSum(sgemm: Sgemm, fallback: tf.KernelFunc) {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== "float32" || !leading) return fallback(args);
    const m = prod(x.shape.slice(0, axes.length)), c = prod(x.shape.slice(axes.length));
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length), "float32");
    const outView = heapView(backend, out) as Float32Array;
    if (m === 0 || c === 0) { outView.fill(0); return out; }
    if (c % 4 === 0 && c <= COLUMN_SUMS_UP_TO) {
      // Few columns (a convolution's bias gradient): sgemm's one-row product runs far below its rate there.
      const heap = backend as unknown as Heap, v = perChannel(heap, c, 1); // the sums, in float64
      convLoops(heap).channelDots(offsetOf(backend, x), 0, 0, 0, m, c, v.at(0)); // with b = 0: Σ x per column
      (heapView(backend, out) as Float32Array).set(v.f64(0));
      v.done();
      return out;
    }
    sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, 1, c, m, 1, ones(m), m, heapView(backend, x) as Float32Array, c, 0, outView, c);
    return out;
  };
}

/**
 * tf.fused.matMul (matMul + bias + activation) with a bias per column and a linear or relu activation:
 * the product as BatchMatMul computes it, then the bias and relu in place. This also replaces the wasm
 * kernel whose transposeB path with bias and relu gives wrong values. Other forms keep that kernel.
 */
function blasFusedMatMul(sgemm: Sgemm, product: (args: KernelArgs) => tf.TensorInfo, fallback: tf.KernelFunc) {
  return (args: KernelArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo>;
    const { transposeB, activation } = args.attrs as unknown as { transposeB: boolean; activation: string };
    const n = b.shape.at(transposeB ? -2 : -1)!;
    if (a.dtype !== "float32" || preluActivationWeights || (activation !== "linear" && activation !== "relu") ||
        !isRowBias(bias, n)) {
      return fallback(args);
    }
    const backend = args.backend as WasmBackend;
    const out = product(args);
    addBias(sgemm, backend, bias, out, n ? prod(out.shape) / n : 0, n);
    if (activation === "relu") reluInPlace(backend as unknown as Heap, out);
    return out;
  };
}

const CONV_BIAS = "FastbookConv2dBias";
/**
 * The same with the ReLU that follows it (Conv2d.forwardThenRelu, which Sequential calls for a Conv2d then a
 * ReLU), applied in place on the output while it is still in cache.
 */
const CONV_BIAS_RELU = "FastbookConv2dBiasRelu";
const RELU_GRAD = "FastbookReluGrad"; // gradients.ts's one-pass kernel

/**
 * The gradient at a ReLU's input from the gradient `dy` at its output `y`: dy·step(y), as TensorFlow.js's
 * Relu gradient takes it from the input x (y > 0 exactly where x > 0, and y is NaN where x is).
 */
function reluGradFromOutput(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (isOverridden(RELU_GRAD, "wasm")) return tf.engine().runKernel(RELU_GRAD, { dy, x: y }) as tf.Tensor;
  return tf.mul(dy, tf.step(y));
}

/**
 * Conv2d's forward pass (conv2d + bias) as one kernel, with a gradient that the engine asks for input by
 * input: unlike tf.fused.conv2d's, whose custom gradient always computes all three, so the images'
 * gradient would be computed for the first layer too. Saves an Add over the whole output, and its
 * gradient, per layer and step (about a tenth of the CNN's epoch). Registered twice: plain, and with a ReLU.
 */
function registerConvWithBias(convWithBias: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): void {
  for (const [name, relu] of [[CONV_BIAS, false], [CONV_BIAS_RELU, true]] as const) {
    overrideKernel(name, "wasm", (args: KernelArgs) => convWithBias({ ...args, attrs: { ...args.attrs, activation: relu ? "relu" : "linear" } }));
    overrideGradient({
      kernelName: name,
      inputsToSave: ["x", "filter"],
      outputsToSave: relu ? [true] : undefined,
      gradFunc: (dy, [x, filter, y], attrs) => {
        const { strides, pad } = attrs as unknown as { strides: [number, number]; pad: "same" | "valid" };
        const common = { strides, pad, dataFormat: "NHWC", dimRoundingMode: undefined };
        const run = (kernel: string, inputs: tf.NamedTensorMap, extra: object) =>
          tf.engine().runKernel(kernel, inputs, { ...common, ...extra } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const d = relu ? reluGradFromOutput(dy as tf.Tensor, y!) : (dy as tf.Tensor);
        return {
          x: () => run("Conv2DBackpropInput", { dy: d, filter: filter! }, { inputShape: x!.shape }),
          filter: () => run("Conv2DBackpropFilter", { x: x!, dy: d }, { filterShape: filter!.shape }),
          bias: () => tf.sum(d, [0, 1, 2]),
        };
      },
    });
  }
}

const LINEAR = "FastbookLinear";
const LINEAR_RELU = "FastbookLinearRelu"; // the same with the ReLU that follows it (Linear.forwardThenRelu)

/**
 * Linear's forward pass (x·weight + bias) as one kernel, with a gradient the engine asks for input by input
 * (the images' gradient is never computed for a first layer). TensorFlow.js's matMul and add are two kernels
 * forward and five backward (the add's gradient reshapes, sums and reshapes); in a small network's step each
 * kernel's dispatch costs more than its arithmetic. The values are those of matMul then add. Registered twice:
 * plain, and with a ReLU.
 */
function registerLinear(fusedMatMul: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): void {
  for (const [name, relu] of [[LINEAR, false], [LINEAR_RELU, true]] as const) {
    const attrs = { transposeA: false, transposeB: false, activation: relu ? "relu" : "linear" } as unknown as tf.NamedAttrMap;
    overrideKernel(name, "wasm", (args: KernelArgs) => {
      const { x, weight, bias } = args.inputs as Record<string, tf.TensorInfo>;
      return fusedMatMul({ ...args, inputs: { a: x!, b: weight!, bias: bias! }, attrs });
    });
    overrideGradient({
      kernelName: name,
      inputsToSave: ["x", "weight"],
      outputsToSave: relu ? [true] : undefined,
      gradFunc: (dy, [x, weight, y]) => {
        const run = (kernel: string, inputs: tf.NamedTensorMap, kernelAttrs: object) =>
          tf.engine().runKernel(kernel, inputs, kernelAttrs as unknown as tf.NamedAttrMap) as tf.Tensor;
        const d = relu ? reluGradFromOutput(dy as tf.Tensor, y!) : (dy as tf.Tensor);
        return {
          x: () => run("BatchMatMul", { a: d, b: weight! }, { transposeA: false, transposeB: true }),
          weight: () => run("BatchMatMul", { a: x!, b: d }, { transposeA: true, transposeB: false }),
          bias: () => run("Sum", { x: d }, { axis: [0], keepDims: false }),
        };
      },
    });
  }
}

/**
 * x·weight + bias for x [N, in], weight [in, out], bias [out], as one kernel on wasm with OpenBLAS (Linear's
 * forward pass), with relu(·) applied in the same kernel when `relu`; undefined elsewhere.
 */
export function linearWithBias(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, relu = false): tf.Tensor | undefined {
  if (!usingBlas() || !isOverridden(LINEAR, "wasm") || x.rank !== 2 || weight.rank !== 2 || bias.rank !== 1 || x.dtype !== "float32" || weight.dtype !== "float32" ||
      bias.dtype !== "float32" || x.shape[1] !== weight.shape[0] || bias.shape[0] !== weight.shape[1]) return undefined;
  return tf.engine().runKernel(relu ? LINEAR_RELU : LINEAR, { x, weight, bias }, {}) as tf.Tensor;
}

/**
 * conv2d(x, filter) + bias (NHWC) as one kernel on wasm with OpenBLAS (Conv2d's forward pass), with relu(·)
 * applied in the same kernel when `relu`; undefined elsewhere.
 */
export function conv2dWithBias(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, stride: number, pad: "same" | "valid", relu = false): tf.Tensor4D | undefined {
  if (!usingBlas()) return undefined;
  const attrs = { strides: [stride, stride], pad, dataFormat: "NHWC", dilations: [1, 1] };
  return tf.engine().runKernel(relu ? CONV_BIAS_RELU : CONV_BIAS, { x, filter, bias }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor4D;
}

/**
 * Puts OpenBLAS behind matMul and conv2d (forward and both gradients) on the wasm backend. Returns
 * whether it did; without OpenBLAS or koffi the wasm kernels stay.
 */
export function useBlasOnWasm(): boolean {
  const lib = loadBlas();
  const original = (name: string) => originalKernel(name, "wasm")?.kernelFunc;
  const override = (name: string, f: Parameters<typeof overrideKernel>[2]) => overrideKernel(name, "wasm", f);
  const matMul = original("BatchMatMul"), conv = original("Conv2D");
  if (!lib || !matMul || !conv) return false;
  const product = blasBatchMatMul(lib.sgemm, matMul);
  override("BatchMatMul", product);
  const sum = original("Sum");
  if (sum) override("Sum", blasSum(lib.sgemm, sum));
  const fusedMatMul = original("_FusedMatMul");
  if (fusedMatMul) {
    const fused = blasFusedMatMul(lib.sgemm, product as (args: KernelArgs) => tf.TensorInfo, fusedMatMul);
    override("_FusedMatMul", fused);
    registerLinear(fused); // Linear's x·weight + bias is this product and bias, with its own gradient
  }
  const k = conv2dKernels(lib.sgemm, {
    conv2d: conv, inputGrad: original("Conv2DBackpropInput"), filterGrad: original("Conv2DBackpropFilter"), fused: original("FusedConv2D"),
  });
  override("Conv2D", k.forward);
  override("FusedConv2D", k.fusedForward);
  registerConvWithBias(k.fusedForward);
  override("Conv2DBackpropInput", k.inputGrad);
  override("Conv2DBackpropFilter", k.filterGrad);
  return true;
}
