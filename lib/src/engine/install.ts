// Everything the engine does to TensorFlow.js, in one place. initBackend calls installEngine once the
// chosen backend runs; nothing else in the library reaches into the engine.
import { fastPaths } from "../fast-paths";
import { conv2dWithBias, linearWithBias, useBlasOnWasm } from "./blas";
import { useRowGatherOnWasm, useRunSliceOnWasm, useSharedIdentityOnWasm } from "./copies";
import { useMaxPoolGradOnWasm, useMeanKernelsOnWasm } from "./pool-kernels";
import { useElementwiseKernelsOnWasm } from "./elementwise-kernels";
import { useLeanSavesOnWasm } from "./tape";
import { useLeanDispatchOnWasm } from "./dispatch";
import { useLeanBackpropOnWasm } from "./backprop";
import { fastBatchNorm, useBatchNormKernelsOnWasm } from "./batchnorm-kernels";
import { useCpuFallbackOnWasm } from "./cpu-fallback";
import { useConvGradientsOnWasm, useFastMatMulGradient, useReluGradientOnWasm } from "./gradients";
import { fastCrossEntropy, fastMnistLoss, useLossKernelsOnWasm } from "./loss-kernels";
import { removeWasmGlueHandlers } from "./wasm-glue";
import { useKernelsOnWebgpu } from "./webgpu-kernels";
import { watchWasmHeap, type HeapOwner } from "./wasm-heap";
import { tf } from "../tf";

/** Installs the kernels, gradients and fast paths for `backend`. Safe to call again. */
export function installEngine(backend: string): void {
  // Gradients are global (not per backend); each rewrite applies only on wasm and defers elsewhere.
  useFastMatMulGradient();
  useConvGradientsOnWasm();
  useReluGradientOnWasm();
  if (backend === "wasm") {
    removeWasmGlueHandlers(); // uncaught errors print themselves, not the wasm glue's source
    watchWasmHeap(tf.findBackend("wasm") as unknown as HeapOwner); // a warning before the heap is full
    useCpuFallbackOnWasm(); // the base layer: every kernel cpu has; the fast kernels below fall back to it
    useSharedIdentityOnWasm();
    useLeanSavesOnWasm();
    useLeanDispatchOnWasm();
    useLeanBackpropOnWasm();
    useRowGatherOnWasm();
    useRunSliceOnWasm();
    useElementwiseKernelsOnWasm();
    useLossKernelsOnWasm();
    useMaxPoolGradOnWasm();
    useMeanKernelsOnWasm();
    useBatchNormKernelsOnWasm();
    useBlasOnWasm();
  }
  if (backend === "webgpu") useKernelsOnWebgpu();
  // Each entry checks the backend itself and returns undefined where it does not apply.
  fastPaths.mnistLoss = fastMnistLoss;
  fastPaths.crossEntropy = fastCrossEntropy;
  fastPaths.conv2dWithBias = conv2dWithBias;
  fastPaths.linear = linearWithBias;
  fastPaths.batchNorm = fastBatchNorm;
}
