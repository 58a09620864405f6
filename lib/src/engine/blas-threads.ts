// How many OpenBLAS threads a large product gets: the faster of one and all, as measured on this machine now.
//
// On a quiet two-core machine the MLP's 256×784 by 784×128 products take 195 µs on two threads against 296 µs
// on one. When another process keeps the second core busy, OpenBLAS's thread there is given half that core,
// in slices of milliseconds, and the whole product waits for its share: with one busy process beside it, an
// epoch of bench case (c) took 946 ms with two threads and 370 ms with one (the same process, epochs in turn).
// So each product shape keeps an average of its recent times on all threads and on one (tried once, on its second
// call). It runs on all threads while their average stays near its best; when it grows to half as much again,
// one thread is tried again, and taken if faster. On one thread, all threads are tried again now and then (less
// often while one stays faster), since the machine's load comes and goes. On a quiet machine 98-99% of bench case
// (c)'s products ran on both threads (the rest: retries after a slow spell of a few calls).
import type { Sgemm } from "./blas-common";

/**
 * A product shape's recent times (µs, averages) on one thread and on all, the best average on all, its choice,
 * and from which call the other may be tried again.
 */
interface ShapeTimes { one: number; all: number; bestAll: number; threads: number; calls: number; retryAt: number; gap: number }

const WEIGHT = 0.3; // of the newest time in an average
const SWITCH_AT = 1.2; // the choice changes when its average exceeds the other's by this factor
const SLOWER_AT = 1.5; // all threads' average this far above its best: one thread is tried
const FIRST_GAP = 4, LONGEST_GAP = 64; // calls before the other choice is tried again
const MAX_SHAPES = 256;

/**
 * Wraps `sgemm` so that products `mayThread` allows run on `max` threads or one, whichever has been faster for
 * that shape lately; others on one. `want(n)` sets OpenBLAS's thread count; `now` is the clock in ms.
 */
export function fasterThreadCount(sgemm: Sgemm, want: (threads: number) => void, max: number,
  mayThread: (m: number, n: number, k: number) => boolean, now: () => number = () => performance.now()): Sgemm {
  const shapes = new Map<string, ShapeTimes>();
  return (order, ta, tb, m, n, k, ...rest) => {
    if (max <= 1 || !mayThread(m, n, k)) {
      want(1);
      return sgemm(order, ta, tb, m, n, k, ...rest);
    }
    const key = `${order},${ta},${tb},${m},${n},${k}`;
    let s = shapes.get(key);
    if (!s) {
      if (shapes.size >= MAX_SHAPES) shapes.clear();
      shapes.set(key, (s = { one: NaN, all: NaN, bestAll: Infinity, threads: max, calls: 0, retryAt: 1, gap: FIRST_GAP }));
    }
    // The choice, except on a retry of the other: of one thread on the second call and once all threads have
    // slowed down, of all threads every so often while on one.
    const retry = s.calls >= s.retryAt && (s.threads !== max || Number.isNaN(s.one) || s.all > SLOWER_AT * s.bestAll);
    const threads = retry ? (s.threads === max ? 1 : max) : s.threads;
    want(threads);
    const t0 = now();
    sgemm(order, ta, tb, m, n, k, ...rest);
    const us = (now() - t0) * 1000;
    s.calls++;
    // A retry's time replaces the other's stale average. The choice's own times are averaged, each taken as at
    // most twice the average (and at least half): one slow call (a page fault, a preempted thread) moves it little.
    const old = threads === max ? s.all : s.one;
    const avg = Number.isNaN(old) || retry ? us : old + WEIGHT * (Math.min(Math.max(us, old / 2), old * 2) - old);
    if (threads === max) { s.all = avg; s.bestAll = Math.min(s.bestAll, avg); } else s.one = avg;
    const [mine, other] = s.threads === max ? [s.all, s.one] : [s.one, s.all];
    if (mine > SWITCH_AT * other) {
      s.threads = s.threads === max ? 1 : max;
      s.gap = FIRST_GAP;
      s.retryAt = s.calls + s.gap;
    } else if (retry) {
      // The retry changed nothing: wait twice as long before the next one.
      s.gap = Math.min(s.gap * 2, LONGEST_GAP);
      s.retryAt = s.calls + s.gap;
    }
  };
}
