// How the engine changes TensorFlow.js: it replaces (or adds) a kernel on a backend, or a gradient (and,
// apart from these, tape.ts makes the gradient tape's saved tensors on wasm without a kernel each, and
// dispatch.ts takes a shorter way from op to kernel on wasm). Each override remembers TensorFlow.js's own
// kernel, so overriding again wraps that (never an earlier override) and tests can undo every override with
// `restoreOverrides`. Kernels come in two layers: a base (TensorFlow.js's kernel made complete:
// engine/cpu-fallback.ts), and the fast kernels above it, which fall back to the base for what they do not
// handle.
import { tf } from "../tf";
import type { KernelArgs } from "./wasm-heap";
import { restoreStockSaves } from "./tape";
import { restoreStockBackprop } from "./backprop";
import { restoreStockDispatch } from "./dispatch";

type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

interface Entry { kernelName: string; backendName: string; stock: tf.KernelConfig | undefined; base?: tf.KernelConfig }
const kernels = new Map<string, Entry>();
const gradients = new Map<string, tf.GradConfig | undefined>();

/** The kernel TensorFlow.js itself registered for `kernelName` on `backendName` (before any override). */
export function stockKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  const key = `${backendName}/${kernelName}`;
  return kernels.has(key) ? kernels.get(key)!.stock : tf.getKernel(kernelName, backendName);
}

/** What a fast kernel falls back to: the base layer's kernel where there is one, else TensorFlow.js's. */
export function originalKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  return kernels.get(`${backendName}/${kernelName}`)?.base ?? stockKernel(kernelName, backendName);
}

/** Whether the engine has replaced (or added) `kernelName` on `backendName`. */
export const isOverridden = (kernelName: string, backendName: string) => kernels.has(`${backendName}/${kernelName}`);

/**
 * Puts `kernelFunc` behind `kernelName` on `backendName`. TensorFlow.js's setup and dispose functions
 * stay, so a fallback to its kernel still works. `base`: the kernel is the base layer (see above).
 * Returns what the new kernel should fall back to, if anything.
 */
export function overrideKernel(kernelName: string, backendName: string, kernelFunc: KernelFn, { base = false } = {}): tf.KernelConfig | undefined {
  const stock = stockKernel(kernelName, backendName);
  const entry: Entry = kernels.get(`${backendName}/${kernelName}`) ?? { kernelName, backendName, stock };
  const fallback = base ? stock : originalKernel(kernelName, backendName);
  const config = { ...(stock ?? { kernelName, backendName }), kernelFunc: kernelFunc as unknown as tf.KernelFunc };
  if (base) entry.base = config;
  kernels.set(`${backendName}/${kernelName}`, entry);
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel(config);
  return fallback;
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

/** Undoes every override: TensorFlow.js's own kernels, gradients, tape saves, dispatch and backward pass are back (for tests). */
export function restoreOverrides(): void {
  for (const { kernelName, backendName, stock } of kernels.values()) {
    if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    if (stock) tf.registerKernel(stock);
  }
  for (const [kernelName, original] of gradients) {
    if (tf.getGradient(kernelName)) tf.unregisterGradient(kernelName);
    if (original) tf.registerGradient(original);
  }
  kernels.clear();
  gradients.clear();
  restoreStockSaves();
  restoreStockDispatch();
  restoreStockBackprop();
}
