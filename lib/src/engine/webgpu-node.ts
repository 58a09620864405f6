// WebGPU in Node: Dawn's addon (npm package `webgpu`) under @tensorflow/tfjs-backend-webgpu. Both packages
// are optional, so nothing here is imported at load time. Three things the backend does not do by itself:
//   1. choose an adapter knowingly: a software adapter (Mesa's lavapipe/llvmpipe, SwiftShader) runs the GPU
//      code path on the CPU, tens of times slower than wasm, so it is used only when asked for;
//   2. say which adapter runs (vendor, device, architecture);
//   3. read synchronously: the backend's readSync copies through an OffscreenCanvas, which Node lacks, so
//      dataSync()/arraySync() failed. Here readSync copies into a mappable buffer and waits for the map.
//
// How a synchronous wait is possible: Dawn resolves a mapAsync only inside instance.ProcessEvents(), which
// its Node addon runs from a callback it schedules with the global setImmediate whenever asynchronous work
// is pending. The JavaScript thread cannot return to the event loop in the middle of dataSync(), so we keep
// the callbacks Dawn schedules and call them ourselves until the buffer is mapped, sleeping briefly between
// tries (Atomics.wait), with a time limit and a clear error.
import { withoutDawnLimitNotes } from "./dawn-log";
import * as path from "node:path";
import { tf } from "../tf";

/** What Dawn says about an adapter (GPUAdapterInfo). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

// The slice of the WebGPU API used here (the addon's own typings need @webgpu/types).
interface GpuBuffer { size: number; mapState: string; mapAsync(mode: number): Promise<void>; getMappedRange(): ArrayBuffer; unmap(): void }
interface GpuAdapter { info?: Partial<AdapterInfo>; requestDevice(descriptor?: unknown): Promise<unknown> }
interface Gpu { requestAdapter(options?: unknown): Promise<GpuAdapter | null>; getPreferredCanvasFormat?(): string; wgslLanguageFeatures?: unknown }
interface Dawn { create(flags: string[]): Gpu; globals: Record<string, unknown> }

/** Names that mark an adapter as software rendering, when Dawn's architecture field does not. */
const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|warp|software/i;

export function isSoftwareAdapter(info: AdapterInfo): boolean {
  return info.isFallbackAdapter || /^(software|cpu)$/i.test(info.architecture) || SOFTWARE_NAMES.test(`${info.device} ${info.description}`);
}

/** E.g. `adapter "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" (vendor mesa, device llvmpipe-..., architecture software; software rendering on the CPU)`. */
export function describeAdapter(info: AdapterInfo): string {
  const name = info.description || info.device || "unnamed";
  const parts = [`vendor ${info.vendor || "unknown"}`, `device ${info.device || "unknown"}`, `architecture ${info.architecture || "unknown"}`];
  const soft = isSoftwareAdapter(info) ? "; software rendering on the CPU, for testing: slow" : "";
  return `adapter "${name}" (${parts.join(", ")}${soft})`;
}

function adapterInfo(adapter: GpuAdapter): AdapterInfo {
  const i = adapter.info ?? {};
  return {
    vendor: String(i.vendor ?? ""), architecture: String(i.architecture ?? ""), device: String(i.device ?? ""),
    description: String(i.description ?? ""), isFallbackAdapter: Boolean(i.isFallbackAdapter),
  };
}

// ---- Dawn's scheduled event processing, kept so that a synchronous read can run it -------------------

const pendingTicks = new Set<() => void>();
let hooked = false;

/** Dawn's callbacks are native functions without a name or parameters; user code never passes those. */
function isDawnTick(fn: unknown, args: unknown[]): fn is () => void {
  return typeof fn === "function" && args.length === 0 && fn.name === "" && fn.length === 0 &&
    Function.prototype.toString.call(fn).endsWith("{ [native code] }");
}

/**
 * Wraps the global setImmediate (before Dawn is loaded) so that each callback Dawn schedules is also kept
 * in `pendingTicks`. Each runs once: either here, from a synchronous read, or later by Node, whichever
 * comes first. Everything else passes through untouched.
 */
