// Kernels the engine puts on webgpu.
//
// ReLU: tfjs-backend-webgpu's shader, select(a, 0.0, a < 0.0), keeps NaN as WGSL defines it, but NVIDIA's
// Vulkan driver compiles it to something that gives 0 for NaN (seen on an H200 in TensorFlow.js's op suite),
// so a diverged layer would look finite after its ReLU. This one decides on the value's bits, which no
// compiler may treat as a float comparison: negative numbers (and -0) become 0, everything else, NaN
// included, passes as it is, as on cpu (Math.max(0, x)).
//
// The two training losses and their gradients, as on wasm (loss-kernels.ts): on a GPU each kernel a step
// dispatches costs a fixed time whatever it computes (bench/README.md, "GPU"), and written with plain ops
// a loss and its gradient are about twenty. Here the loss is one kernel (crossEntropy: two, the softmax
// being the second output) and its gradient one.
import { tf } from "../tf";
import type { KernelArgs } from "./wasm-heap";
import { overrideKernel } from "./registry";
import { CE, CE_GRAD, MNIST, MNIST_GRAD, useLossGradients } from "./loss-kernels";

type Uniform = { type: "int32" | "float32"; data: number[] };
interface WebgpuBackend { runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: Uniform[]): tf.TensorInfo }
interface WebgpuUtil {
  flatDispatchLayout(shape: number[]): { x: number[] };
  computeDispatch(layout: { x: number[] }, shape: number[], workgroupSize: [number, number, number]): [number, number, number];
}

const WORKGROUP: [number, number, number] = [128, 1, 1];
const REDUCE = 256; // threads of the one workgroup that sums a loss

let util: WebgpuUtil | undefined;
const webgpuUtil = () => (util ??= (require("@tensorflow/tfjs-backend-webgpu") as { webgpu_util: WebgpuUtil }).webgpu_util);

/**
 * One thread per output element; `main(index)` guards with uniforms.size. Inputs are read by name, flat,
 * through f32() or i32(): a float32 tensor cast from int32 or bool keeps its int32 buffer on webgpu.
 */
