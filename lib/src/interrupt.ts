// Kernel > Interrupt for long loops. Jupyter interrupts a kernel with SIGINT; tslab answers it by rejecting
// the running cell's promise, and nothing more: the awaited work (a fit) would go on in the background
// and compete with the next cell. So a long loop of the library watches for SIGINT itself, and stops
// between two steps. A signal is delivered only when the loop lets the event loop run, so the watch
// also yields every few milliseconds (cheap: one setImmediate per yield).

/** Thrown by a loop that stopped because of Kernel > Interrupt (Ctrl-C outside Jupyter). */
export class Interrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Interrupted";
  }
}

const active = new Set<InterruptWatch>();
let listening = false;

/** What the open watches are watching (e.g. ["fit"]): the loops an interrupt now stops. */
export function watchedLoops(): string[] {
  return [...active].map((w) => w.what);
}

// Adds or removes the SIGINT listener to match the open watches, in a microtask: a listener added while
// tslab runs a cell's synchronous part (vm with breakOnSigint) would make the next SIGINT kill the kernel.
function sync(): void {
  queueMicrotask(() => {
    if (active.size > 0 && !listening) process.on("SIGINT", onSigint);
    else if (active.size === 0 && listening) process.off("SIGINT", onSigint);
    else return;
    listening = !listening;
  });
}

function onSigint(): void {
  // Outside a kernel nobody else listens: a second Ctrl-C while a loop is still unwinding (say, inside one
  // long step) gives the default behaviour back, which ends the process.
  const again = [...active].some((w) => w.requested);
  for (const w of active) w.requested = true;
  if (again && process.listenerCount("SIGINT") === 1) {
    process.off("SIGINT", onSigint);
    listening = false;
    for (const w of [...active]) w.close();
    process.kill(process.pid, "SIGINT");
  }
}

/**
 * Listens for SIGINT while a long loop runs (from the first `await`, such as the first checkpoint, on).
 * Call `checkpoint()` between steps: it yields to the event
 * loop when one is due and throws `Interrupted` once a signal came. Always `close()` it (in a finally):
 * the SIGINT listener is removed when the last watch closes (in a microtask, as it is added).
 */
export class InterruptWatch {
  /** Whether a SIGINT arrived since the watch opened. */
  requested = false;
  private lastYield = Date.now();
  private closed = false;

  /**
   * @param what names the loop in the error, e.g. "fit".
   * @param yieldEveryMs how often the loop lets signals (and display updates) through.
   */
  constructor(readonly what: string, readonly yieldEveryMs = 20) {
    active.add(this);
    sync();
  }

  /**
   * Yields to the event loop when due: then it returns a promise to await. Throws `Interrupted` (with `where`
   * in its message) if interrupted. Between yields it returns nothing, so that a loop of short steps does not
   * wait a turn of the event loop's microtasks per step: `await watch.checkpoint()` works either way.
   */
  checkpoint(where = ""): Promise<void> | undefined {
    if (Date.now() - this.lastYield >= this.yieldEveryMs) return this.yieldThenCheck(where);
    this.throwIfInterrupted(where);
    return undefined;
  }

  private async yieldThenCheck(where: string): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.lastYield = Date.now();
    this.throwIfInterrupted(where);
  }

  private throwIfInterrupted(where: string): void {
    if (this.requested) throw new Interrupted(`${this.what} was interrupted${where ? ` ${where}` : ""}.`);
  }

  /** Stops watching: Interrupt no longer reaches this watch. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    active.delete(this);
    sync();
  }
}

/**
 * Runs `body` with an interrupt watch for it; the watch is closed however `body` ends. For a long loop:
 * `await interruptible("loading images", async (watch) => { for (...) { step(); await watch.checkpoint(); } })`.
 */
export async function interruptible<T>(what: string, body: (watch: InterruptWatch) => Promise<T>): Promise<T> {
  const watch = new InterruptWatch(what);
  try {
    return await body(watch);
  } finally {
    watch.close();
  }
}

/**
 * One interruptible loop at a time, e.g. a Learner's fits. A second `run` while one is going is refused
 * with `busy`, unless the first was interrupted: in Jupyter an interrupted cell returns at once while its
 * loop unwinds at the next checkpoint, so the second waits for that instead.
 */
export class OneAtATime {
  private running?: { watch: InterruptWatch; done: Promise<void> };

  constructor(readonly what: string, readonly busy: string) {}

  async run<T>(body: (watch: InterruptWatch) => Promise<T>): Promise<T> {
    while (this.running) {
      if (!this.running.watch.requested) throw new Error(this.busy);
      await this.running.done;
    }
    const watch = new InterruptWatch(this.what);
    let finished!: () => void;
    this.running = { watch, done: new Promise<void>((resolve) => { finished = resolve; }) };
    try {
      return await body(watch);
    } finally {
      watch.close();
      this.running = undefined;
      finished();
    }
  }
}
