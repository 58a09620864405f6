// The one way the engine changes TensorFlow.js: it replaces (or adds) a kernel on a backend, or a
// gradient. Each override remembers what was there before it, so overriding again wraps the original
// (never an earlier override) and tests can undo every override with `restoreOverrides`.
import { tf } from "../tf";
import type { KernelArgs } from "./wasm-heap";

type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const kernels = new Map<string, { kernelName: string; backendName: string; original: tf.KernelConfig | undefined }>();
const gradients = new Map<string, tf.GradConfig | undefined>();

/** The kernel TensorFlow.js itself registered for `kernelName` on `backendName` (before any override). */
export function originalKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  const key = `${backendName}/${kernelName}`;
  return kernels.has(key) ? kernels.get(key)!.original : tf.getKernel(kernelName, backendName);
}

/** Whether the engine has replaced (or added) `kernelName` on `backendName`. */
export const isOverridden = (kernelName: string, backendName: string) => kernels.has(`${backendName}/${kernelName}`);

/**
 * Puts `kernelFunc` behind `kernelName` on `backendName`. The original's setup and dispose functions
 * stay, so a fallback to the original kernel still works. Returns the original, if there was one.
 */
export function overrideKernel(kernelName: string, backendName: string, kernelFunc: KernelFn): tf.KernelConfig | undefined {
  const original = originalKernel(kernelName, backendName);
  kernels.set(`${backendName}/${kernelName}`, { kernelName, backendName, original });
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ ...(original ?? { kernelName, backendName }), kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  return original;
}

/** The gradient TensorFlow.js itself registered for `kernelName` (before any override). */
export function originalGradient(kernelName: string): tf.GradConfig | undefined {
  return gradients.has(kernelName) ? gradients.get(kernelName) : tf.getGradient(kernelName);
}

/** Registers `config` as the gradient of its kernel, remembering the original. */
export function overrideGradient(config: tf.GradConfig): tf.GradConfig | undefined {
  const original = originalGradient(config.kernelName);
  gradients.set(config.kernelName, original);
  tf.registerGradient(config);
  return original;
}

/** Undoes every override: TensorFlow.js's own kernels and gradients are back (for tests). */
export function restoreOverrides(): void {
  for (const { kernelName, backendName, original } of kernels.values()) {
    if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    if (original) tf.registerKernel(original);
  }
  for (const [kernelName, original] of gradients) {
    if (tf.getGradient(kernelName)) tf.unregisterGradient(kernelName);
    if (original) tf.registerGradient(original);
  }
  kernels.clear();
  gradients.clear();
}
