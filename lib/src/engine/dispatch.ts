// A shorter way from an op to its kernel on wasm. TensorFlow.js's Engine.runKernel looks the kernel up, then
// runKernelFunc looks it up again and wraps it in four closures (the kernel call, the kernel-depth bracket and
// the output conversion) with profiling bookkeeping around them. Per op that is little once V8 has optimised
// it, but a fresh process runs it unoptimised for its first few thousand ops: the chapter's small networks
// then spend their first epochs in this code (bench/README.md, "Warm-up"). Here the same steps are taken in
// one function: kernel, outputs, saved tensors and tape node, in the order TensorFlow.js takes them, with its
// check for kernels that leak when its IS_TEST flag is on (as in its op suite, which thus runs this code).
// When profiling (tf.profile) or debugging (its DEBUG flag), and on other backends, its own runKernel runs.
import { tf } from "../tf";

interface EngineInternals {
  backendName: string | null;
  readonly backend: tf.KernelBackend;
  state: { profiling: boolean; gradientDepth: number; kernelDepth: number; numDataMovesStack: number[] };
  ENV: { getBool(flag: string): boolean };
  runKernel(kernelName: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap): tf.Tensor | tf.Tensor[];
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  checkKernelForMemLeak(kernelName: string, numDataIdsBefore: number, outInfos: tf.TensorInfo[]): void;
  getTensorsForGradient(kernelName: string, inputs: tf.NamedTensorMap, outputs: tf.Tensor[]): tf.Tensor[] | null;
  saveTensorsForBackwardMode(tensors: tf.Tensor[] | null): tf.Tensor[];
  addTapeNode(name: string, inputs: tf.NamedTensorMap, outputs: tf.Tensor[], gradient: null, saved: tf.Tensor[], attrs?: tf.NamedAttrMap): void;
}

let stock: EngineInternals["runKernel"] | undefined;

/** Runs registered kernels on wasm by the short way; TensorFlow.js's runKernel elsewhere and when profiling. */
export function useLeanDispatchOnWasm(): void {
  if (stock) return;
  const engine = tf.engine() as unknown as EngineInternals;
  const original = (stock = engine.runKernel);
  engine.runKernel = function (this: EngineInternals, kernelName, inputs, attrs) {
    const state = this.state;
    if (this.backendName !== "wasm" || state.profiling || this.ENV.getBool("DEBUG")) return original.call(this, kernelName, inputs, attrs);
    const kernel = tf.getKernel(kernelName, "wasm");
    if (!kernel) throw new Error(`Kernel '${kernelName}' not registered for backend 'wasm'`);
    // Ops inside a kernel (and the saves) are not recorded: that is what the kernel depth says.
    const tapeOn = state.gradientDepth > 0 && state.kernelDepth === 0;
    let out: tf.TensorInfo | tf.TensorInfo[];
    let outputs: tf.Tensor[];
    let saved: tf.Tensor[] = [];
    const leakCheck = this.ENV.getBool("IS_TEST");
    if (leakCheck) state.numDataMovesStack.push(0);
    state.kernelDepth++;
    try {
      const backend = this.backend, idsBefore = leakCheck ? backend.numDataIds() : 0;
      out = kernel.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend });
      const infos = Array.isArray(out) ? out : [out];
      if (leakCheck) this.checkKernelForMemLeak(kernelName, idsBefore, infos);
      outputs = infos.map((info) => ((info as tf.Tensor).rank != null ? (info as tf.Tensor) : this.makeTensorFromTensorInfo(info)));
      if (tapeOn) saved = this.saveTensorsForBackwardMode(this.getTensorsForGradient(kernelName, inputs, outputs));
    } finally {
      state.kernelDepth--;
    }
    if (tapeOn) this.addTapeNode(kernelName, inputs, outputs, null, saved, attrs);
    return Array.isArray(out) ? outputs : outputs[0]!;
  } as EngineInternals["runKernel"];
}

/** TensorFlow.js's own runKernel again (for tests). */
export function restoreStockDispatch(): void {
  if (!stock) return;
  delete (tf.engine() as unknown as Partial<EngineInternals>).runKernel; // the prototype's again
  stock = undefined;
}
