// conv2d and both of its gradients as matrix products through OpenBLAS, on the wasm backend.
//
// The wasm backend has no kernel for conv2d's filter gradient, and its input-gradient kernel is slow. With
// OpenBLAS present (blas.ts), each of the three becomes one sgemm on an "im2col" matrix: one row per
// output pixel, holding the kh·kw·ci input values its filter window covers. For NHWC input and TF's
// [kh, kw, ci, co] filters, that row order matches the filter's memory, so the filter is used as it is:
//   forward        out[M, co]      = cols[M, K] · filter[K, co]        (M = n·oh·ow, K = kh·kw·ci)
//   filter grad    dfilter[K, co]  = colsᵀ · dy[M, co]
//   input grad     dcols[M, K]     = dy · filterᵀ, then added back into dx window by window (col2im)
// With few channels (the 4- and 8-channel levels of a U-Net at 128x128) all three are direct loops instead
// (conv-loops.wat): the [M, K] matrix would be nine times the input, written and read back.
import { tf } from "../tf";
import { f32At, heapView, offsetOf, type KernelArgs, type WasmBackend } from "./wasm-heap";
import { NO_TRANS, ROW_MAJOR, THREADED_FROM, TRANS, addBias, isRowBias, type Sgemm } from "./blas-common";
import { CONV_LOOPS_WASM } from "./conv-loops-wasm";

type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type ConvAttrs = { strides: number | [number, number]; pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding; dataFormat?: string; dilations?: number | [number, number]; dimRoundingMode?: "floor" | "round" | "ceil" };

// The loops themselves are a small wasm module (conv-loops.wat) that works in the backend's own heap.
interface ConvLoops {
  im2col(x: number, out: number, ...geometry: number[]): void;
  col2im(cols: number, dx: number, ...geometry: number[]): void;
  convDirect(x: number, f: number, out: number, ...geometryAndCo: number[]): void;
  convFilterGrad(x: number, dy: number, out: number, ...geometryAndCo: number[]): void;
  reluGrad(x: number, dy: number, out: number, count: number): void;
  reluInPlace(p: number, count: number): void;
  binaryRows(op: number, a: number, b: number, out: number, rows: number, cols: number): void;
  binaryScalar(op: number, a: number, s: number, out: number, count: number): void;
  gatherRows(x: number, idx: number, out: number, count: number, rowBytes: number, group: number): void;
  firstBadRow(idx: number, count: number, n: number): number;
  copyRows(src: number, srcStride: number, dst: number, dstStride: number, rows: number, bytes: number, zeroRest: number): void;
  softmaxRows(x: number, p: number, stats: number, n: number, c: number): void;
  conv1Direct(x: number, f: number, bias: number, out: number, ...geometryAndCo: number[]): void;
  conv1FilterGrad(x: number, dy: number, out: number, tot: number, ...geometryAndCo: number[]): void;
  channelDots(a: number, b: number, ma: number, mb: number, pixels: number, c: number, out: number): void;
  meanMiddle(x: number, out: number, outer: number, mid: number, inner: number): void;
  spreadMiddle(dy: number, out: number, outer: number, mid: number, inner: number): void;
  channelAffine(a: number, b: number, out: number, ka: number, kb: number, k0: number, pixels: number, c: number): void;
}
export type Heap = WasmBackend & { wasm: { _malloc(bytes: number): number; _free(ptr: number): void; asm: { memory: object } } };

// Node's WebAssembly (the lib is compiled without the DOM's type declarations).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

let loops: ConvLoops | undefined;
let boundTo: object | undefined; // the heap the module and the blocks below belong to

export function convLoops(backend: Heap): ConvLoops {
  if (!loops || boundTo !== backend.wasm.asm.memory) {
    // First use, or a new wasm backend (a new heap): the old blocks' offsets mean nothing there.
    boundTo = backend.wasm.asm.memory;
    const module = new WebAssembly.Module(Buffer.from(CONV_LOOPS_WASM, "base64"));
    loops = new WebAssembly.Instance(module, { env: { memory: boundTo } }).exports as unknown as ConvLoops;
    for (const block of [scratch, wideB, wideC, partCols]) block.forget();
    recent.clear();
  }
  return loops;
}