function elementwise(key: string, inputs: string[], shape: number[], body: string): object {
  const dispatchLayout = webgpuUtil().flatDispatchLayout(shape);
  return {
    variableNames: inputs, size: true, workgroupSize: WORKGROUP, outputShape: shape, dispatchLayout,
    dispatch: webgpuUtil().computeDispatch(dispatchLayout, shape, WORKGROUP), shaderKey: `fastbook_${key}`,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/**
 * One workgroup: thread k adds up `term(i)` for i = k, k + 256, ... below `count`, then the workgroup sums
 * the 256 partial sums; the result, divided by `count`, is the output's one value (NaN when count is 0).
 */
function meanOf(key: string, inputs: string[], count: string, term: string, uniforms = ""): object {
  return {
    variableNames: inputs, workgroupSize: [REDUCE, 1, 1], outputShape: [1], dispatchLayout: { x: [0] }, dispatch: [1, 1, 1],
    shaderKey: `fastbook_${key}`, ...(uniforms ? { uniforms } : {}),
    getUserCode: () => `
      var<workgroup> partial : array<f32, ${REDUCE}>;
      fn term(i : i32) -> f32 {
        ${term}
      }
      fn main(index : i32) {
        let count = ${count};
        var total = 0.0;
        for (var i = index; i < count; i = i + ${REDUCE}) { total = total + term(i); }
        partial[index] = total;
        workgroupBarrier();
        for (var half = ${REDUCE / 2}; half > 0; half = half / 2) {
          if (index < half) { partial[index] = partial[index] + partial[index + half]; }
          workgroupBarrier();
        }
        if (index == 0) { result[0] = select(partial[0] / f32(count), uniforms.NAN, count == 0); }
      }`,
  };
}

const SIGMOID = "1.0 / (1.0 + exp(-f32(logits[i])))";
// Row `row` of logits [n, c]: its largest value m and the sum of exp(x - m) (what softmax and its log need).
const ROW_STATS = `
        let c = uniforms.logitsShape.y;
        var m = f32(logits[row * c]);
        for (var j = 1; j < c; j = j + 1) { m = max(m, f32(logits[row * c + j])); }
        var sum = 0.0;
        for (var j = 0; j < c; j = j + 1) { sum = sum + exp(f32(logits[row * c + j]) - m); }`;

const scalar = (t: tf.TensorInfo): tf.TensorInfo => ({ ...t, shape: [] });

function mnistLoss({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { logits, targets } = inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
  const n = tf.util.sizeFromShape(logits.shape);
  const program = meanOf("mnist_loss", ["logits", "targets"], "uniforms.n",
    `let s = ${SIGMOID};\n        return select(s, 1.0 - s, f32(targets[i]) == 1.0);`, "n : i32,");
  return scalar((backend as unknown as WebgpuBackend).runWebGPUProgram(program, [logits, targets], "float32", [{ type: "int32", data: [n] }]));
}

function mnistLossGrad({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { logits, targets, dy } = inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo; dy: tf.TensorInfo };
  // ∓σ(x)(1 - σ(x)) · dy / n: minus where the target is 1.
  const program = elementwise("mnist_loss_grad", ["logits", "targets", "dy"], logits.shape, `
          let i = index;
          let scale = f32(dy[0]) / f32(uniforms.size);
          let s = ${SIGMOID};
          setOutputAtIndex(index, select(scale, -scale, f32(targets[i]) == 1.0) * s * (1.0 - s));`);
  return (backend as unknown as WebgpuBackend).runWebGPUProgram(program, [logits, targets, dy], "float32");
}

/** The mean over rows of m + ln(sum) − logit[label] (NaN for a label outside 0..c-1), and the softmax. */
function softmaxCrossEntropy({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const { logits, labels } = inputs as { logits: tf.TensorInfo; labels: tf.TensorInfo };
  const gpu = backend as unknown as WebgpuBackend;
  const probs = gpu.runWebGPUProgram(elementwise("softmax_rows", ["logits"], logits.shape, `
          let row = index / uniforms.logitsShape.y;${ROW_STATS}
          setOutputAtIndex(index, exp(f32(logits[index]) - m) / sum);`), [logits], "float32");
  const loss = gpu.runWebGPUProgram(meanOf("softmax_cross_entropy", ["logits", "labels"], "uniforms.logitsShape.x * i32(uniforms.logitsShape.y > 0)", `
        let row = i;${ROW_STATS}
        let label = i32(labels[row]);
        let inRange = label >= 0 && label < c;
        return select(uniforms.NAN, m + log(sum) - f32(logits[row * c + clamp(label, 0, c - 1)]), inRange);`), [logits, labels], "float32");
  return [scalar(loss), probs];
}

/** (softmax − onehot(label)) · dy / n, from the softmax the forward kernel kept. */
function softmaxCrossEntropyGrad({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { probs, labels, dy } = inputs as { probs: tf.TensorInfo; labels: tf.TensorInfo; dy: tf.TensorInfo };
  const program = elementwise("softmax_cross_entropy_grad", ["probs", "labels", "dy"], probs.shape, `
          let c = uniforms.probsShape.y;
          let row = index / c;
          let scale = f32(dy[0]) / f32(uniforms.probsShape.x);
          setOutputAtIndex(index, (f32(probs[index]) - select(0.0, 1.0, index - row * c == i32(labels[row]))) * scale);`);
  return (backend as unknown as WebgpuBackend).runWebGPUProgram(program, [probs, labels, dy], "float32");
}

/** ReLU by the value's bits (see the top of this file). */
function relu(args: KernelArgs, stock: tf.KernelConfig | undefined): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype !== "float32") return stock!.kernelFunc(args) as tf.TensorInfo;
  const program = elementwise("relu_keeps_nan", ["A"], x.shape, `
          let a = f32(A[index]);
          let bits = bitcast<u32>(a);
          // Sign bit set and not NaN (at most -Infinity's bits): 0, else the value itself.
          setOutputAtIndex(index, select(a, 0.0, bits >= 0x80000000u && bits <= 0xff800000u));`);
  return (args.backend as unknown as WebgpuBackend).runWebGPUProgram(program, [x], "float32");
}

/** Puts these kernels on webgpu: tf.relu (float32), and the losses' single kernels with their gradients. */
export function useKernelsOnWebgpu(): void {
  const stock = overrideKernel("Relu", "webgpu", (args) => relu(args, stock));
  const kernels: [string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]][] = [
    [CE, softmaxCrossEntropy], [CE_GRAD, softmaxCrossEntropyGrad], [MNIST, mnistLoss], [MNIST_GRAD, mnistLossGrad],
  ];
  for (const [kernelName, kernelFunc] of kernels) overrideKernel(kernelName, "webgpu", kernelFunc);
  useLossGradients();
}
