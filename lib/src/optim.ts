// Stepping parameters against their gradients.
//
// PyTorch stores a gradient in each parameter's .grad and *adds* to it on every backward(), which is why
// its training loops call zero_grad(). TensorFlow.js has no .grad: tf.variableGrads returns fresh
// gradients on every call and never accumulates. GradStore adds that PyTorch behaviour back, so the
// chapter's steps (backward, step, zero_grad) can be shown as they are.
import { tf } from "./tf";

export class GradStore {
  private readonly grads = new Map<tf.Variable, tf.Tensor>();

  get(p: tf.Variable): tf.Tensor | undefined {
    return this.grads.get(p);
  }

  /** Adds `g` to the gradient stored for `p` (the caller keeps ownership of `g`). */
  add(p: tf.Variable, g: tf.Tensor): void {
    this.take(p, g.clone());
  }

  /** As add, but the store takes ownership of `g` (no copy when it is the first gradient). */
  take(p: tf.Variable, g: tf.Tensor): void {
    const old = this.grads.get(p);
    if (!old) { this.grads.set(p, tf.keep(g)); return; }
    this.grads.set(p, tf.keep(tf.add(old, g)));
    tf.dispose([old, g]);
  }

  /** Forgets all gradients (PyTorch's zero_grad). */
  zero(): void {
    for (const g of this.grads.values()) g.dispose();
    this.grads.clear();
  }
}

/**
 * Computes `lossFn()` and the gradients of the loss with respect to `params`, adding them into `store`
 * (PyTorch's loss.backward()). Returns the loss; the caller disposes it.
 */
export function backward(lossFn: () => tf.Scalar, params: tf.Variable[], store: GradStore): tf.Scalar {
  const { value, grads } = tf.variableGrads(lossFn, params);
  for (const p of params) {
    const g = grads[p.name];
    if (g) store.take(p, g);
    delete grads[p.name];
  }
  tf.dispose(Object.values(grads)); // any the caller did not ask for
  return value;
}

export interface Optimizer {
  readonly params: tf.Variable[];
  lr: number;
  readonly grads: GradStore;
  step(): void;
  zeroGrad(): void;
}

/** Plain gradient descent: p ← p − lr·grad. The chapter's BasicOptim. */
export class BasicOptim implements Optimizer {
  readonly grads = new GradStore();
  constructor(readonly params: tf.Variable[], public lr: number) {}

  step(): void {
    tf.tidy(() => {
      for (const p of this.params) {
        const grad = this.grads.get(p);
        if (grad) p.assign(tf.sub(p, tf.mul(grad, this.lr)));
      }
    });
  }

  zeroGrad(): void {
    this.grads.zero();
  }
}

/** The Learner's default optimizer factory. */
export const SGD = (params: tf.Variable[], lr: number): Optimizer => new BasicOptim(params, lr);