/** Room on the heap for a few per-channel vectors (8 bytes per channel each); `at` gives each one's offset. Freed by `done`. */
export function perChannel(backend: Heap, c: number, count: number) {
  const base = backend.wasm._malloc(count * 8 * c) >>> 0;
  return {
    at: (i: number) => base + i * 8 * c,
    f32: (i: number) => new Float32Array(backend.wasm.HEAPU8.buffer, base + i * 8 * c, c),
    f64: (i: number) => new Float64Array(backend.wasm.HEAPU8.buffer, base + i * 8 * c, c),
    done: () => backend.wasm._free(base),
  };
}

const geometry = (ci: ConvInfo) => [ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels, ci.outHeight, ci.outWidth,
  ci.strideHeight, ci.strideWidth, ci.filterHeight, ci.filterWidth, ci.padInfo.top, ci.padInfo.left];

/** A block of the wasm heap, kept and reused until a bigger one is needed. */
class HeapBlock {
  ptr = 0;
  private bytes = 0;
  reserve(backend: Heap, floats: number): number {
    if (floats * 4 > this.bytes) {
      this.release(backend);
      this.ptr = backend.wasm._malloc(floats * 4) >>> 0;
      this.bytes = floats * 4;
    }
    return this.ptr;
  }
  release(backend: Heap): void {
    if (this.ptr) backend.wasm._free(this.ptr);
    this.forget();
  }
  forget(): void {
    this.ptr = this.bytes = 0;
  }
}

// Scratch for the input gradient's matrix, and for products computed wider (widened).
const scratch = new HeapBlock(), wideB = new HeapBlock(), wideC = new HeapBlock();

/**
 * OpenBLAS's kernels make a product's result 8 or 16 columns at a time. Where its width is not a multiple of
 * 8 (the chapter's 30-unit layer), the last columns go through slow edge code: 256×784 by 784×30 took 164 µs
 * on one thread, by 784×32 126 µs; that layer's weight gradient (784×256 by 256×30) 145 µs against 111.
 * Such products (widths 9-63, an inner size of 64 or more, at least 65,536 rows × inner) are made 8-aligned: B
 * widened with zero columns (or zero rows, transposed), the result written to a wider block and its first
 * columns copied out. Each value is the same dot product as before. With a short inner size the copy would
 * cost about as much as the product (a U-Net's input gradient: 36 columns, 9·4, over an inner size of a few
 * output channels): those, anything else and operands off the wasm heap go straight through.
 */
export function widened(sgemm: Sgemm): Sgemm {
  return (order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
    const wide = n % 8 && n > 8 && n < 64 && k >= 64 && m * k >= 65536 && order === ROW_MAJOR;
    const backend = wide ? tf.findBackend("wasm") as unknown as Heap | undefined : undefined;
    const heap = backend?.wasm.HEAPU8.buffer;
    if (!backend || b.buffer !== heap || c.buffer !== heap) return sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    const w = (n + 7) & ~7;
    // Offsets first: reserving the blocks may grow the heap, which leaves the views given here detached.
    const aAt = a.buffer === heap ? a.byteOffset : -1, aLength = a.length, bAt = b.byteOffset, cAt = c.byteOffset;
    const wb = wideB.reserve(backend, w * k), wc = wideC.reserve(backend, m * w);
    const run = convLoops(backend);
    if (tb === NO_TRANS) {
      run.copyRows(bAt, ldb * 4, wb, w * 4, k, n * 4, 1); // [k, n] rows into [k, w] rows
    } else {
      run.copyRows(bAt, ldb * 4, wb, k * 4, n, k * 4, 0); // [n, k] rows, then w - n rows of zeros
      run.copyRows(0, 0, wb + n * k * 4, k * 4, w - n, 0, 1);
    }
    if (beta !== 0) run.copyRows(cAt, ldc * 4, wc, w * 4, m, n * 4, 1);
    sgemm(order, ta, tb, m, w, k, alpha, aAt >= 0 ? f32At(backend, aAt, aLength) : a, lda, f32At(backend, wb, w * k), tb === NO_TRANS ? w : k, beta, f32At(backend, wc, m * w), w);
    run.copyRows(wc, w * 4, cAt, ldc * 4, m, n * 4, 0);
  };
}

