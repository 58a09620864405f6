// Stepping parameters against their gradients.
//
// PyTorch stores a gradient in each parameter's .grad and *adds* to it on every backward(), which is why
// its training loops call zero_grad(). TensorFlow.js has no .grad: tf.variableGrads returns fresh
// gradients on every call and never accumulates. GradStore adds that PyTorch behaviour back, so the
// chapter's steps (backward, step, zero_grad) can be shown as they are.
import { tf } from "./tf";

/**
 * Each parameter's gradient, kept between backward() calls and added to by each (PyTorch's `.grad`):
 * `opt.grads.get(p)` is what `p.grad` is in the book. `zero()` clears them (the book's `zero_grad`).
 */
export class GradStore {
  private readonly grads = new Map<tf.Variable, tf.Tensor>();

  /** The gradient stored for `p`, or undefined when none was computed since the last zero(). */
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
  let result: ReturnType<typeof tf.variableGrads>;
  try {
    result = tf.variableGrads(lossFn, params);
  } catch (e) {
    freeTape();
    throw e;
  }
  const { value, grads } = result;
  for (const p of params) {
    const g = grads[p.name];
    if (g) store.take(p, g);
    delete grads[p.name];
  }
  tf.dispose(Object.values(grads)); // any the caller did not ask for
  return value;
}

/**
 * A forward pass on the gradient tape keeps copies of the tensors its gradients will need; the backward
 * pass frees them. When the forward pass throws (a bad label, a loss that is not a number), TensorFlow.js
 * never frees them: done here, from its engine's tape.
 */
function freeTape(): void {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number; activeTape: { saved?: tf.Tensor[] }[] | null } }).state;
  if (state.gradientDepth > 0 || !state.activeTape) return; // inside an outer gradient: its own to free
  for (const node of state.activeTape) tf.dispose(node.saved ?? []);
  state.activeTape = null;
}

/**
 * What a Learner needs from an optimizer: the parameters it updates, a learning rate a schedule may
 * change, their gradients, and `step()` / `zeroGrad()` as the book's loop calls them.
 */
export interface Optimizer {
  /** The variables it updates. */
  readonly params: tf.Variable[];
  /** The learning rate of the next step. */
  lr: number;
  /** Momentum (SGD's, or Adam's beta1), on optimizers that have one; a schedule may change it per batch. */
  mom?: number;
  /** Weight decay, on optimizers that have it. */
  wd?: number;
  /** Each parameter's gradient, as backward() left it. */
  readonly grads: GradStore;
  /** Moves every parameter against its gradient (the book's `opt.step()`). */
  step(): void;
  /** Forgets the gradients, so that the next backward() starts from zero (the book's `opt.zero_grad()`). */
  zeroGrad(): void;
  /** Frees what the optimizer keeps between steps (momentum buffers); the next step starts afresh. */
  dispose?(): void;
}

/** What a Learner calls to make its optimizer. */
export type OptFunc = (params: tf.Variable[], lr: number) => Optimizer;

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

// ---- Momentum, Adam and weight decay (fastai's optimizers) ----
//
// Each keeps a little state per parameter between steps: running averages of past gradients. The state
// lives in tensors that the optimizer owns and disposes (dispose(), or the next step replacing them).

/** Per-parameter state tensors, replaced (and the old one disposed) on every step. */
class State {
  private readonly values = new Map<tf.Variable, tf.Tensor>();

  get(p: tf.Variable): tf.Tensor | undefined {
    return this.values.get(p);
  }

  set(p: tf.Variable, t: tf.Tensor): void {
    const old = this.values.get(p);
    this.values.set(p, tf.keep(t));
    old?.dispose();
  }

  clear(): void {
    tf.dispose([...this.values.values()]);
    this.values.clear();
  }
}

/** Options of `SGD` / `SGDOptim`. */
export interface SGDOptions {
  /** Momentum (default 0: none). With momentum, each step follows avg = mom·avg + grad instead of grad. */
  mom?: number;
  /** Weight decay (default 0). */
  wd?: number;
  /** true (default): weight decay shrinks the weights, p ← p·(1 − lr·wd); false: L2, grad ← grad + wd·p. */
  decoupleWd?: boolean;
}

/** Options of `Adam` / `AdamOptim`. */
export interface AdamOptions {
  /** Decay of the gradients' running average (Adam's beta1, default 0.9). */
  mom?: number;
  /** Decay of the squared gradients' running average (Adam's beta2, default 0.99). */
  sqrMom?: number;
  /** Added to the denominator so that it is never 0 (default 1e-5). */
  eps?: number;
  /** Weight decay (default 0.01). */
  wd?: number;
  /** As for SGD (default true). */
  decoupleWd?: boolean;
}

function checkHyper(name: string, value: number, lo: number, hi: number): void {
  if (!(value >= lo && value <= hi)) throw new Error(`Optimizer option ${name} must be between ${lo} and ${hi}; got ${value}.`);
}

/**
 * Weight decay, applied to `p` before its step; returns the gradient to step with. Decoupled (fastai's
 * default): the weights shrink towards 0 by the factor 1 − lr·wd. L2: wd·p joins the gradient (as if
 * wd/2·sum(p²) were added to the loss), which momentum and Adam then rescale along with the rest.
 */
