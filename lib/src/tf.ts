// The one TensorFlow.js the notebooks and the lib share. The umbrella package registers the chained
// ops (t.add, t.square, ...) and every gradient; tfjs-node, when present, reuses this same core.
import * as tf from "./tfjs-namespace"; // @tensorflow/tfjs, as plain properties (see there)
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { inspect } from "node:util";

// The cpu backend prints "Hi, looks like you are running TensorFlow.js in Node.js ... install our node
// backend" on its first write, wherever a cpu backend is created (the wasm backend's fallback kernels make
// one). initBackend picks the fast backends itself, so the advice is wrong here: every cpu backend starts
// as already used. (The constructor's `this.firstUse = true` goes to this setter, which ignores it.)
Object.defineProperty(MathBackendCPU.prototype, "firstUse", { configurable: true, get: () => false, set: () => undefined });

// Print tensors the way a learner wants to read them (tslab shows a cell's last value through
// util.inspect), instead of the engine's internal fields.
const proto = tf.Tensor.prototype as unknown as Record<symbol, unknown>;
proto[inspect.custom] = function (this: tf.Tensor): string {
  if (this.isDisposed) return `Tensor(disposed, shape [${this.shape}])`;
  const body = this.toString().replace(/^Tensor\n/, "");
  return `Tensor ${this.dtype} [${this.shape.join(",")}]\n${body}`;
};

/** TensorFlow.js, the one copy the library and the notebooks share: `tf.tensor([1, 2, 3])`, `tf.matMul(a, b)`. */
export { tf };
/** A TensorFlow.js tensor (`tf.Tensor`). */
export type Tensor = tf.Tensor;
/** A tensor's rank as TensorFlow.js types it. */
export type Rank = tf.Rank;
