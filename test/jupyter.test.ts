// The bridge to tslab: outside a kernel there is no display; inside one, the kernel's zeromq sockets
// must survive back-to-back display messages (tslab fires sends without waiting, zeromq 6 allows one).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { inJupyter, showHtml } from "../lib/src/jupyter";
import { formatError, shortLocation } from "../lib/src/error-format";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import "../lib/src/tf";

test("outside a kernel there is no display and HTML falls back to text", (t) => {
  assert.equal(inJupyter(), false);
  const logged: string[] = [];
  t.mock.method(console, "log", (s: string) => logged.push(s));
  showHtml("<b>x</b>", "plain x");
  assert.deepEqual(logged, ["plain x"]);
});

test("inside a kernel, sends on one zeromq socket are queued instead of failing with EBUSY", async () => {
  const zmq = require("zeromq") as typeof import("zeromq");
  const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData: unknown };
  jupyter.lastWriteDisplayData = () => undefined; // what a running tslab kernel has set
  try {
    assert.equal(inJupyter(), true);
    const pub = new zmq.Publisher();
    await pub.bind("inproc://fastbook-test");
    // Fired without awaiting, as tslab does; 1 MB each keeps every send busy for a while.
    const sends = Array.from({ length: 20 }, () => pub.send(["topic", "x".repeat(1 << 20)]));
    await Promise.all(sends);
    pub.close();
  } finally {
    jupyter.lastWriteDisplayData = null;
  }
});

test("formatError puts the message first, then at most four frames with short paths, up to the notebook cell", () => {
  const root = "/home/me/project";
  const err = new Error("crossEntropy: class 5 at [0] is out of range");
  err.stack = [
    "/home/me/project/lib/dist/checks.js:114", "    throw new Error(...)", "    ^", "",
    "Error: crossEntropy: class 5 at [0] is out of range",
    "    at /home/me/project/lib/dist/checks.js:114:23",
    "    at once (/home/me/project/lib/dist/checks.js:25:5)",
    "    at Object.assert (/home/me/project/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js:454:15)",
    "    at Proxy.crossEntropy (/home/me/project/lib/dist/losses.js:97:31)",
    "    at evalmachine.<anonymous>:3:30",
    "    at sigintHandlersWrap (node:vm:280:12)",
    "    at Object.execute (/home/me/project/node_modules/tslab/dist/executor.js:160:38)",
  ].join("\n");
  assert.equal(formatError(err, root), [
    "Error: crossEntropy: class 5 at [0] is out of range",
    "    at lib/dist/checks.js:114",
    "    ... 2 more frames",
    "    at crossEntropy (lib/dist/losses.js:97)",
    "    at notebook cell",
  ].join("\n"));
  assert.equal(shortLocation("/opt/x/node_modules/pngjs/lib/png.js:3:1", root), "pngjs");
  assert.equal(shortLocation("/elsewhere/script.js:3:1", root), "/elsewhere/script.js:3");

  const short = new TypeError("x is not a function");
  short.stack = "TypeError: x is not a function\n    at f (evalmachine.<anonymous>:7:11)\n    at async evalmachine.<anonymous>:9:1";
  short.cause = new RangeError("too far");
  (short.cause as Error).stack = "RangeError: too far";
  assert.equal(formatError(short, root), "TypeError: x is not a function\n    at f (notebook cell)\n    at async notebook cell\nCaused by: RangeError: too far");
});

test("the cpu backend does not advise installing tfjs-node", (t) => {
  const warned: string[] = [];
  t.mock.method(console, "warn", (...args: unknown[]) => warned.push(args.join(" ")));
  const backend = new MathBackendCPU(); // the advice used to come with a cpu backend's first write
  backend.write(new Float32Array([1, 2]), [2], "float32");
  backend.dispose();
  assert.deepEqual(warned, []);
});