function keepDawnTicks(): void {
  if (hooked) return;
  hooked = true;
  const original = globalThis.setImmediate;
  const wrapped = function (this: unknown, fn: unknown, ...args: unknown[]) {
    if (!isDawnTick(fn, args)) return (original as (...a: unknown[]) => NodeJS.Immediate)(fn, ...args);
    let ran = false;
    const once = () => { if (ran) return; ran = true; pendingTicks.delete(once); fn(); };
    pendingTicks.add(once);
    return original(once);
  };
  // Keep util.promisify's custom form and the rest of what Node attaches to setImmediate.
  for (const key of Reflect.ownKeys(original)) {
    if (key === "length" || key === "name" || key === "prototype") continue;
    Object.defineProperty(wrapped, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  globalThis.setImmediate = wrapped as typeof setImmediate;
}

/** Seconds a synchronous read may wait for the GPU (FASTBOOK_WEBGPU_READ_TIMEOUT, default 600). */
export function readTimeoutMs(): number {
  const s = Number(process.env.FASTBOOK_WEBGPU_READ_TIMEOUT ?? 600);
  return (Number.isFinite(s) && s > 0 ? s : 600) * 1000;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks until `buffer` (after mapAsync) is mapped, running Dawn's event processing meanwhile. Throws when
 * the map fails or takes longer than `timeoutMs`. Exported for tests.
 */
export function waitUntilMapped(buffer: { mapState: string }, timeoutMs = readTimeoutMs()): void {
  const start = Date.now();
  let pause = 0.02; // ms, doubled up to 2 ms: quick reads stay quick, long ones do not spin the CPU
  let ticksSeen = false;
  while (buffer.mapState === "pending") {
    for (const tick of [...pendingTicks]) { ticksSeen = true; tick(); }
    if (buffer.mapState !== "pending") break;
    if (Date.now() - start > timeoutMs) {
      throw new Error(`webgpu: a synchronous read (dataSync, arraySync, ...) waited ${((Date.now() - start) / 1000).toFixed(1)} s ` +
        `for the GPU and gave up${ticksSeen ? "" : " (Dawn scheduled no event processing: was globalThis.setImmediate replaced after the backend started?)"}. ` +
        `The device may be hung or lost; await tensor.data() reads without blocking. ` +
        `FASTBOOK_WEBGPU_READ_TIMEOUT sets the limit in seconds.`);
    }
    Atomics.wait(sleeper, 0, 0, pause);
    pause = Math.min(pause * 2, 2);
  }
  if (buffer.mapState !== "mapped") {
    throw new Error(`webgpu: reading a tensor back from the GPU failed (buffer state "${buffer.mapState}"): the device may have been lost.`);
  }
}

// ---- readSync for tfjs-backend-webgpu ------------------------------------------------------------------

/** The parts of WebGPUBackend that readSync uses (its own getBufferData does the same steps, awaiting). */
interface WebGPUBackendLike {
  tensorMap: { get(dataId: object): TensorData };
  bufferManager: { acquireBuffer(size: number, usage: number): GpuBuffer; releaseBuffer(b: GpuBuffer): void };
  commandEncoder: { copyBufferToBuffer(src: GpuBuffer, so: number, dst: GpuBuffer, dO: number, size: number): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(dataId: object, values: tf.backend_util.BackendValues): tf.backend_util.BackendValues;
  readSync(dataId: object): tf.backend_util.BackendValues;
}
interface TensorData {
  dtype: tf.DataType;
  values?: tf.backend_util.BackendValues | null;
  resource?: unknown;
  complexTensorInfos?: { real: { dataId: object }; imag: { dataId: object } };
}

const g = globalThis as unknown as { GPUBufferUsage: { MAP_READ: number; COPY_DST: number }; GPUMapMode: { READ: number } };

function readSyncThroughMap(this: WebGPUBackendLike, dataId: object): tf.backend_util.BackendValues {
  const data = this.tensorMap.get(dataId);
  if (data.values != null || data.dtype === "string") return data.values!;
  if (data.dtype === "complex64") {
    const re = this.readSync(data.complexTensorInfos!.real.dataId) as Float32Array;
    const im = this.readSync(data.complexTensorInfos!.imag.dataId) as Float32Array;
    const merged = tf.backend_util.mergeRealAndImagArrays(re, im);
    return this.convertAndCacheOnCPU(dataId, tf.util.convertBackendValuesAndArrayBuffer(merged.buffer as ArrayBuffer, "float32"));
  }
  const source = data.resource as GpuBuffer | undefined;
  if (!source || typeof source.size !== "number") throw new Error("webgpu: this tensor's data is neither on the CPU nor in a GPU buffer; it cannot be read.");
  const staging = this.bufferManager.acquireBuffer(source.size, g.GPUBufferUsage.COPY_DST | g.GPUBufferUsage.MAP_READ);
  this.ensureCommandEncoderReady();
  this.endComputePassEncoder();
  this.commandEncoder.copyBufferToBuffer(source, 0, staging, 0, source.size);
  this.submitQueue();
  // A failed map rejects this promise; waitUntilMapped reports it, so the rejection itself is handled here.
  staging.mapAsync(g.GPUMapMode.READ).catch(() => undefined);
  try {
    waitUntilMapped(staging);
  } catch (e) {
    if (staging.mapState === "mapped") staging.unmap();
    throw e;
  }
  const bytes = staging.getMappedRange().slice(0);
  staging.unmap();
  this.bufferManager.releaseBuffer(staging);
  return this.convertAndCacheOnCPU(dataId, tf.util.convertBackendValuesAndArrayBuffer(bytes, data.dtype));
}

// ---- Loading -------------------------------------------------------------------------------------------

let gpu: Gpu | undefined;
let vetted: { adapter: GpuAdapter; info: AdapterInfo } | undefined; // checked, not yet handed to the backend
let inUse: AdapterInfo | undefined; // the adapter the tfjs backend runs on

/** The adapter the webgpu backend runs on, once it has started. */
export function webgpuAdapter(): AdapterInfo | undefined {
  return inUse;
}

function loadDawn(): Gpu {
  if (gpu) return gpu;
  // With DAWN_NODE set (a bundled script on a machine without node_modules), only the addon is needed.
  for (const pkg of process.env.DAWN_NODE ? [] : ["webgpu", "@tensorflow/tfjs-backend-webgpu"]) {
    try { require.resolve(`${pkg}/package.json`); } catch { throw new Error(`${pkg} not installed`); }
  }
  // `webgpu`'s own entry is ESM-only, so the addon is loaded directly.
  const platform = process.platform === "darwin" ? "darwin-universal" : `${process.platform}-${process.arch}`;
  const addon = process.env.DAWN_NODE || path.join(path.dirname(require.resolve("webgpu/package.json")), "dist", platform, "dawn.node");
  keepDawnTicks();
  const dawn = require(addon) as Dawn;
  Object.assign(globalThis, dawn.globals);
  const real = dawn.create([]);
  // tfjs-backend-webgpu asks navigator.gpu for an adapter; it gets the one checked by prepareWebgpu.
  const proxy: Gpu = {
    async requestAdapter(options?: unknown) {
      if (vetted) { const { adapter, info } = vetted; vetted = undefined; inUse = info; return adapter; }
      const adapter = await withoutDawnLimitNotes(() => real.requestAdapter(options));
      if (adapter) inUse = adapterInfo(adapter);
      return adapter;
    },
    getPreferredCanvasFormat: () => real.getPreferredCanvasFormat?.() ?? "bgra8unorm",
    get wgslLanguageFeatures() { return real.wgslLanguageFeatures; },
  };
  const gl = globalThis as { navigator?: { gpu?: unknown } };
  if (!gl.navigator) Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true });
  // Node 21+ has a read-only navigator; define the property rather than assign it.
  Object.defineProperty(gl.navigator, "gpu", { value: proxy, configurable: true, writable: true });
  gpu = real;
  return real;
}

/**
 * Loads Dawn and tfjs-backend-webgpu (with the synchronous read) and checks the adapter the backend will
 * get. `allowSoftware` false (the automatic choice): a software or fallback adapter is refused with a
 * reason. Returns the adapter; the caller then starts the backend (tf.setBackend("webgpu")).
 */
export async function prepareWebgpu(allowSoftware: boolean): Promise<AdapterInfo> {
  const real = loadDawn();
  let info: AdapterInfo;
  if (tf.findBackend("webgpu") && inUse) {
    info = inUse; // already running on this adapter
  } else {
    const adapter = await withoutDawnLimitNotes(() => real.requestAdapter({ powerPreference: "high-performance" }));
    if (!adapter) throw new Error("no GPU adapter found (is a Vulkan driver installed?)");
    info = adapterInfo(adapter);
    vetted = { adapter, info };
  }
  if (!allowSoftware && isSoftwareAdapter(info)) {
    vetted = undefined;
    const name = info.description || info.device;
    throw new Error(`only a software adapter, "${name}" (architecture ${info.architecture || "unknown"}), used only when asked for (TFJS_BACKEND=webgpu)`);
  }
  const backendModule = require("@tensorflow/tfjs-backend-webgpu") as { WebGPUBackend: { prototype: { readSync: unknown } } };
  backendModule.WebGPUBackend.prototype.readSync = readSyncThroughMap;
  return info;
}
