// The gradient tape's saved tensors, without a kernel each. For every op recorded on the tape, TensorFlow.js
// keeps the inputs and outputs its gradient needs as clones: each clone is a call of the Identity kernel
// through the whole dispatch, plus a tape node of its own (clone -> original) that only a gradient of a
// gradient can use. In a small network's training step that is a third of the kernels (12 of 40 in an MLP's).
// On wasm, where Identity already shares the data (copies.ts), the same clone is made here directly: a new
// tensor on the same data, one more reference to it. Only while recording for a first-order gradient
// (gradient depth 1): the backward pass of such a gradient records nothing, so the clone's node is never read.
// Deeper (tf.grad of tf.grad), TensorFlow.js's own clones and nodes are kept.
import { tf } from "../tf";

interface TensorRecord { backend: object }
interface EngineInternals {
  state: { gradientDepth: number; tensorInfo: WeakMap<object, TensorRecord> };
  backendName: string;
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend: object): tf.Tensor;
  keep<T extends tf.Tensor>(t: T): T;
}

let stock: ((tensors: tf.Tensor[]) => tf.Tensor[]) | undefined;

/** Saves for first-order gradients on wasm as shared-data tensors; elsewhere TensorFlow.js's clones. */
export function useLeanSavesOnWasm(): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (stock) return;
  const original = (stock = engine.saveTensorsForBackwardMode);
  engine.saveTensorsForBackwardMode = function (this: EngineInternals, tensors: tf.Tensor[]): tf.Tensor[] {
    if (this.state.gradientDepth !== 1 || this.backendName !== "wasm") return original.call(this, tensors);
    const wasm = tf.findBackend("wasm") as unknown as { incRef(dataId: object): void };
    return tensors.map((t) => {
      if (this.state.tensorInfo.get(t.dataId)?.backend !== wasm || t.dtype === "string") return original.call(this, [t])[0]!;
      wasm.incRef(t.dataId);
      return this.keep(this.makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }, wasm));
    });
  };
}

/** TensorFlow.js's own saves again (for tests). */
export function restoreStockSaves(): void {
  if (!stock) return;
  delete (tf.engine() as unknown as Partial<EngineInternals>).saveTensorsForBackwardMode; // the prototype's again
  stock = undefined;
}
