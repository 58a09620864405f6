// Add, Sub and Multiply on the wasm backend as one SIMD pass (conv-loops.wat) for the shapes a training step
// makes: equal shapes (the optimizer's p − lr·grad), a scalar (lr·grad), and a row added to every row (a
// Linear layer's bias). TensorFlow.js's wasm kernels take 2-3 times as long on these, and in a small network's
// step they are a tenth of the time. The arithmetic is the same (one float32 operation per value); anything
// else (other dtypes, other broadcasts) goes to the original kernel.
import { tf } from "../tf";
import { heapView, offsetOf, type KernelArgs } from "./wasm-heap";
import { originalKernel, overrideKernel } from "./registry";
import { convLoops, type Heap } from "./blas-conv";

const OPS = { Add: 0, Sub: 1, Multiply: 2 } as const;
const REVERSED_SUB = 3; // b − a
type OpName = keyof typeof OPS;

/** How the operands line up: `full` has the output's shape, `other` is the same size, one value, or a trailing row of it. */
interface BinaryPlan { full: tf.TensorInfo; other: tf.TensorInfo; swapped: boolean; rows: number; cols: number; scalar: boolean }

/** The plan for full ∘ other, or undefined where the kernel does not apply. */
function planBinary(a: tf.TensorInfo, b: tf.TensorInfo): BinaryPlan | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const out = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const swapped = !tf.util.arraysEqual(a.shape, out);
  if (swapped && !tf.util.arraysEqual(b.shape, out)) return undefined; // both broadcast: not handled here
  const [full, other] = swapped ? [b, a] : [a, b];
  const n = tf.util.sizeFromShape(out), m = tf.util.sizeFromShape(other.shape);
  if (m === n) return { full, other, swapped, rows: 1, cols: n, scalar: false };
  if (m === 1) return { full, other, swapped, rows: n, cols: 1, scalar: true };
  // other's shape without leading ones must be the output's trailing axes: one row repeated.
  const trailing = other.shape.slice(other.shape.findIndex((d) => d !== 1));
  if (m === 0 || !tf.util.arraysEqual(trailing, out.slice(out.length - trailing.length))) return undefined;
  return { full, other, swapped, rows: n / m, cols: m, scalar: false };
}

function binaryKernel(name: OpName, fallback: tf.KernelFunc) {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const plan = planBinary(a, b);
    if (!plan) return fallback(args);
    const backend = args.backend as unknown as Heap;
    const out = backend.makeOutput(plan.full.shape, "float32");
    if (plan.rows * plan.cols === 0) return out;
    const op = plan.swapped && name === "Sub" ? REVERSED_SUB : OPS[name]; // + and · are commutative in float32 too
    const run = convLoops(backend);
    if (plan.scalar) {
      run.binaryScalar(op, offsetOf(backend, plan.full), heapView(backend, plan.other)[0]!, offsetOf(backend, out), plan.rows);
    } else {
      run.binaryRows(op, offsetOf(backend, plan.full), offsetOf(backend, plan.other), offsetOf(backend, out), plan.rows, plan.cols);
    }
    return out;
  };
}

/** Puts the one-pass kernels behind Add, Sub and Multiply on wasm (after the cpu fallback's base layer). */
export function useElementwiseKernelsOnWasm(): void {
  for (const name of Object.keys(OPS) as OpName[]) {
    const original = originalKernel(name, "wasm");
    if (original) overrideKernel(name, "wasm", binaryKernel(name, original.kernelFunc));
  }
}
