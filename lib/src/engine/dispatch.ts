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
  saveTensorsForBackwardMode(tensors: tf.Tensor[] | null): tf.Tensor[];
  addTapeNode(name: string, inputs: tf.NamedTensorMap, outputs: tf.Tensor[], gradient: null, saved: tf.Tensor[], attrs?: tf.NamedAttrMap): void;
}

let stock: EngineInternals["runKernel"] | undefined;

/** A kernel's output as a tensor: kernels return tensors (when they call ops) or bare tensor infos. */
const asTensor = (engine: EngineInternals, info: tf.TensorInfo): tf.Tensor =>
  (info as tf.Tensor).rank != null ? (info as tf.Tensor) : engine.makeTensorFromTensorInfo(info);

/**
 * The tensors a kernel's gradient needs, as TensorFlow.js's Engine.getTensorsForGradient chooses them, in plain
 * loops: its `map` over each gradient's list of names (a literal of strings, or a default empty one) met lists
 * of other kinds in turn, and each one threw this function's optimised code away.
 */
function tensorsForGradient(kernelName: string, inputs: tf.NamedTensorMap, outputs: tf.Tensor[]): tf.Tensor[] {
  const grad = tf.getGradient(kernelName);
  const saved: tf.Tensor[] = [];
  if (grad == null) return saved; // no gradient: nothing to keep (an error only if a gradient is asked for)
  if (grad.saveAllInputs) {
    if (!Array.isArray(inputs)) throw new Error("saveAllInputs is true, expected inputs to be an array.");
    for (const key of Object.keys(inputs)) saved.push(inputs[key]!);
  } else if (grad.inputsToSave) {
    for (let i = 0; i < grad.inputsToSave.length; i++) saved.push(inputs[grad.inputsToSave[i]!]!);
  }
  if (grad.outputsToSave) for (let i = 0; i < outputs.length; i++) if (grad.outputsToSave[i]) saved.push(outputs[i]!);
  return saved;
}

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
    // One output (nearly every kernel) takes a path of its own, and every outputs array is made by one literal:
    // arrays of one kind keep V8's optimised code of this function from being thrown away (a "wrong map"
    // deoptimisation); in a fresh process that happened twice in bench case (a)'s first ten epochs.
    let single: tf.Tensor | undefined;
    let outputs: tf.Tensor[];
    let saved: tf.Tensor[] = [];
    const leakCheck = this.ENV.getBool("IS_TEST");
    if (leakCheck) state.numDataMovesStack.push(0);
    state.kernelDepth++;
    try {
      const backend = this.backend, idsBefore = leakCheck ? backend.numDataIds() : 0;
      const out = kernel.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend });
      if (Array.isArray(out)) {
        if (leakCheck) this.checkKernelForMemLeak(kernelName, idsBefore, out);
        outputs = [];
        for (let i = 0; i < out.length; i++) outputs.push(asTensor(this, out[i]!));
      } else {
        if (leakCheck) this.checkKernelForMemLeak(kernelName, idsBefore, [out]);
        single = asTensor(this, out);
        outputs = [single];
      }
      if (tapeOn) saved = this.saveTensorsForBackwardMode(tensorsForGradient(kernelName, inputs, outputs));
    } finally {
      state.kernelDepth--;
    }
    if (tapeOn) this.addTapeNode(kernelName, inputs, outputs, null, saved, attrs);
    return single ?? outputs;
  } as EngineInternals["runKernel"];
}

/** TensorFlow.js's own runKernel again (for tests). */
export function restoreStockDispatch(): void {
  if (!stock) return;
  delete (tf.engine() as unknown as Partial<EngineInternals>).runKernel; // the prototype's again
  stock = undefined;
}
