// Choosing where tensors are computed: the first backend in a fixed order that works here, or the one asked for.
import { tf } from "../tf";
import { blasStatus } from "./blas";
import { installEngine } from "./install";
import { describeAdapter, prepareWebgpu, webgpuAdapter } from "./webgpu-node";

/** The backends `initBackend` can pick, in the order it tries them: it takes the first that works here. */
export const BACKENDS = ["tensorflow", "webgpu", "wasm", "cpu"] as const;
/** One of BACKENDS: a name `initBackend` and `TFJS_BACKEND` accept. */
export type BackendName = (typeof BACKENDS)[number];

/** What `initBackend` chose and why; `describeBackend(choice)` prints it in one line. */
export interface BackendChoice {
  name: BackendName;
  /** Which package supplied it, e.g. "@tensorflow/tfjs-node-gpu". */
  source: string;
  /** Why faster backends were passed over, one short reason each. */
  skipped: string[];
}

// Returns the source package, throws with a reason. `requested`: named by the user, not the automatic pick.
type Loader = (requested: boolean) => Promise<string>;

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].slice(0, 200);
}

function isMissingModule(e: unknown, name: string): boolean {
  const err = e as NodeJS.ErrnoException;
  return err?.code === "MODULE_NOT_FOUND" && String(err.message).includes(`'${name}'`);
}

async function activate(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend("${name}") failed to initialise`);
  await tf.ready();
  installEngine(name);
}

const loaders: Record<BackendName, Loader> = {
  // @tensorflow/tfjs-node(-gpu) is optional: its install downloads libtensorflow, so it may be absent
  // or present without its native binding. Trying to load it is the only reliable test.
  async tensorflow() {
    const reasons: string[] = [];
    for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
      try {
        require(pkg);
        await activate("tensorflow");
        return pkg;
      } catch (e) {
        reasons.push(isMissingModule(e, pkg) ? `${pkg} not installed` : `${pkg} failed to load: ${firstLine(e)}`);
      }
    }
    throw new Error(reasons.join("; "));
  },
  // WebGPU on Dawn's Node addon (npm package `webgpu`) with @tensorflow/tfjs-backend-webgpu, both optional:
  // any GPU with a Vulkan driver. A software adapter is taken only when asked for (see engine/webgpu-node.ts).
  async webgpu(requested) {
    const checked = await prepareWebgpu(requested);
    await activate("webgpu");
    return `@tensorflow/tfjs-backend-webgpu on Dawn (webgpu), ${describeAdapter(webgpuAdapter() ?? checked)}`;
  },
  async wasm() {
    require("@tensorflow/tfjs-backend-wasm");
    await activate("wasm");
    return `@tensorflow/tfjs-backend-wasm, ${blasStatus()}`;
  },
  async cpu() {
    await activate("cpu");
    return "@tensorflow/tfjs-backend-cpu";
  },
};

let auto: BackendChoice | undefined; // the automatic pick, kept so that later calls are instant

/**
 * Picks the backend: `requested`, else the TFJS_BACKEND environment variable, else the first of
 * tensorflow, webgpu (a hardware adapter only), wasm, cpu that loads. An explicit request that cannot be
 * met is an error, not a silent fallback, so a benchmark never measures the wrong thing.
 */
export async function initBackend(requested: string | undefined = process.env.TFJS_BACKEND): Promise<BackendChoice> {
  const wanted = requested?.trim().toLowerCase() || undefined;
  if (wanted !== undefined && !(BACKENDS as readonly string[]).includes(wanted)) {
    throw new Error(`Unknown backend "${requested}" (from TFJS_BACKEND or initBackend). Choose one of: ${BACKENDS.join(", ")}.`);
  }
  if (wanted !== undefined) {
    try {
      return { name: wanted as BackendName, source: await loaders[wanted as BackendName](true), skipped: [] };
    } catch (e) {
      throw new Error(`Backend "${wanted}" was requested but is not usable here: ${firstLine(e)}. ` +
        `Unset TFJS_BACKEND to pick automatically, or install what it needs (see README, "Backends").`);
    }
  }
  if (auto && tf.getBackend() === auto.name) return auto;
  const skipped: string[] = [];
  for (const name of BACKENDS) {
    try {
      auto = { name, source: await loaders[name](false), skipped };
      return auto;
    } catch (e) {
      skipped.push(`${name}: ${firstLine(e)}`);
    }
  }
  throw new Error(`No TensorFlow.js backend could be started:\n  ${skipped.join("\n  ")}`);
}

/** One line for a notebook or log: which backend runs, and why faster ones were passed over. */
export function describeBackend(choice: BackendChoice): string {
  const why = choice.skipped.length ? ` (skipped ${choice.skipped.join("; ")})` : "";
  return `TensorFlow.js ${tf.version_core} on backend "${choice.name}" from ${choice.source}${why}`;
}