// The im2col matrix of the latest input per convolution geometry. A training step's backward pass asks
// for the filter gradient of the very input its forward pass just spread out: it is reused, not rebuilt.
// Tensor data never changes, so the same dataId means the same values. At most MAX_RECENT geometries.
const recent = new Map<string, { dataId: object; block: HeapBlock }>();
const MAX_RECENT = 16;

/** Heap offset of the im2col matrix of `x`. */
function colsOf(backend: Heap, x: tf.TensorInfo, ci: ConvInfo): number {
  const run = convLoops(backend);
  const key = `${geometry(ci)}|${ci.outChannels}`;
  const slot = recent.get(key);
  if (slot?.dataId === x.dataId) return slot.block.ptr;
  const block = slot?.block ?? new HeapBlock();
  const ptr = block.reserve(backend, rowsOf(ci) * depthOf(ci));
  run.im2col(offsetOf(backend, x), ptr, ...geometry(ci));
  recent.delete(key);
  recent.set(key, { dataId: x.dataId, block });
  if (recent.size > MAX_RECENT) {
    const [oldest, old] = recent.entries().next().value!;
    old.block.release(backend);
    recent.delete(oldest);
  }
  return ptr;
}

/** The convolution's geometry, or null where these kernels do not apply (NCHW, dilation > 1). */
function convInfo(xShape: number[], filterShape: number[], a: ConvAttrs): ConvInfo | null {
  if (a.dataFormat !== undefined && a.dataFormat !== "NHWC") return null;
  const dil = a.dilations ?? 1;
  if ((Array.isArray(dil) ? dil : [dil, dil]).some((d) => d !== 1)) return null;
  return tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    a.strides, 1, a.pad, a.dimRoundingMode, false, "channelsLast");
}

/**
 * Few channels (the 4- and 8-channel levels of a U-Net at 128x128): all three as direct loops (conv-loops.wat)
 * at stride 1, up to this many multiply-adds per pixel (kh·kw·ci·co: 3x3 with 8 channels in and out). There
 * the im2col matrix (nine times the input) costs more to write and read than the arithmetic, and sgemm's
 * products with four or eight columns run far below its rate. The loops take channels four at a time.
 */
const DIRECT_MAX_WORK = 9 * 8 * 8;
const isDirect = (ci: ConvInfo, co: number) => ci.strideHeight === 1 && ci.strideWidth === 1 &&
  ci.inChannels % 4 === 0 && co % 4 === 0 && ci.filterHeight * ci.filterWidth * ci.inChannels * co <= DIRECT_MAX_WORK;

/**
 * One input channel (an image's first layer: MNIST's 28x28x1, the U-Net's 128x128x1), any stride: forward and
 * filter gradient as direct loops, up to this many multiply-adds per output pixel (kh·kw·co: 3x3 to 16
 * channels). There the im2col matrix is nine copies of the image in runs of one value, and the product with
 * few columns runs far below sgemm's rate: a 3x3 stride-2 convolution of 256 MNIST images to 8 channels took
 * 1.36 ms that way. Larger filters (resnet18's 7x7 stem to 64 channels) keep im2col and sgemm.
 */
const DIRECT1_MAX_WORK = 9 * 16;
const geometry1 = (ci: ConvInfo) => [ci.batchSize, ci.inHeight, ci.inWidth, ci.outHeight, ci.outWidth,
  ci.strideHeight, ci.strideWidth, ci.filterHeight, ci.filterWidth, ci.padInfo.top, ci.padInfo.left, ci.outChannels];
const isDirect1 = (ci: ConvInfo, co: number) => ci.inChannels === 1 && co % 4 === 0 && co <= 16 &&
  ci.filterHeight * ci.filterWidth * co <= DIRECT1_MAX_WORK;

