// The choice between one OpenBLAS thread and all for a large product (lib/src/engine/blas-threads.ts), driven by
// a simulated machine: products whose time depends on the thread count and on whether the other core is busy.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { fasterThreadCount } from "../lib/src/engine/blas-threads";
import { ROW_MAJOR, NO_TRANS, type Sgemm } from "../lib/src/engine/blas-common";

/** A machine whose products take `timeUs(threads, call)` µs, with a clock the wrapper reads. */
function simulated(timeUs: (threads: number, call: number) => number, mayThread = (m: number, n: number, k: number) => m * n * k >= 16e6) {
  let clock = 0, threads = 2, call = 0;
  const used: number[] = [];
  const sgemm: Sgemm = () => { clock += timeUs(threads, call) / 1000; used.push(threads); call++; };
  const product = fasterThreadCount(sgemm, (n) => { threads = n; }, 2, mayThread, () => clock);
  const run = (calls: number, [m, n, k] = [256, 128, 784]) => {
    const a = new Float32Array(1);
    for (let i = 0; i < calls; i++) product(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, 1, a, 1, a, 1, 0, a, 1);
  };
  return { run, used, total: () => clock };
}

const count = (xs: number[], v: number) => xs.filter((x) => x === v).length;

test("on a quiet machine a large product keeps both threads, after one try on one thread", () => {
  const m = simulated((threads) => (threads === 2 ? 195 : 296));
  m.run(2000);
  assert.deepEqual([m.used.indexOf(1), count(m.used, 1)], [1, 1], "one thread for the second call only");
  assert.ok(count(m.used.slice(-200), 1) <= 4, `one-thread calls among the last 200: ${count(m.used.slice(-200), 1)}`);
});

test("when the other core turns busy, the product moves to one thread within a few calls, and back when it is free again", () => {
  // Calls 300-999: the second thread shares a busy core, so two threads take four times as long.
  const busy = (call: number) => call >= 300 && call < 1000;
  const m = simulated((threads, call) => (threads === 2 ? (busy(call) ? 800 : 195) : 296));
  m.run(2000);
  const firstOne = m.used.indexOf(1, 300);
  assert.ok(firstOne >= 300 && firstOne <= 305, `moved to one thread at call ${firstOne}`);
  assert.ok(count(m.used.slice(310, 1000), 2) <= 700 / 32, `two threads while busy: ${count(m.used.slice(310, 1000), 2)} of 690`);
  const back = m.used.indexOf(2, 1000);
  assert.ok(back >= 1000 && back <= 1000 + 70, `back to two threads at call ${back}`);
  assert.ok(count(m.used.slice(-200), 1) <= 4, `one-thread calls among the last 200: ${count(m.used.slice(-200), 1)}`);
  // Against two threads throughout (1,300 calls of 195 µs and 700 of 800): far less time.
  const always = 1300 * 195 + 700 * 800;
  assert.ok(m.total() * 1000 < 0.75 * always, `${(m.total() * 1000).toFixed(0)} µs against ${always} on two threads throughout`);
});

test("one slow call now and then does not move a product off the faster choice", () => {
  const m = simulated((threads, call) => (threads === 2 ? (call % 97 === 50 ? 20000 : 195) : 296));
  m.run(1000);
  assert.equal(count(m.used, 1), 1, "one thread for the second call only");
});

test("on a machine busy from the start, a product that is faster on one thread moves there at once", () => {
  const m = simulated((threads) => (threads === 2 ? 800 : 296));
  m.run(1000);
  assert.ok(count(m.used.slice(2), 2) <= 1000 / 32, `two-thread calls after the first two: ${count(m.used.slice(2), 2)}`);
});

test("small products, and shapes that do not gain from threads, run on one thread without timing", () => {
  const m = simulated((threads) => (threads === 2 ? 10 : 50));
  m.run(100, [256, 30, 784]); // 6 M multiply-adds: under the threaded size
  assert.deepEqual(m.used, Array(100).fill(1));
});

test("each shape keeps its own choice", () => {
  // The first shape is faster on two threads, the second on one.
  let shape = 0;
  const m = simulated((threads) => (shape === 0 ? (threads === 2 ? 195 : 296) : threads === 2 ? 900 : 400));
  for (let i = 0; i < 400; i++) {
    shape = i % 2;
    m.run(1, shape === 0 ? [256, 128, 784] : [784, 128, 256]);
  }
  const byShape = (s: number) => m.used.filter((_, i) => i % 2 === s).slice(-100);
  assert.ok(count(byShape(0), 2) >= 95, `shape 0 on two threads: ${count(byShape(0), 2)} of its last 100`);
  assert.ok(count(byShape(1), 1) >= 95, `shape 1 on one thread: ${count(byShape(1), 1)} of its last 100`);
});

test("a first try on one thread that was slow by chance is made again once both threads slow down", () => {
  // Call 1 (the try on one thread) is hit by a slow spell; from call 300 the second core is busy.
  const m = simulated((threads, call) => (call === 1 ? 5000 : threads === 2 ? (call >= 300 ? 800 : 195) : 296));
  m.run(1000);
  const moved = m.used.indexOf(1, 2);
  assert.ok(moved >= 300 && moved <= 310, `tried one thread again at call ${moved}`);
  assert.ok(count(m.used.slice(320), 2) <= 680 / 32, `two-thread calls while busy: ${count(m.used.slice(320), 2)} of 680`);
});
