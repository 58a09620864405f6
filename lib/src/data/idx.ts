// The IDX format of the original MNIST files (and of Fashion-MNIST, which copies it): a 4-byte magic
// number (two zero bytes, a type code, the number of dimensions), each dimension as a big-endian uint32,
// then the values, big-endian, row by row. Files are often gzipped.
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";

/** The element types an IDX file (MNIST's original format) can hold. */
export type IdxDtype = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";
/** An IDX file's numbers, in the typed array of its element type. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** An array read from an IDX file: its shape, element type and values (row by row). */
export interface IdxArray {
  shape: number[];
  dtype: IdxDtype;
  data: IdxData;
}

// Type code -> element type and size, as the format's description lists them.
const TYPES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  0x08: { dtype: "uint8", bytes: 1 },
  0x09: { dtype: "int8", bytes: 1 },
  0x0b: { dtype: "int16", bytes: 2 },
  0x0c: { dtype: "int32", bytes: 4 },
  0x0d: { dtype: "float32", bytes: 4 },
  0x0e: { dtype: "float64", bytes: 8 },
};

const hex = (b: number) => `0x${b.toString(16).padStart(2, "0")}`;
const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Reads an IDX file, plain or gzipped (recognised by its content, whatever the name). */
export function readIdx(file: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === "ENOENT" ? `No such IDX file: ${file}` : `Cannot read IDX file ${file}: ${(e as Error).message}`);
  }
  if (isGzip(bytes)) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${file} is gzipped but cannot be unpacked (${(e as Error).message}): the file is truncated or corrupt; download it again.`);
    }
  }
  return parseIdx(bytes, file);
}

/** Parses the bytes of an (unzipped) IDX file; `name` is used in error messages. */
export function parseIdx(bytes: Uint8Array, name = "IDX data"): IdxArray {
  if (bytes.length < 4) throw new Error(`${name} is not an IDX file: it holds ${bytes.length} bytes, fewer than the 4-byte magic number.`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${name} is not an IDX file: it starts with ${hex(bytes[0])} ${hex(bytes[1])}, where an IDX file's magic number ` +
      `starts with 0x00 0x00 (MNIST's images start 0x00 0x00 0x08 0x03).`);
  }
  const type = TYPES[bytes[2]];
  if (!type) {
    throw new Error(`${name}: unknown IDX type code ${hex(bytes[2])} in its magic number; known codes: ` +
      `${Object.entries(TYPES).map(([c, t]) => `${hex(Number(c))} ${t.dtype}`).join(", ")}.`);
  }
  const rank = bytes[3];
  if (rank === 0) throw new Error(`${name}: its IDX header declares 0 dimensions; an IDX array has at least one.`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new Error(`${name} is truncated inside its header: ${rank} dimensions need ${headerBytes} header bytes, the file has ${bytes.length}.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = shape.reduce((a, b) => a * b, 1);
  const dataBytes = bytes.length - headerBytes;
  if (dataBytes !== size * type.bytes) {
    throw new Error(`${name}: its header declares shape [${shape}] of ${type.dtype} (${size * type.bytes} bytes of values), ` +
      `but ${dataBytes} bytes follow the header: the file is ${dataBytes < size * type.bytes ? "truncated" : "longer than declared"} ` +
      `or corrupt; download it again.`);
  }
  return { shape, dtype: type.dtype, data: values(view, headerBytes, size, type.dtype) };
}

/** The values, converted from big-endian; single bytes are copied as they are. */
function values(view: DataView, offset: number, size: number, dtype: IdxDtype): IdxData {
  const src = new Uint8Array(view.buffer, view.byteOffset + offset, size * TYPES_BY_NAME[dtype]);
  switch (dtype) {
    case "uint8": return src.slice();
    case "int8": return new Int8Array(src.slice().buffer);
    case "int16": { const a = new Int16Array(size); for (let i = 0; i < size; i++) a[i] = view.getInt16(offset + 2 * i, false); return a; }
    case "int32": { const a = new Int32Array(size); for (let i = 0; i < size; i++) a[i] = view.getInt32(offset + 4 * i, false); return a; }
    case "float32": { const a = new Float32Array(size); for (let i = 0; i < size; i++) a[i] = view.getFloat32(offset + 4 * i, false); return a; }
    case "float64": { const a = new Float64Array(size); for (let i = 0; i < size; i++) a[i] = view.getFloat64(offset + 8 * i, false); return a; }
  }
}
const TYPES_BY_NAME = Object.fromEntries(Object.values(TYPES).map((t) => [t.dtype, t.bytes])) as Record<IdxDtype, number>;

/** Writes an array as an IDX file (gzipped when the name ends in .gz): for tests and for exporting data. */
export function writeIdx(file: string, arr: IdxArray): void {
  const code = Number(Object.entries(TYPES).find(([, t]) => t.dtype === arr.dtype)?.[0]);
  if (!code) throw new Error(`writeIdx: unknown dtype ${arr.dtype}.`);
  const size = arr.shape.reduce((a, b) => a * b, 1);
  if (size !== arr.data.length) throw new Error(`writeIdx: shape [${arr.shape}] needs ${size} values; got ${arr.data.length}.`);
  const bytes = TYPES_BY_NAME[arr.dtype];
  const header = 4 + 4 * arr.shape.length;
  const out = Buffer.alloc(header + size * bytes);
  out[2] = code;
  out[3] = arr.shape.length;
  arr.shape.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < size; i++) {
    const v = arr.data[i], at = header + i * bytes;
    switch (arr.dtype) {
      case "uint8": view.setUint8(at, v); break;
      case "int8": view.setInt8(at, v); break;
      case "int16": view.setInt16(at, v, false); break;
      case "int32": view.setInt32(at, v, false); break;
      case "float32": view.setFloat32(at, v, false); break;
      case "float64": view.setFloat64(at, v, false); break;
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, file.endsWith(".gz") ? zlib.gzipSync(out) : out);
}

/** The four files of an IDX data set: training images and labels, validation (test) images and labels. */
export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  validImages: string;
  validLabels: string;
}

// The standard names (MNIST, Fashion-MNIST, KMNIST...), with or without .gz; some copies use a dot
// before "idx" instead of a hyphen.
const STANDARD_NAMES: Record<keyof IdxFiles, string> = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  validImages: "t10k-images-idx3-ubyte",
  validLabels: "t10k-labels-idx1-ubyte",
};

/** Install hints for folders that come from a system package. */
const PACKAGED: Record<string, string> = {
  "/usr/share/datasets/fashion-mnist": "Fashion-MNIST comes from Debian's dataset-fashion-mnist package: " +
    "sudo apt-get install dataset-fashion-mnist (npm test and npm start install it when run as root).",
};

/** Finds the four standard IDX files in `dir` (e.g. train-images-idx3-ubyte.gz), with a clear error when one is missing. */
export function idxFilesIn(dir: string): IdxFiles {
  const hint = PACKAGED[path.resolve(dir)] ? ` ${PACKAGED[path.resolve(dir)]}` : "";
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`No such folder: ${dir}.${hint}`);
  const names = new Set(fs.readdirSync(dir));
  const find = (base: string) => {
    const dotted = base.replace(/-idx/, ".idx");
    const hit = [base, `${base}.gz`, dotted, `${dotted}.gz`].find((n) => names.has(n));
    if (!hit) throw new Error(`${dir} has no ${base} (or ${base}.gz); it holds: ${[...names].sort().join(", ") || "nothing"}.${hint}`);
    return path.join(dir, hit);
  };
  return Object.fromEntries(Object.entries(STANDARD_NAMES).map(([k, base]) => [k, find(base)])) as unknown as IdxFiles;
}

/** Where Debian's dataset-fashion-mnist package puts Fashion-MNIST's four IDX files. */
export const FASHION_MNIST_PATH = "/usr/share/datasets/fashion-mnist";

/** Fashion-MNIST's ten classes, in label order (label 0 is "T-shirt/top"). */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
];