/**
 * How much of a convolution's [rows, kh·kw·ci] matrix is made at a time where it goes in parts (whole images
 * each time). The input gradient's matrix (dy·filterᵀ, nine times dy's size for a 3x3 filter) is made and added
 * into dx (col2im) in such parts instead of for the whole batch: the part stays in the L2 cache between the
 * product that writes it and the loop that reads it. That pays where the product's inner size, the layer's
 * output channels, is at most DX_PARTS_UP_TO: there writing the matrix, not the arithmetic, bounds it. For the
 * CNN of notebook 04b (batch of 256), a layer's input gradient took 10-25% less time so (1,100-1,150 µs against
 * 980-990 for the second layer, 890-1,040 against 780-860 for the third), and the U-Net's levels up to 32% less. With 64 channels and more (resnet18's layers) the product
 * is bound by arithmetic, and smaller products (one thread each, instead of two) took up to twice as long.
 */
const PART_BYTES = 256 * 1024;
const DX_PARTS_UP_TO = 32;

/**
 * A convolution whose product runs on one thread (under THREADED_FROM multiply-adds: the second and fourth
 * layers of 04b's CNN, resnet18's 1x1 shortcuts) goes a few images at a time, forward and filter gradient alike:
 * im2col writes a part of the matrix (PART_BYTES) and sgemm reads it from the L2 cache. The filter gradient
 * then makes its parts again, since the forward pass no longer keeps a whole matrix, and adds their products
 * up. Epochs of (d) alternating between the two ways in one process: 3-12% faster so (three runs), (f) 5%.
 * Larger products keep the whole matrix: on two threads the parts' smaller products lose more than the cache
 * saves (as for the input gradient with many channels).
 */
const partCols = new HeapBlock();
const inParts = (m: number, k: number, co: number) => m * k * co < THREADED_FROM;
/** How a convolution's batch is cut into parts of about PART_BYTES of im2col matrix, whole images each. */
function parts(ci: ConvInfo, k: number) {
  const perImage = ci.outHeight * ci.outWidth;
  const images = Math.max(1, Math.min(ci.batchSize, Math.floor(PART_BYTES / (perImage * k * 4))));
  const [, ...rest] = geometry(ci);
  return { images, perImage, inImage: ci.inHeight * ci.inWidth * ci.inChannels, rest };
}

/**
 * For each part of x's batch: im2col writes its matrix (partCols), then `use(first, rows, cols)` gets its first
 * image, its number of rows and a view of that matrix.
 */
function eachPartMatrix(backend: Heap, x: tf.TensorInfo, ci: ConvInfo, k: number, use: (first: number, rows: number, cols: Float32Array) => void): void {
  const { images, perImage, inImage, rest } = parts(ci, k);
  const c = partCols.reserve(backend, images * perImage * k), xAt = offsetOf(backend, x);
  for (let b = 0; b < ci.batchSize; b += images) {
    const rows = Math.min(images, ci.batchSize - b) * perImage;
    convLoops(backend).im2col(xAt + b * inImage * 4, c, rows / perImage, ...rest);
    use(b, rows, f32At(backend, c, rows * k));
  }
}

const rowsOf = (ci: ConvInfo) => ci.batchSize * ci.outHeight * ci.outWidth;
const depthOf = (ci: ConvInfo) => ci.filterHeight * ci.filterWidth * ci.inChannels;

/** Whether `t` has exactly the shape the convolution's geometry gives (ops do not check dy against it). */
const hasShape = (t: tf.TensorInfo, shape: number[]) => t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);

/** max(v, 0) in place over a fused kernel's output, as tf.relu gives it (NaN stays NaN, −0 becomes 0). */
export function reluInPlace(backend: Heap, out: tf.TensorInfo): void {
  convLoops(backend).reluInPlace(offsetOf(backend, out), tf.util.sizeFromShape(out.shape));
}

