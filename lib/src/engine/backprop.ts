// The backward pass of a gradient (tf.grad, tf.variableGrads and the rest all come through
// Engine.gradients), with TensorFlow.js's steps and messages, in plain loops over sets of tensor ids.
// TensorFlow.js marks the tape's tensors and nodes as keys of plain objects; their ids grow for the life of
// the process, so those objects change their element storage as the ids grow, and V8 threw the optimised
// code of its tape filter away again and again in a fresh process (in the first ten epochs of bench cases (a),
// (b) and (d)). Its backward pass also makes two closures per tape node. In a profile of bench case (a)'s
// epochs 6-10 the two took 16% of the time. Only on wasm; TensorFlow.js's own elsewhere.
import { tf } from "../tf";

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: tf.NamedTensorMap;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}
interface EngineInternals {
  backendName: string | null;
  state: { gradientDepth: number; activeTape: TapeNode[] | null };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: tf.Tensor[] };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T>(nameOrFn: string | (() => T), fn?: () => T): T;
}

let stock: EngineInternals["gradients"] | undefined;

/** The tape's nodes that lead from `xs` to `y`, in tape order, each keeping only its inputs that come from `xs`. */
function nodesFromXsToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromXs = new Set<number>();
  for (const x of xs) fromXs.add(x.id);
  const isFromXs = new Uint8Array(tape.length);
  for (let i = 0; i < tape.length; i++) {
    const node = tape[i]!;
    for (const name in node.inputs) {
      if (fromXs.has(node.inputs[name]!.id)) {
        for (const out of node.outputs) fromXs.add(out.id);
        isFromXs[i] = 1;
        break;
      }
    }
  }
  const toY = new Set<number>([y.id]);
  const leadsToY = new Uint8Array(tape.length);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (!node.outputs.some((out) => toY.has(out.id))) continue;
    for (const name in node.inputs) { // a node without inputs leads nowhere, as in TensorFlow.js
      toY.add(node.inputs[name]!.id);
      leadsToY[i] = 1;
    }
  }
  const kept: TapeNode[] = [];
  for (let i = 0; i < tape.length; i++) {
    if (!isFromXs[i] || !leadsToY[i]) continue;
    const node = tape[i]!, inputs: tf.NamedTensorMap = {};
    for (const name in node.inputs) if (fromXs.has(node.inputs[name]!.id)) inputs[name] = node.inputs[name]!;
    kept.push({ ...node, inputs });
  }
  return kept;
}

/** Walks `nodes` backward from the gradients in `grads` (by tensor id), adding each input's gradient into it. */
function backpropagate(grads: Map<number, tf.Tensor>, nodes: TapeNode[], tidy: (f: () => tf.Tensor) => tf.Tensor): void {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    const dys = node.outputs.map((out) => grads.get(out.id) ?? null);
    if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGrads = node.gradient(dys);
    for (const name in node.inputs) {
      if (!(name in inputGrads)) {
        throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGrads)}.`);
      }
      const dx = tidy(() => inputGrads[name]!());
      if (dx.dtype !== "float32") {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
      }
      const x = node.inputs[name]!;
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', ` +
          `which does not match the shape of the input '${x.shape}'`);
      }
      const sum = grads.get(x.id);
      if (sum == null) grads.set(x.id, dx);
      else {
        grads.set(x.id, tf.add(sum, dx));
        sum.dispose();
      }
    }
  }
}

/** Takes Engine.gradients's steps (and messages) on wasm by the plain loops above. */
export function useLeanBackpropOnWasm(): void {
  if (stock) return;
  const engine = tf.engine() as unknown as EngineInternals;
  const original = (stock = engine.gradients);
  engine.gradients = function (this: EngineInternals, f, xs, dy, allowNoGradients = false) {
    if (this.backendName !== "wasm") return original.call(this, f, xs, dy, allowNoGradients);
    if (xs.length === 0) throw new Error("gradients() received an empty list of xs.");
    if (dy != null && dy.dtype !== "float32") throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = this.scopedRun(() => this.startTape(), () => this.endTape(), () => this.tidy("forward", f));
    if (!(y instanceof tf.Tensor)) throw new Error("The result y returned by f() must be a tensor.");
    const nodes = nodesFromXsToY(this.state.activeTape!, xs, y);
    if (!allowNoGradients && nodes.length === 0) {
      throw new Error("Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all " +
        "operations that lead from x to y.");
    }
    return this.tidy("backward", () => {
      const grads = new Map<number, tf.Tensor>([[y.id, dy == null ? tf.ones(y.shape) : dy]]);
      backpropagate(grads, nodes, (g) => this.tidy(g));
      const result = { value: y, grads: xs.map((x) => grads.get(x.id)!) };
      if (this.state.gradientDepth === 0) { // a first-order gradient: the tape's saved tensors are done with
        for (const node of this.state.activeTape!) for (const t of node.saved ?? []) t.dispose();
        this.state.activeTape = null;
      }
      return result;
    });
  };
}

/** TensorFlow.js's own gradients again (for tests). */
export function restoreStockBackprop(): void {
  if (!stock) return;
  delete (tf.engine() as unknown as Partial<EngineInternals>).gradients; // the prototype's again
  stock = undefined;
}