function decay(p: tf.Variable, grad: tf.Tensor, lr: number, wd: number, decoupled: boolean): tf.Tensor {
  if (wd === 0) return grad;
  if (decoupled) { p.assign(tf.mul(p, 1 - lr * wd)); return grad; }
  return tf.add(grad, tf.mul(p, wd));
}

/**
 * SGD with optional momentum and weight decay (fastai's SGD). Without momentum (mom 0) it has no `mom`
 * to schedule, and without weight decay its step is BasicOptim's, op for op.
 */
export class SGDOptim extends BasicOptim {
  mom?: number;
  wd: number;
  readonly decoupleWd: boolean;
  private readonly avg = new State(); // the running sum of gradients, for momentum

  constructor(params: tf.Variable[], lr: number, { mom = 0, wd = 0, decoupleWd = true }: SGDOptions = {}) {
    super(params, lr);
    checkHyper("mom", mom, 0, 1);
    checkHyper("wd", wd, 0, Infinity);
    this.mom = mom > 0 ? mom : undefined;
    this.wd = wd;
    this.decoupleWd = decoupleWd;
  }

  override step(): void {
    tf.tidy(() => {
      for (const p of this.params) {
        let grad = this.grads.get(p);
        if (!grad) continue;
        grad = decay(p, grad, this.lr, this.wd, this.decoupleWd);
        if (this.mom !== undefined) {
          // avg = mom·avg + grad: a step keeps going in the direction of the last ones.
          const old = this.avg.get(p);
          this.avg.set(p, old ? tf.add(tf.mul(old, this.mom), grad) : grad.clone());
          grad = this.avg.get(p)!;
        }
        p.assign(tf.sub(p, tf.mul(grad, this.lr)));
      }
    });
  }

  /** Frees the running averages; the next step starts them afresh. */
  dispose(): void {
    this.avg.clear();
  }
}

/**
 * Adam (fastai's defaults: mom 0.9, sqrMom 0.99, eps 1e-5, decoupled weight decay 0.01). It keeps running
 * averages of the gradients (avg) and of their squares (sqrAvg), both started at 0, so that early on they
 * are too small by the factors 1 − mom^step and 1 − sqrMom^step; dividing by those (bias correction) undoes
 * that. Each weight then moves by lr·avg/(√sqrAvg + eps): about lr, whatever the gradient's scale.
 */
export class AdamOptim extends BasicOptim {
  mom: number;
  sqrMom: number;
  eps: number;
  wd: number;
  readonly decoupleWd: boolean;
  private readonly avg = new State();
  private readonly sqrAvg = new State();
  private readonly steps = new Map<tf.Variable, number>();

  constructor(params: tf.Variable[], lr: number, { mom = 0.9, sqrMom = 0.99, eps = 1e-5, wd = 0.01, decoupleWd = true }: AdamOptions = {}) {
    super(params, lr);
    checkHyper("mom", mom, 0, 1);
    checkHyper("sqrMom", sqrMom, 0, 1);
    checkHyper("eps", eps, 0, Infinity);
    checkHyper("wd", wd, 0, Infinity);
    this.mom = mom; this.sqrMom = sqrMom; this.eps = eps; this.wd = wd;
    this.decoupleWd = decoupleWd;
  }

  override step(): void {
    tf.tidy(() => {
      for (const p of this.params) {
        let grad = this.grads.get(p);
        if (!grad) continue;
        grad = decay(p, grad, this.lr, this.wd, this.decoupleWd);
        const avg0 = this.avg.get(p) ?? tf.zerosLike(p);
        const sqr0 = this.sqrAvg.get(p) ?? tf.zerosLike(p);
        this.avg.set(p, tf.add(tf.mul(avg0, this.mom), tf.mul(grad, 1 - this.mom)));
        this.sqrAvg.set(p, tf.add(tf.mul(sqr0, this.sqrMom), tf.mul(tf.square(grad), 1 - this.sqrMom)));
        const step = (this.steps.get(p) ?? 0) + 1;
        this.steps.set(p, step);
        const debias1 = 1 - this.mom ** step;
        const debias2 = 1 - this.sqrMom ** step;
        const denom = tf.add(tf.sqrt(tf.div(this.sqrAvg.get(p)!, debias2)), this.eps);
        p.assign(tf.sub(p, tf.mul(tf.div(this.avg.get(p)!, denom), this.lr / debias1)));
      }
    });
  }

  /** Frees the running averages; the next step starts them afresh. */
  dispose(): void {
    this.avg.clear();
    this.sqrAvg.clear();
    this.steps.clear();
  }
}

/** A factory for SGDOptim with these options, for the Learner's `optFunc`: sgd({ mom: 0.9, wd: 1e-2 }). */
export function sgd(opts: SGDOptions = {}): OptFunc {
  return (params, lr) => new SGDOptim(params, lr, opts);
}

/** A factory for AdamOptim with these options, for the Learner's `optFunc`: adam() or adam({ wd: 0 }). */
export function adam(opts: AdamOptions = {}): OptFunc {
  return (params, lr) => new AdamOptim(params, lr, opts);
}

/** The Learner's default optimizer factory: plain SGD (no momentum, no weight decay). */
export const SGD: OptFunc = sgd();

/** Adam with fastai's defaults. */
export const Adam: OptFunc = adam();