export function conv2dKernels(sgemm: Sgemm, original: { conv2d: tf.KernelFunc; inputGrad?: tf.KernelFunc; filterGrad?: tf.KernelFunc; fused?: tf.KernelFunc }) {
  /** conv2d, plus a per-channel bias and relu for the fused op (tf.fused.conv2d). */
  const convolve = (args: KernelArgs, fallback: tf.KernelFunc | undefined) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as ConvAttrs & { activation?: string };
    const ci = convInfo(x!.shape, filter!.shape, attrs);
    const activation = attrs.activation ?? "linear";
    if (!ci || x!.dtype !== "float32" || preluActivationWeights || (activation !== "linear" && activation !== "relu") ||
        !isRowBias(bias, ci.outChannels)) {
      if (fallback) return fallback(args);
      throw new Error("This fused conv2d (activation, bias shape or layout) is not supported on wasm; use the cpu backend.");
    }
    const backend = args.backend as unknown as Heap;
    const out = backend.makeOutput(ci.outShape, "float32");
    const m = rowsOf(ci), k = depthOf(ci), co = ci.outChannels;
    if (m * co === 0) return out;
    if (k === 0) heapView(backend, out).fill(0);
    else if (isDirect(ci, co)) {
      convLoops(backend).convDirect(offsetOf(backend, x!), offsetOf(backend, filter!), offsetOf(backend, out), ...geometry(ci), co);
    } else if (isDirect1(ci, co)) { // the bias added in the same pass
      convLoops(backend).conv1Direct(offsetOf(backend, x!), offsetOf(backend, filter!), bias ? offsetOf(backend, bias) : 0,
        offsetOf(backend, out), ...geometry1(ci));
      if (activation === "relu") reluInPlace(backend, out);
      return out;
    } else if (inParts(m, k, co)) {
      const outAt = offsetOf(backend, out), perImage = ci.outHeight * ci.outWidth;
      eachPartMatrix(backend, x!, ci, k, (b, rows, cols) => sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, co, k, 1, cols, k,
        heapView(backend, filter!) as Float32Array, co, 0, f32At(backend, outAt + b * perImage * co * 4, rows * co), co));
    } else {
      const c = colsOf(backend, x!, ci);
      sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, m, co, k, 1, f32At(backend, c, m * k), k,
        heapView(backend, filter!) as Float32Array, co, 0, heapView(backend, out) as Float32Array, co);
    }
    addBias(sgemm, backend, bias, out, m, co);
    if (activation === "relu") reluInPlace(backend, out);
    return out;
  };
  const forward = (args: KernelArgs) => convolve(args, original.conv2d);
  const fusedForward = (args: KernelArgs) => convolve(args, original.fused);

  const filterGrad = (args: KernelArgs) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
    const ci = convInfo(x.shape, a.filterShape, a);
    // Other layouts, dilations and dtypes, or a dy not shaped as this convolution's output, go to the kernel
    // this one replaces (the cpu backend's, on wasm).
    if (!ci || x.dtype !== "float32" || dy.dtype !== "float32" || !hasShape(dy, ci.outShape)) {
      if (original.filterGrad) return original.filterGrad(args);
      throw new Error("conv2d's filter gradient on wasm supports float32 NHWC without dilation only; use the cpu backend for other layouts.");
    }
    const backend = args.backend as unknown as Heap;
    const out = backend.makeOutput(a.filterShape, "float32");
    const m = rowsOf(ci), k = depthOf(ci), co = ci.outChannels;
    if (k * co === 0) return out;
    if (m === 0) { heapView(backend, out).fill(0); return out; }
    if (isDirect(ci, co)) {
      convLoops(backend).convFilterGrad(offsetOf(backend, x), offsetOf(backend, dy), offsetOf(backend, out), ci.batchSize,
        ci.inHeight, ci.inWidth, ci.inChannels, ci.outHeight, ci.outWidth, ci.filterHeight, ci.filterWidth, ci.padInfo.top, ci.padInfo.left, co);
      return out;
    }
    if (isDirect1(ci, co)) {
      const tot = scratch.reserve(backend, 2 * k * co); // k·co float64 sums
      convLoops(backend).conv1FilterGrad(offsetOf(backend, x), offsetOf(backend, dy), offsetOf(backend, out), tot, ...geometry1(ci));
      return out;
    }
    if (inParts(m, k, co)) {
      const dyAt = offsetOf(backend, dy), perImage = ci.outHeight * ci.outWidth;
      eachPartMatrix(backend, x, ci, k, (b, rows, cols) => sgemm(ROW_MAJOR, TRANS, NO_TRANS, k, co, rows, 1, cols, k,
        f32At(backend, dyAt + b * perImage * co * 4, rows * co), co, b === 0 ? 0 : 1, heapView(backend, out) as Float32Array, co));
      return out;
    }
    const c = colsOf(backend, x, ci);
    sgemm(ROW_MAJOR, TRANS, NO_TRANS, k, co, m, 1, f32At(backend, c, m * k), k,
      heapView(backend, dy) as Float32Array, co, 0, heapView(backend, out) as Float32Array, co);
    return out;
  };

  const inputGrad = (args: KernelArgs) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
    const ci = convInfo(a.inputShape, filter.shape, a);
    // conv2dTranspose passes its input as dy without checking it against the geometry: a dy larger than this
    // convolution's output is read with its own strides (its top-left corner), as the original kernel and cpu
    // do, not as a packed [rows, channels] matrix. A conv2d's own gradient always has the output's shape.
    if (!ci || dy.dtype !== "float32" || filter.dtype !== "float32" || !hasShape(dy, ci.outShape)) {
      if (original.inputGrad) return original.inputGrad(args);
      throw new Error("conv2d's input gradient on wasm supports NHWC without dilation only.");
    }
    const backend = args.backend as unknown as Heap;
    const out = backend.makeOutput(a.inputShape, "float32");
    const m = rowsOf(ci), k = depthOf(ci), co = ci.outChannels;
    if (m * k === 0 || co === 0) { heapView(backend, out).fill(0); return out; }
    const run = convLoops(backend);
    if (isDirect(ci, co)) {
      // With stride 1 the input gradient is a convolution of dy with the filter turned half a circle and its
      // channels swapped, padded so that every output pixel's window is reached: kh − 1 − top above.
      const [kh, kw, cin] = [ci.filterHeight, ci.filterWidth, ci.inChannels];
      const size = kh * kw * cin * co, ptr = scratch.reserve(backend, size); // before the views: it may grow the heap
      const f = heapView(backend, filter) as Float32Array, turned = f32At(backend, ptr, size);
      for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) for (let c = 0; c < cin; c++) for (let o = 0; o < co; o++) {
        turned[((ky * kw + kx) * co + o) * cin + c] = f[(((kh - 1 - ky) * kw + (kw - 1 - kx)) * cin + c) * co + o]!;
      }
      run.convDirect(offsetOf(backend, dy), ptr, offsetOf(backend, out), ci.batchSize, ci.outHeight, ci.outWidth, co,
        ci.inHeight, ci.inWidth, 1, 1, kh, kw, kh - 1 - ci.padInfo.top, kw - 1 - ci.padInfo.left, cin);
      return out;
    }
    // Few output channels: a few images at a time, each part's matrix added into dx while still in cache (PART_BYTES).
    const n = ci.batchSize, { perImage, inImage, rest, ...p } = parts(ci, k), images = co > DX_PARTS_UP_TO ? n : p.images;
    const c = scratch.reserve(backend, images * perImage * k);
    const dyAt = offsetOf(backend, dy), outAt = offsetOf(backend, out);
    const f = heapView(backend, filter) as Float32Array;
    for (let b = 0; b < n; b += images) {
      const nb = Math.min(images, n - b), rows = nb * perImage;
      sgemm(ROW_MAJOR, NO_TRANS, TRANS, rows, k, co, 1, f32At(backend, dyAt + b * perImage * co * 4, rows * co), co,
        f, co, 0, f32At(backend, c, rows * k), k);
      run.col2im(c, outAt + b * inImage * 4, nb, ...rest);
    }
    return out;
  };

  return { forward, fusedForward, filterGrad, inputGrad };
}
