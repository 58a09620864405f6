// fastbook-ts/engine: the engine's own tools, for tests and benchmarks. Notebooks need none of them:
// initBackend (in the main export) installs the engine.
export { initBackend, describeBackend } from "./backend";
export { installEngine } from "./install";
export { restoreOverrides, isOverridden, originalKernel, originalGradient, overrideKernel, overrideGradient } from "./registry";
export { loadBlas, blasStatus, usingBlas, useBlasOnWasm, conv2dWithBias } from "./blas";
export { conv2dFilterGrad, conv2dInputGrad, useConvGradientsOnWasm, useFastMatMulGradient } from "./gradients";
export { useRowGatherOnWasm, useSharedIdentityOnWasm } from "./copies";
export { useLossKernelsOnWasm, fastCrossEntropy, fastMnistLoss } from "./loss-kernels";
export { useCpuFallbackOnWasm, cpuFallbackCalls, isCpuFallback, runOnCpu } from "./cpu-fallback";
export { removeWasmGlueHandlers } from "./wasm-glue";
export { stockKernel } from "./registry";
