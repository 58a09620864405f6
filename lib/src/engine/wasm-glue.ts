// The Emscripten glue of @tensorflow/tfjs-backend-wasm adds two process handlers whenever a wasm module
// starts: one rethrows every uncaught exception, one throws every unhandled rejection. Rethrown from inside
// a handler, an error makes Node print the source line it came from (the glue's ~40 KB minified line)
// instead of the error, and exit with code 7. Without them Node prints the error's own message and stack.

/** The glue's two handlers, recognised by their source text. */
const GLUE_HANDLERS: Record<string, RegExp> = {
  uncaughtException: /^function\s*\(ex\)\s*\{\s*if\s*\(\s*!\s*\(ex instanceof ExitStatus\)\s*\)\s*\{\s*throw ex;?\s*\}\s*\}$/,
  unhandledRejection: /^function\s*\(reason\)\s*\{\s*throw reason;?\s*\}$/,
};

/** Removes the wasm glue's process handlers (call after a wasm backend has started); returns how many. */
export function removeWasmGlueHandlers(): number {
  let removed = 0;
  for (const [event, source] of Object.entries(GLUE_HANDLERS)) {
    for (const listener of process.listeners(event as "uncaughtException")) {
      if (source.test(String(listener))) {
        process.removeListener(event, listener);
        removed++;
      }
    }
  }
  return removed;
}
