// How an error reads in a notebook. tslab prints a failed cell's error with util.inspect: the thrown line
// of a compiled file with a caret, then the message, then ten frames of absolute paths through the
// kernel's own code. A learner needs the message first, then where it came from in a few short frames.
import * as path from "node:path";
import { inspect } from "node:util";

/** The most frames shown under an error's message. */
export const MAX_FRAMES = 4;

const CELL = /^evalmachine\.<anonymous>:\d+:\d+$/;
const FRAME = /^\s*at (async )?(?:(.*?) \()?(.*?)\)?$/;

/** Where a stack frame points, in words a reader can use: a notebook cell, a project path, or a package. */
export function shortLocation(location: string, root: string): string {
  if (CELL.test(location)) return "notebook cell";
  const file = location.replace(/^file:\/\//, "");
  const nm = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (nm >= 0) {
    const parts = file.slice(nm + 14).split(path.sep);
    return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (path.isAbsolute(file) && (file + path.sep).startsWith(root + path.sep)) return path.relative(root, file).replace(/:\d+$/, "");
  return file.replace(/:\d+$/, "");
}

function isNoise(location: string): boolean {
  return location.startsWith("node:") || location.includes(`${path.sep}tslab${path.sep}`) || location === "native";
}

/**
 * An error as a notebook should show it: `Name: message` on the first line, then at most `MAX_FRAMES`
 * frames from where it was thrown to the notebook cell that called it, with short paths (relative inside
 * the project, the package's name inside node_modules), and the cause, if any.
 */
export function formatError(err: Error, root: string): string {
  const head = `${err.name || "Error"}: ${err.message}`;
  const stack = typeof err.stack === "string" ? err.stack.split("\n") : [];
  const frames: string[] = [];
  for (const line of stack) {
    const m = FRAME.exec(line);
    if (!m || !/^\s*at /.test(line)) continue;
    const [, isAsync, fn, location] = m;
    if (isNoise(location)) continue;
    const where = shortLocation(location, root);
    const name = (fn ?? "").replace(/^(Proxy|Object)\./, "");
    frames.push(`    at ${isAsync ?? ""}${name ? `${name} (${where})` : where}`);
    if (where === "notebook cell" && !name) break; // the cell's top level: what called it is the kernel
  }
  const shown = frames.length <= MAX_FRAMES ? frames
    : [frames[0], `    ... ${frames.length - MAX_FRAMES + 1} more frames`, ...frames.slice(frames.length - MAX_FRAMES + 2)];
  const cause = err.cause instanceof Error ? `\nCaused by: ${formatError(err.cause, root)}` : "";
  return [head, ...shown].join("\n") + cause;
}

/** What a cell shows when Kernel > Interrupt stopped it, instead of tslab's error with its frames. */
export function interruptedLine(running: string[]): string {
  if (running.length === 0) return "Interrupted. Work the cell started may go on in the background.";
  return `Interrupted: ${running.join(", ")} stops at its next step.`;
}

let installed = false;

/**
 * Makes errors in a notebook start with their message (see `formatError`), and turns tslab's
 * "Interrupted asynchronously" into one line. `running` names the library's loops that listen for the
 * interrupt. Affects only how errors are printed (util.inspect, console.error), never `err.stack`.
 */
export function installNotebookErrors(root: string, running: () => string[]): void {
  if (installed) return;
  installed = true;
  // Deep TensorFlow.js stacks would otherwise end before the notebook cell's frame.
  Error.stackTraceLimit = Math.max(Error.stackTraceLimit, 40);
  Object.defineProperty(Error.prototype, inspect.custom, {
    configurable: true,
    writable: true,
    value: function (this: Error): string {
      if (this.message === "Interrupted asynchronously" && String(this.stack).includes(`${path.sep}tslab${path.sep}`)) {
        return interruptedLine(running());
      }
      return formatError(this, root);
    },
  });
}
