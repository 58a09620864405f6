// Kernels the engine puts on webgpu. ReLU: tfjs-backend-webgpu's shader, select(a, 0.0, a < 0.0), keeps
// NaN as WGSL defines it, but NVIDIA's Vulkan driver compiles it to something that gives 0 for NaN (seen
// on an H200 in TensorFlow.js's op suite), so a diverged layer would look finite after its ReLU. This one
// decides on the value's bits, which no compiler may treat as a float comparison: negative numbers (and
// -0) become 0, everything else, NaN included, passes as it is, as on cpu (Math.max(0, x)).
import { tf } from "../tf";
import type { KernelArgs } from "./wasm-heap";
import { overrideKernel } from "./registry";

interface WebgpuBackend { runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo }
interface WebgpuUtil {
  flatDispatchLayout(shape: number[]): { x: number[] };
  computeDispatch(layout: { x: number[] }, shape: number[], workgroupSize: [number, number, number]): [number, number, number];
}

const WORKGROUP: [number, number, number] = [128, 1, 1];

/** One output per input element; `size` makes the backend pass the element count as uniforms.size. */
function reluProgram(util: WebgpuUtil, shape: number[]): object {
  const dispatchLayout = util.flatDispatchLayout(shape);
  return {
    variableNames: ["A"],
    size: true,
    workgroupSize: WORKGROUP,
    outputShape: shape,
    dispatchLayout,
    dispatch: util.computeDispatch(dispatchLayout, shape, WORKGROUP),
    shaderKey: "fastbook_relu_keeps_nan",
    getUserCode: () => `
      fn reluKeepingNan(a : f32) -> f32 {
        let bits = bitcast<u32>(a);
        // Sign bit set and not NaN (at most -Infinity's bits): 0, else the value itself.
        if (bits >= 0x80000000u && bits <= 0xff800000u) { return 0.0; }
        return a;
      }
      fn main(index : i32) {
        if (index < uniforms.size) {
          setOutputAtIndex(index, reluKeepingNan(getAByOutputIndex(index)));
        }
      }`,
  };
}

/** Puts the NaN-keeping ReLU behind tf.relu on webgpu (float32; other dtypes keep TensorFlow.js's kernel). */
export function useNanKeepingReluOnWebgpu(): void {
  const util = (require("@tensorflow/tfjs-backend-webgpu") as { webgpu_util: WebgpuUtil }).webgpu_util;
  const stock = overrideKernel("Relu", "webgpu", (args: KernelArgs) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype !== "float32") return stock!.kernelFunc(args) as tf.TensorInfo;
    return (args.backend as unknown as WebgpuBackend).runWebGPUProgram(reluProgram(util, x.shape), [x], "float32");
  });
}
