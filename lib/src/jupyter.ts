// A bridge to tslab's display functions. Outside a tslab kernel (tests, scripts) there is no display,
// and callers fall back to plain text.
import * as path from "node:path";
import { installNotebookErrors } from "./error-format";
import { watchedLoops } from "./interrupt";

/** What a notebook cell can show: HTML, a PNG, an SVG or plain text (tslab's display). */
export interface Display {
  html(s: string): void;
  png(b: Uint8Array): void;
  svg(s: string): void;
  text(s: string): void;
}

interface Tslab {
  display: Display;
  newDisplay(): Display;
}

let sendsSerialized = false;

/**
 * tslab sends every message without waiting for the previous one, but a zeromq 6 socket allows one send
 * at a time: frequent display updates (a progress bar) make it throw EBUSY and the kernel dies. Chaining
 * each socket's sends one after another fixes that for every message tslab sends.
 */
function serializeZmqSends(): void {
  if (sendsSerialized) return;
  sendsSerialized = true;
  try {
    const zmq = require("zeromq") as { Publisher?: { prototype: object } };
    let proto: object | null = zmq.Publisher?.prototype ?? null;
    while (proto && !Object.prototype.hasOwnProperty.call(proto, "send")) proto = Object.getPrototypeOf(proto);
    if (!proto) throw new Error("zeromq's Socket has no send method");
    const send = (proto as { send(this: object, msg: unknown): Promise<void> }).send;
    const pending = new WeakMap<object, Promise<void>>();
    // The native method is read-only but configurable: redefine it rather than assign.
    Object.defineProperty(proto, "send", {
      configurable: true,
      writable: false,
      value: function (this: object, msg: unknown): Promise<void> {
        const next = (pending.get(this) ?? Promise.resolve()).then(() => send.call(this, msg));
        pending.set(this, next.catch(() => undefined));
        return next;
      },
    });
  } catch (e) {
    console.warn(`fastbook-ts: could not serialize the kernel's zeromq sends (${(e as Error).message}); ` +
      `very frequent display updates may crash the kernel.`);
  }
}

function tslab(): Tslab | undefined {
  try {
    // tslab keeps the kernel connection in its own module state; only a running kernel has set it.
    const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData?: unknown };
    if (jupyter.lastWriteDisplayData == null) return undefined;
    serializeZmqSends();
    return require("tslab") as Tslab;
  } catch {
    return undefined;
  }
}

/**
 * Run once when the library is imported: inside a tslab kernel, errors print with their message first
 * and a few short frames, and Kernel > Interrupt prints one line.
 */
export function prepareNotebook(): void {
  if (!tslab()) return;
  installNotebookErrors(path.resolve(__dirname, "..", ".."), watchedLoops);
  completeOwnMembers();
}

/** What every function has (Function.prototype's members, and a class's `prototype`). */
const FUNCTION_MEMBERS = new Set(["apply", "arguments", "bind", "call", "caller", "length", "name", "prototype", "toString"]);
let completionFiltered = false;

/**
 * Tab after a class name (`ImageDataLoaders.`) lists the class's own static members only. TypeScript's
 * completions list them first, then what every function has (apply, bind, call, ...), which a learner
 * never needs there; tslab passes both on. A list holding apply, bind and call is a function's: those go.
 */
function completeOwnMembers(): void {
  if (completionFiltered) return;
  completionFiltered = true;
  type Reply = { matches: string[] };
  const handler = (require("tslab/dist/jupyter") as { JupyterHandlerImpl?: { prototype: { handleComplete?(req: unknown): Reply } } }).JupyterHandlerImpl;
  const original = handler?.prototype.handleComplete;
  if (!handler || !original) return;
  handler.prototype.handleComplete = function (this: unknown, req: unknown): Reply {
    const reply = original.call(this, req);
    if (["apply", "bind", "call"].every((m) => reply.matches.includes(m))) reply.matches = reply.matches.filter((m) => !FUNCTION_MEMBERS.has(m));
    return reply;
  };
}

/** True inside a tslab Jupyter kernel, where rich output can be shown. */
export function inJupyter(): boolean {
  return tslab() !== undefined;
}

/** The notebook's display, for a cell's rich output; undefined outside Jupyter. */
export function notebookDisplay(): Display | undefined {
  return tslab()?.display;
}

/** A display that overwrites one output in place (progress bars, live tables), or undefined outside Jupyter. */
export function newNotebookDisplay(): Display | undefined {
  return tslab()?.newDisplay();
}

/** Shows HTML in a notebook; prints `fallback` elsewhere: `showHtml("<b>3</b>", "3")`. */
export function showHtml(html: string, fallback: string): void {
  const d = notebookDisplay();
  if (d) d.html(html);
  else console.log(fallback);
}

/** Escapes `& < > " '` so that a text shows as itself inside HTML: `escapeHtml("a<b")` is `"a&lt;b"`. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
