// How close each training case comes to this machine's limit, and where the rest of its time goes.
//
// The limit: the rate of one large float32 matrix product through the backend's matMul (on wasm that is
// OpenBLAS's sgemm on both cores, the same library PyTorch uses here). A case's useful arithmetic: the
// multiply-adds of the matrix products and convolutions in one training step (forward, input gradients,
// filter gradients, counted from each product's shapes), per item, times the items of an epoch. Dividing
// by an epoch's time gives a rate; its fraction of the limit says how much of the epoch is arithmetic.
//
// The profile: one training step (forward, backward, the optimizer's step, the loss read), its kernels
// grouped by kind, their time, and the rest of the wall time (op dispatch, the gradient tape, JavaScript
// between kernels).
import { tf, backward, SGD, setValueChecks, type LossFunc, type Module } from "fastbook-ts";
import { median } from "./config";

/** Multiply-adds per second of a 2048×2048 by 2048×2048 float32 product: the best of 5, after one untimed. */
export function matmulRate(n = 2048): number {
  const [a, b] = [tf.randomNormal([n, n], 0, 1, "float32", 1), tf.randomNormal([n, n], 0, 1, "float32", 2)];
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync(); // on a GPU backend the product is queued: wait for it
    times.push(performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  return n ** 3 / (Math.min(...times.slice(1)) / 1000);
}

type KernelRecord = { name: string; inputShapes: number[][]; outputShapes: number[][]; kernelTimeMs: number | { error: string } };

const PRODUCTS = new Set(["MatMul", "BatchMatMul", "_FusedMatMul", "FastbookLinear", "FastbookLinearRelu", "Conv2D", "FusedConv2D",
  "FastbookConv2dBias", "FastbookConv2dBiasRelu", "Conv2DBackpropInput", "Conv2DBackpropFilter", "DepthwiseConv2dNative"]);
const REDUCTIONS = new Set(["Sum", "Mean", "Max", "Min", "Prod", "ArgMax", "ArgMin", "All", "Any"]);
const MOVES = new Set(["Slice", "Concat", "PadV2", "MirrorPad", "Reshape", "Transpose", "Gather", "GatherV2", "Cast", "Identity",
  "Tile", "Pack", "Unpack", "StridedSlice", "Fill", "ZerosLike", "OnesLike", "Reverse"]);

/** Multiply-adds of one product kernel, from its shapes; 0 for any other kernel. */
export function kernelMacs(k: KernelRecord): number {
  const [a, b] = k.inputShapes, out = k.outputShapes[0] ?? [];
  const size = (s: number[] = []) => s.reduce((p, d) => p * d, 1);
  switch (k.name) {
    case "MatMul": case "BatchMatMul": case "_FusedMatMul": {
      // out [..., M, N]; the shared dimension is whichever of a's last two is not M (a may be transposed).
      const m = out.at(-2)!, kDim = a.at(-1) === m && a.at(-2) !== m ? a.at(-2)! : a.at(-1)!;
      return size(out) * kDim;
    }
    case "FastbookLinear": case "FastbookLinearRelu": // x [N, in] · weight [in, out] + bias (then relu)
      return size(out) * a.at(-1)!;
    case "Conv2D": case "FusedConv2D": case "FastbookConv2dBias": case "FastbookConv2dBiasRelu": // filter [kh, kw, in, out]
      return size(out) * b[0] * b[1] * b[2];
    case "DepthwiseConv2dNative": // filter [kh, kw, in, multiplier]
      return size(out) * b[0] * b[1];
    case "Conv2DBackpropInput": // dy [n, h, w, out], filter [kh, kw, in, out]: every dy value meets kh·kw·in taps
      return size(a) * b[0] * b[1] * b[2];
    case "Conv2DBackpropFilter": // x, dy, filter shape: each dy value meets kh·kw·in inputs
      return size(b) * size(k.outputShapes[0]) / (k.outputShapes[0].at(-1) ?? 1);
    default:
      return 0;
  }
}

export interface StepProfile {
  /** Multiply-adds of the products in one training step. */
  macs: number;
  /** Median wall time of a step, ms. */
  stepMs: number;
  /** Wall time of the profiled step, ms (profiling adds a little to it). */
  profiledMs: number;
  /** Kernel time by kind in the profiled step, ms; "other" is its wall time that no kernel accounts for. */
  kinds: Record<"products" | "elementwise" | "reductions" | "copies" | "other", number>;
  kernels: number;
  /** Values read back from the backend in one step. */
  reads: number;
}

const kindOf = (name: string) => (PRODUCTS.has(name) ? "products" : REDUCTIONS.has(name) ? "reductions" : MOVES.has(name) ? "copies" : "elementwise");

/**
 * One training step of `model` on (x, y) as the Learner runs it after a fit's first batch (value checks
 * off): the loss on the gradient tape, the optimizer's step and zeroGrad, the loss read once. Timed
 * over `runs` steps after 3 untimed, then profiled once. The model's weights change: use a throw-away
 * copy of the case's model.
 */
export async function profileStep(model: Module, lossFunc: LossFunc, x: tf.Tensor, y: tf.Tensor, lr: number, runs = 5): Promise<StepProfile> {
  model.train?.(true);
  const opt = SGD(model.parameters(), lr); // the Learner's default optimizer: p − lr·grad
  const step = () => {
    const loss = backward(() => lossFunc(model.forward(x), y) as tf.Scalar, opt.params, opt.grads);
    opt.step();
    opt.zeroGrad();
    loss.dataSync();
    loss.dispose();
  };
  const times: number[] = [];
  step(); // the first step checks the values of targets and predictions, as a fit's first batch does
  const checksBefore = setValueChecks(false);
  try {
    for (let i = 0; i < 2 + runs; i++) {
      const t0 = performance.now();
      step();
      if (i >= 2) times.push(performance.now() - t0);
    }
  } finally {
    setValueChecks(checksBefore);
  }
  // Count the reads of one step: wrap dataSync on the tensor prototype for its duration.
  const proto = Object.getPrototypeOf(tf.scalar(0)) as { dataSync: () => unknown; data: () => unknown };
  const [sync, async] = [proto.dataSync, proto.data];
  let counted = 0;
  proto.dataSync = function (this: unknown) { counted++; return sync.call(this); };
  proto.data = function (this: unknown) { counted++; return async.call(this); };
  let info: Awaited<ReturnType<typeof tf.profile>>;
  const checks = setValueChecks(false); // as the Learner does after a fit's first batch
  const t0 = performance.now();
  try {
    info = await tf.profile(() => { step(); });
  } finally {
    proto.dataSync = sync;
    proto.data = async;
    setValueChecks(checks);
  }
  // Only registered kernels: a custom op's scope is listed too, and its time already holds its kernels'.
  const kernels = (info.kernels as unknown as KernelRecord[]).filter((k) => tf.getKernel(k.name, tf.getBackend()) !== undefined);
  const profiledMs = performance.now() - t0;
  const kinds = { products: 0, elementwise: 0, reductions: 0, copies: 0, other: 0 };
  for (const k of kernels) kinds[kindOf(k.name)] += typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
  kinds.other = Math.max(0, profiledMs - (kinds.products + kinds.elementwise + kinds.reductions + kinds.copies));
  return { macs: kernels.reduce((s, k) => s + kernelMacs(k), 0), stepMs: median(times), profiledMs, kinds, kernels: kernels.length, reads: counted };
}
