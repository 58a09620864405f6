// Mini-batches for SGD, in the manner of PyTorch's and fastai's DataLoader: a dataset, a batch size,
// and optionally a fresh shuffle every epoch.
import { inspect } from "node:util";
import { tf } from "./tf";

/** A deterministic generator of numbers in [0, 1) (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random permutation of 0..n-1 (Fisher-Yates: every order equally likely), drawn from `rand`. */
export function shuffled(n: number, rand: () => number = Math.random): number[] {
  const p = range(n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!; // not [p[i], p[j]] = [p[j], p[i]]: that makes an array per swap until V8 optimises it away
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** [0, 1, ..., n-1]. */
export function range(n: number): number[] {
  const r: number[] = []; // a plain loop: Array.from with a callback per item cost 0.4 ms per epoch of 12,396
  for (let i = 0; i < n; i++) r.push(i);
  return r;
}

/** Pairs each item with its index, as Python's enumerate: ["a","b"] -> [[0,"a"],[1,"b"]]. */
export function enumerate<T>(items: Iterable<T>): [number, T][] {
  return Array.from(items, (x, i): [number, T] => [i, x]);
}

/** Inputs and targets as two tensors whose first dimension indexes the items. */
export interface TensorDataset {
  x: tf.Tensor;
  y: tf.Tensor;
}

function checkTensorDataset(x: tf.Tensor, y: tf.Tensor): void {
  if (x.rank === 0 || y.rank === 0 || x.shape[0] !== y.shape[0]) {
    throw new Error(`A tensor dataset needs x and y with the same first dimension (one row per item); got x [${x.shape}] and y [${y.shape}].`);
  }
}

/** Pairs inputs with targets, checking they have one row each per item. Does not copy or take ownership. */
export function tensorDataset(x: tf.Tensor, y: tf.Tensor): TensorDataset {
  checkTensorDataset(x, y);
  return { x, y };
}

function isTensorDataset(d: unknown): d is TensorDataset {
  return typeof d === "object" && d !== null && (d as TensorDataset).x instanceof tf.Tensor && (d as TensorDataset).y instanceof tf.Tensor;
}

/**
 * A dataset that keeps its items in plain arrays, outside the backend's memory, and makes tensors only
 * for the batch being drawn (as PyTorch's DataLoader keeps a data set on the CPU and moves batches to
 * the GPU). `ImageDataLoaders` hold their images this way.
 */
export interface HostDataset {
  /** Number of items. */
  readonly length: number;
  /** The items at `indices` as [xb, yb] tensors, which the caller owns. */
  batch(indices: readonly number[]): [tf.Tensor, tf.Tensor];
}

function isHostDataset(d: unknown): d is HostDataset {
  return typeof d === "object" && d !== null && typeof (d as HostDataset).batch === "function" && typeof (d as HostDataset).length === "number";
}

/** A batch of tuple items, one array per field: [number, string][] -> [number[], string[]]. */
export type Collated<T extends readonly unknown[]> = { -readonly [K in keyof T]: T[K][] };

/** Options of `new DataLoader(dataset, opts)`. */
export interface DataLoaderOptions {
  /** Items per batch (default 64). */
  bs?: number;
  /** Visit the items in a new random order every epoch (default false). */
  shuffle?: boolean;
  /** Makes the shuffles reproducible: the same seed gives the same sequence of epochs. Without one, Math.random. */
  seed?: number;
  /** Skip the last batch when it is smaller than `bs` (default false). */
  dropLast?: boolean;
}

// The class behind `DataLoader` (documented there).
class DataLoaderImpl<B> implements Iterable<B> {
  readonly bs: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** Number of items in the dataset. */
  readonly n: number;
  private readonly items?: unknown[];
  private readonly tensors?: TensorDataset;
  private readonly host?: HostDataset;
  private readonly rand: () => number;

  constructor(dataset: TensorDataset | HostDataset | Iterable<unknown>, { bs = 64, shuffle = false, seed, dropLast = false }: DataLoaderOptions = {}) {
    if (!Number.isInteger(bs) || bs < 1) throw new Error(`Batch size must be a positive integer; got ${bs}.`);
    this.bs = bs;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    // One generator for the loader's life: each epoch draws the next permutation from it, so epochs
    // differ from each other yet the whole run repeats for a given seed.
    this.rand = seed === undefined ? Math.random : seededRandom(seed);
    if (isHostDataset(dataset)) {
      this.host = dataset;
      this.n = dataset.length;
    } else if (isTensorDataset(dataset)) {
      checkTensorDataset(dataset.x, dataset.y);
      this.tensors = dataset;
      this.n = dataset.x.shape[0]!;
    } else {
      this.items = Array.from(dataset);
      this.n = this.items.length;
    }
  }

  /** Number of batches per epoch. */
  get length(): number {
    return this.dropLast ? Math.floor(this.n / this.bs) : Math.ceil(this.n / this.bs);
  }

  // A notebook cell showing the loader gets a summary, not every item.
  [inspect.custom](): string {
    const kind = this.tensors ? `tensors x [${this.tensors.x.shape}], y [${this.tensors.y.shape}]` : `${this.n} items`;
    return `DataLoader(${kind}; bs ${this.bs}, ${this.length} batches${this.shuffle ? ", shuffled" : ""}${this.dropLast ? ", dropLast" : ""})`;
  }

  *[Symbol.iterator](): Iterator<B> {
    if (this.tensors && (this.tensors.x.isDisposed || this.tensors.y.isDisposed)) {
      throw new Error("This DataLoader's tensors were disposed, so it has no data left; build the DataLoader again from tensors that are not disposed.");
    }
    const order = this.shuffle ? shuffled(this.n, this.rand) : undefined;
    // Tensor batches take their rows from typed memory: an index tensor made from a plain array is converted
    // value by value, 10 µs a batch.
    const rows = order && this.tensors ? Int32Array.from(order) : undefined;
    for (let b = 0; b < this.length; b++) {
      const start = b * this.bs;
      const end = Math.min(start + this.bs, this.n);
      if (this.host) yield this.host.batch(order ? order.slice(start, end) : range(end - start).map((i) => start + i)) as B;
      else yield (this.tensors ? this.tensorBatch(this.tensors, start, end, rows) : this.itemBatch(this.items!, start, end, order)) as B;
    }
  }

  private tensorBatch({ x, y }: TensorDataset, start: number, end: number, order?: Int32Array): [tf.Tensor, tf.Tensor] {
    if (!order) return [tf.slice(x, start, end - start), tf.slice(y, start, end - start)];
    return tf.tidy(() => {
      const rows = tf.tensor1d(order.subarray(start, end), "int32");
      return [tf.gather(x, rows), tf.gather(y, rows)];
    });
  }

  private itemBatch(items: unknown[], start: number, end: number, order?: number[]): unknown[] {
    const batch = order ? order.slice(start, end).map((i) => items[i]) : items.slice(start, end);
    if (!batch.every(Array.isArray)) return batch;
    const width = batch[0]!.length;
    if (!batch.every((item) => item.length === width)) {
      throw new Error("Cannot collate a batch of tuples of different lengths.");
    }
    return range(width).map((field) => batch.map((item) => item[field]));
  }
}

// The batch type follows from the dataset: tensors -> [xb, yb], tuples -> one array per field,
// anything else -> arrays of items. A class constructor cannot choose its generic argument per
// overload, so the class is exported under a constructor type that can.
interface DataLoaderConstructor {
  new (dataset: TensorDataset | HostDataset, options?: DataLoaderOptions): DataLoader<[tf.Tensor, tf.Tensor]>;
  new <T extends readonly unknown[]>(dataset: Iterable<T>, options?: DataLoaderOptions): DataLoader<Collated<T>>;
  new <T>(dataset: Iterable<T>, options?: DataLoaderOptions): DataLoader<T[]>;
  readonly prototype: DataLoader<unknown>;
}
export type DataLoader<B> = DataLoaderImpl<B>;
/**
 * Cuts a dataset into batches; iterate it once per epoch.
 *
 * - An array (or any iterable) of items gives arrays of items; when the items are tuples, each batch
 *   is collated into one array per field, as PyTorch does: [[i, c], ...] -> [[i, ...], [c, ...]].
 * - A `TensorDataset` gives `[xb, yb]` tensors, each cut with a single op (slice, or gather when
 *   shuffled). The caller owns every batch tensor and must dispose it (or run the step in tf.tidy);
 *   the loader never disposes the dataset's own tensors either.
 * - A `HostDataset` (data kept in plain arrays) gives `[xb, yb]` tensors made for each batch, which the
 *   caller owns as well.
 */
export const DataLoader = DataLoaderImpl as unknown as DataLoaderConstructor;

/** A training loader (shuffled every epoch) and a validation loader (fixed order), as fastai's DataLoaders. */
export class DataLoaders<B> {
  constructor(readonly train: DataLoader<B>, readonly valid: DataLoader<B>) {}

  /** Loaders over tensors; the caller keeps ownership of the four tensors and of every batch. */
  static fromTensors(
    trainX: tf.Tensor, trainY: tf.Tensor, validX: tf.Tensor, validY: tf.Tensor,
    { bs = 64, seed }: { bs?: number; seed?: number } = {},
  ): DataLoaders<[tf.Tensor, tf.Tensor]> {
    return new DataLoaders(
      new DataLoader(tensorDataset(trainX, trainY), { bs, shuffle: true, seed }),
      new DataLoader(tensorDataset(validX, validY), { bs }),
    );
  }
}
