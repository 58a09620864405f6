// A labelled image set kept in plain arrays, outside the backend's memory: a batch becomes tensors only
// when it is drawn (PyTorch's DataLoader keeps a data set on the CPU the same way), so loaders that are
// built again and dropped leave nothing behind on the backend; JavaScript's garbage collector frees them.
// The pixels are kept as the float32 values the batches hold, so that a batch is row copies rather than
// a conversion of every pixel.
import { tf } from "../tf";
import type { HostDataset } from "../dataloader";

/** Mean and standard deviation of the training pixels (values in [0, 1]). */
export interface PixelStats {
  mean: number;
  std: number;
}

/**
 * Mean and (population) standard deviation of every value, summed in float64: float32 sums of MNIST's
 * 47 million pixels would be off in the third digit.
 */
export function pixelStats(v: Float32Array): PixelStats {
  let sum = 0, sumSq = 0;
  for (let i = 0; i < v.length; i++) { const p = v[i]!; sum += p; sumSq += p * p; }
  const mean = sum / v.length;
  return { mean, std: Math.sqrt(Math.max(sumSq / v.length - mean * mean, 0)) };
}

/** v = (v - mean) / std, element by element. */
export function normalizeInPlace(v: Float32Array, { mean, std }: PixelStats): void {
  const scale = 1 / std;
  for (let i = 0; i < v.length; i++) v[i] = (v[i]! - mean) * scale;
}

/** What an ImageDataset is made of. */
export interface ImageDatasetParts {
  /** Every pixel's value as the batches give it (pixels / 255, normalised or not), image after image. Kept, not copied. */
  values: Float32Array;
  /** One class index per image. */
  labels: Int32Array;
  /** [height, width] of every image. */
  imageSize: [number, number];
  /** Items as rows [height·width] (true) or images [height, width, 1] (false). */
  flatten: boolean;
}

/** What every use after dispose() says. */
const DISPOSED = "These DataLoaders were disposed (dls.dispose()), so they hold no data; build them again " +
  "(run the cell that made them).";

// Whole-set tensors made on request (ds.x, ds.y) belong to the dataset: freed by dispose(), or once the
// dataset itself is garbage (a loader built again in a re-run cell and never disposed).
const wholeSetTensors = new FinalizationRegistry<{ tensors: tf.Tensor[] }>((held) => tf.dispose(held.tensors));

/**
 * The images and labels of one split. `batch(indices)` gives `[xb, yb]`: xb float32 (the values as given),
 * [n, height·width] or [n, height, width, 1]; yb int32 class indices.
 * `x` and `y` give the whole set as tensors, made on first use and kept until `dispose()`.
 */
export class ImageDataset implements HostDataset {
  /** Every pixel's value as the batches give it, image after image. */
  readonly values: Float32Array;
  readonly labels: Int32Array;
  readonly imageSize: [number, number];
  readonly flatten: boolean;
  private readonly held = { tensors: [] as tf.Tensor[] };
  private whole?: { x: tf.Tensor; y: tf.Tensor };
  private disposed = false;

  constructor(p: ImageDatasetParts) {
    const [h, w] = p.imageSize;
    if (p.values.length !== p.labels.length * h * w) {
      throw new Error(`An image set of ${p.labels.length} labels of ${w}x${h} images needs ${p.labels.length * h * w} pixels; got ${p.values.length}.`);
    }
    this.values = p.values;
    this.labels = p.labels;
    this.imageSize = p.imageSize;
    this.flatten = p.flatten;
    wholeSetTensors.register(this, this.held, this);
  }

  /** Number of images. */
  get length(): number {
    return this.labels.length;
  }

  /** The shape of `x`: [N, height·width] or [N, height, width, 1]. */
  get xShape(): number[] {
    return this.itemShape(this.length);
  }

  private itemShape(n: number): number[] {
    const [h, w] = this.imageSize;
    return this.flatten ? [n, h * w] : [n, h, w, 1];
  }

  /** The images at `indices` as float32 [n, ...] and their labels as int32 [n]; the caller owns both. */
  batch(indices: readonly number[]): [tf.Tensor, tf.Tensor] {
    this.checkAlive();
    const [h, w] = this.imageSize;
    const size = h * w;
    const x = new Float32Array(indices.length * size);
    const y = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw new Error(`Item ${i} is out of range: this set holds ${this.length} images (0 to ${this.length - 1}).`);
      y[k] = this.labels[i]!;
      x.set(this.values.subarray(i * size, (i + 1) * size), k * size);
    }
    return [tf.tensor(x, this.itemShape(indices.length), "float32"), tf.tensor1d(y, "int32")];
  }

  /** All images as one float32 tensor, made on first use (it takes the backend's memory until dispose()). */
  get x(): tf.Tensor {
    return this.wholeSet().x;
  }

  /** All labels as one int32 tensor [N], made on first use. */
  get y(): tf.Tensor {
    return this.wholeSet().y;
  }

  private wholeSet(): { x: tf.Tensor; y: tf.Tensor } {
    this.checkAlive();
    if (!this.whole) {
      // Kept: made inside someone's tf.tidy, they would otherwise be freed at its end.
      const [x, y] = this.batch(Array.from({ length: this.length }, (_, i) => i)).map((t) => tf.keep(t)) as [tf.Tensor, tf.Tensor];
      this.whole = { x, y };
      this.held.tensors.push(x, y);
    }
    return this.whole;
  }

  /** Frees the tensors `x` and `y` made; every later use is an error that says to build the loaders again. */
  dispose(): void {
    this.disposed = true;
    tf.dispose(this.held.tensors);
    this.held.tensors = [];
    this.whole = undefined;
    wholeSetTensors.unregister(this);
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error(DISPOSED);
  }
}
