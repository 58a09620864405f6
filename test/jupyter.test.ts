// The bridge to tslab: outside a kernel there is no display; inside one, the kernel's zeromq sockets
// must survive back-to-back display messages (tslab fires sends without waiting, zeromq 6 allows one).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { inJupyter, showHtml } from "../lib/src/jupyter";

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
