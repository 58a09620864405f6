#!/usr/bin/env node
// Runs a notebook on the tslab kernel and writes the executed .ipynb, for machines that have Node.js but
// no Python Jupyter: a small Jupyter client (messaging protocol 5.3 over zeromq, which tslab brings along)
// that does what scripts/execute_notebook.py does through nbclient, minus the HTML report.
//
// usage: node scripts/gpu/run-notebook.mjs IN.ipynb OUT.ipynb [--timeout SECONDS_PER_CELL]
//
// The output is written even when a cell fails, with the outputs so far. On failure a paragraph starting
// with "NOTEBOOK FAILED:" goes to stderr and the exit status is 1.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jupyterEnv } from '../jupyter-env.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSLAB = path.join(ROOT, 'node_modules', 'tslab', 'bin', 'tslab'); // as in the kernelspec setup.mjs writes
const zmq = createRequire(TSLAB)('zeromq'); // tslab's own zeromq, whatever folder npm put it in
const DELIM = '<IDS|MSG>';
const START_TIMEOUT_S = 120;
const SHUTDOWN_WAIT_MS = 5000; // jupyter_client's shutdown_wait_time
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
// The line of a Node stack trace that names the error, e.g. "TypeError: x is not a function".
const ERROR_LINE = /^(Uncaught )?([A-Za-z_$][\w$.]*)?(Error|Exception)\b[^:]*:/;
// Python's str.splitlines(True): nbformat stores text as lists of lines split this way.
const LINES = /[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])|[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+$/g;
const splitLines = (s) => s.match(LINES) ?? [];
const text = (s) => (Array.isArray(s) ? s.join('') : s ?? '');

class KernelDied extends Error {}

/** Ports that were free a moment ago (jupyter_client picks them the same way). */
async function freePorts(n) {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** A tslab kernel process and the client's sockets; received messages wait in one queue, in arrival order. */
class Kernel {
  key = randomBytes(32).toString('hex');
  queue = [];
  wake = null;
  stderrTail = '';
  exited = null; // why the process ended, once it has

  async start(cwd) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'run-notebook-'));
    const [shell, iopub, stdin, control, hb] = await freePorts(5);
    const file = path.join(this.dir, 'kernel.json');
    const conn = { ip: '127.0.0.1', transport: 'tcp', signature_scheme: 'hmac-sha256', key: this.key, kernel_name: 'tslab',
      shell_port: shell, iopub_port: iopub, stdin_port: stdin, control_port: control, hb_port: hb };
    fs.writeFileSync(file, JSON.stringify(conn), { mode: 0o600 });
    this.proc = spawn(process.execPath, [TSLAB, 'kernel', '--config-path', file],
      { cwd, env: jupyterEnv(ROOT), stdio: ['ignore', 'inherit', 'pipe'] });
    // Passed on like Jupyter does; the tail goes into the message when the kernel dies.
    this.proc.stderr.on('data', (b) => {
      process.stderr.write(b);
      this.stderrTail = (this.stderrTail + b).slice(-3000);
    });
    this.gone = new Promise((resolve) => {
      const end = (why) => {
        if (this.exited) return;
        this.exited = why;
        this.push({ died: why });
        resolve();
      };
      this.proc.on('exit', (code, signal) => end(signal ? `killed by ${signal}` : `exit status ${code}`));
      this.proc.on('error', (e) => end(e.message));
    });
    const url = (port) => `tcp://127.0.0.1:${port}`;
    this.sockets = {
      shell: new zmq.Dealer({ linger: 0 }),
      control: new zmq.Dealer({ linger: 0 }),
      iopub: new zmq.Subscriber({ linger: 0 }),
    };
    this.sockets.shell.connect(url(shell));
    this.sockets.control.connect(url(control));
    this.sockets.iopub.connect(url(iopub));
    this.sockets.iopub.subscribe();
    for (const [channel, sock] of Object.entries(this.sockets)) this.listen(channel, sock);
  }

  async listen(channel, sock) {
    try {
      for await (const frames of sock) this.push(this.parse(channel, frames));
    } catch (e) {
      if (!this.closed) this.push({ died: `${channel} socket: ${e.message}` });
    }
  }

  push(item) {
    this.queue.push(item);
    this.wake?.();
  }

  sign(parts) {
    const h = createHmac('sha256', this.key);
    for (const p of parts) h.update(p);
    return h.digest('hex');
  }

  parse(channel, frames) {
    const at = frames.findIndex((f) => f.toString() === DELIM);
    if (at < 0) return { died: `a message on ${channel} without ${DELIM}` };
    const parts = frames.slice(at + 2, at + 6);
    const got = Buffer.from(frames[at + 1].toString());
    const want = Buffer.from(this.sign(parts));
    // A bad signature means a wrong key or someone else on the port: nothing to trust after that.
    if (got.length !== want.length || !timingSafeEqual(got, want)) return { died: `a message on ${channel} with a bad signature` };
    const [header, parent_header, metadata, content] = parts.map((p) => JSON.parse(p.toString()));
    return { channel, header, parent_header, metadata, content, msg_type: header.msg_type };
  }

  async send(channel, msg_type, content) {
    // Replies are matched by msg_id alone; tslab echoes the header and needs nothing else from it.
    const header = { msg_id: randomUUID(), username: 'run-notebook', date: new Date().toISOString(), msg_type, version: '5.3' };
    const parts = [header, {}, {}, content].map((x) => JSON.stringify(x));
    await this.sockets[channel].send([DELIM, this.sign(parts), ...parts]);
    return header.msg_id;
  }

  /** The next message, or null once `deadline` (ms since the epoch) has passed; throws if the kernel died. */
  async next(deadline) {
    for (;;) {
      const item = this.queue.shift();
      if (item?.died) {
        this.queue.unshift(item); // every later call fails the same way
        const tail = this.stderrTail.trim();
        throw new KernelDied(`${item.died}${tail ? `; its last stderr:\n${tail}` : ''}`);
      }
      if (item) return item;
      const ms = deadline - Date.now();
      if (ms <= 0) return null;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = null;
    }
  }

  /**
   * kernel_info_request until both its reply and an iopub message for it arrive: a subscriber misses what is
   * published before it is connected, so a reply on shell alone does not prove that outputs will reach us.
   */
  async ready() {
    const deadline = Date.now() + START_TIMEOUT_S * 1000;
    const asked = new Set();
    let info = null;
    let heard = false;
    while (!(info && heard)) {
      if (Date.now() >= deadline) throw new Error(`the kernel did not answer within ${START_TIMEOUT_S} s`);
      asked.add(await this.send('shell', 'kernel_info_request', {}));
      const until = Math.min(deadline, Date.now() + 500);
      for (let m; !(info && heard) && (m = await this.next(until));) {
        if (!asked.has(m.parent_header.msg_id)) continue;
        if (m.msg_type === 'kernel_info_reply') info = m.content;
        if (m.channel === 'iopub') heard = true;
      }
    }
    return info;
  }

  async shutdown() {
    if (!this.exited) {
      await this.send('control', 'shutdown_request', { restart: false }).catch(() => {});
      let timer;
      await Promise.race([this.gone, new Promise((r) => (timer = setTimeout(r, SHUTDOWN_WAIT_MS)))]);
      clearTimeout(timer);
    }
    await this.kill();
  }

  async kill() {
    if (this.proc && !this.exited) {
      this.proc.kill('SIGKILL');
      await this.gone;
    }
    if (this.closed) return;
    this.closed = true;
    for (const sock of Object.values(this.sockets ?? {})) sock.close();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** nbclient's timestamp(): the header's date with microseconds. */
const stamp = (msg) => String(msg.header.date).replace(/\.(\d+)Z$/, (_, f) => `.${f.padEnd(6, '0').slice(0, 6)}Z`);

/** nbformat's output_from_msg. */
function outputOf(m) {
  const c = m.content;
  switch (m.msg_type) {
    case 'stream': return { output_type: 'stream', name: c.name, text: c.text };
    case 'display_data': return { output_type: 'display_data', data: c.data, metadata: c.metadata ?? {} };
    case 'execute_result': return { output_type: 'execute_result', data: c.data, metadata: c.metadata ?? {}, execution_count: c.execution_count };
    case 'error': return { output_type: 'error', ename: c.ename, evalue: c.evalue, traceback: c.traceback };
    default: return null;
  }
}

/**
 * Runs one cell and gathers its outputs the way nbclient does: consecutive streams stay separate outputs,
 * clear_output(wait) empties the cell at its next output, and a display id's later display_data or
 * update_display_data rewrites every earlier output with that id in place (`displays`: id -> outputs).
 * Returns the execute_reply's content, or null on timeout.
 */
async function runCell(kernel, cell, timeoutS, displays) {
  const id = await kernel.send('shell', 'execute_request',
    { code: cell.source, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
  const deadline = Date.now() + timeoutS * 1000;
  const timing = (cell.metadata.execution = {});
  cell.outputs = [];
  let clearAtNext = false;
  const forget = () => displays.forEach((outs, key) => displays.set(key, outs.filter((o) => o.cell !== cell)));
  let reply = null;
  let idle = false;
  while (!(reply && idle)) {
    const m = await kernel.next(deadline);
    if (!m) return null;
    if (m.parent_header.msg_id !== id) continue;
    if (m.channel === 'shell') {
      if (m.msg_type !== 'execute_reply') continue;
      timing['shell.execute_reply'] = stamp(m);
      reply = m.content;
      continue;
    }
    const c = m.content;
    const displayId = c.transient?.display_id;
    if (displayId && ['display_data', 'execute_result', 'update_display_data'].includes(m.msg_type)) {
      for (const o of displays.get(displayId) ?? []) Object.assign(o.out, { data: c.data, metadata: c.metadata ?? {} });
    }
    if ('execution_count' in c) cell.execution_count = c.execution_count;
    if (m.msg_type === 'status') {
      timing[`iopub.status.${c.execution_state}`] = stamp(m);
      if (c.execution_state === 'idle') idle = true;
    } else if (m.msg_type === 'execute_input') {
      timing['iopub.execute_input'] = stamp(m);
    } else if (m.msg_type === 'clear_output') {
      if (c.wait) clearAtNext = true;
      else { cell.outputs = []; forget(); }
    } else {
      const out = outputOf(m);
      if (!out) continue;
      if (clearAtNext) { cell.outputs = []; forget(); clearAtNext = false; }
      if (displayId) displays.set(displayId, [...(displays.get(displayId) ?? []), { cell, out }]);
      cell.outputs.push(out);
    }
  }
  return reply;
}

/** What went wrong in a failed cell: its error output, else the error line tslab printed to stderr. */
function errorText(cell) {
  const err = cell.outputs.find((o) => o.output_type === 'error');
  if (err) return `${err.ename ?? 'Error'}: ${err.evalue ?? ''}`;
  const stderr = cell.outputs.filter((o) => o.name === 'stderr').map((o) => text(o.text)).join('');
  const lines = stderr.replace(ANSI, '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => ERROR_LINE.test(l)) ?? (lines.slice(0, 3).join(' / ') || 'the kernel reported an error (no message)');
}

/** execute_notebook.py's "NOTEBOOK FAILED:" paragraph. */
function failure(input, nb, index, what) {
  if (index == null) return `NOTEBOOK FAILED: ${input}: ${what}`;
  const codeNumber = nb.cells.slice(0, index + 1).filter((c) => c.cell_type === 'code').length;
  const where = `code cell ${codeNumber} (cell ${index + 1} of ${nb.cells.length}, counting markdown cells)`;
  const lines = splitLines(text(nb.cells[index].source).trim()).map((l) => l.replace(/\r?\n$|[\r\v\f\x1c-\x1e\x85\u2028\u2029]$/, ''));
  const shown = [...lines.slice(0, 6), ...(lines.length > 6 ? [`... (${lines.length - 6} more lines)`] : [])];
  return `NOTEBOOK FAILED: ${input}, ${where}: ${what}\n${shown.map((l) => `    | ${l}`).join('\n')}`;
}

/** nbformat.writes: multiline text as lists of lines, keys sorted, indent 1, transient keys dropped. */
function serialize(nb) {
  const copy = structuredClone(nb);
  for (const key of ['orig_nbformat', 'orig_nbformat_minor', 'signature']) delete copy.metadata[key];
  const splitBundle = (data = {}) => {
    for (const [k, v] of Object.entries(data)) {
      if (typeof v === 'string' && (k.startsWith('text/') || k === 'application/javascript' || k === 'image/svg+xml')) data[k] = splitLines(v);
    }
  };
  for (const cell of copy.cells) {
    delete cell.metadata?.trusted;
    if (typeof cell.source === 'string') cell.source = splitLines(cell.source);
    Object.values(cell.attachments ?? {}).forEach(splitBundle);
    for (const out of cell.cell_type === 'code' ? cell.outputs ?? [] : []) {
      if (out.output_type === 'stream' && typeof out.text === 'string') out.text = splitLines(out.text);
      else splitBundle(out.data);
    }
  }
  const sorted = (_, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v);
  return `${JSON.stringify(copy, sorted, 1)}\n`;
}

function writeAtomic(file, data) {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = path.join(path.dirname(path.resolve(file)), `.tmp-${randomBytes(6).toString('hex')}-${path.basename(file)}`);
  try {
    fs.writeFileSync(tmp, data, { flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { timeout: { type: 'string', default: '3600' } } });
  const timeoutS = Number(values.timeout);
  if (positionals.length !== 2 || !(timeoutS > 0)) {
    console.error('usage: node scripts/gpu/run-notebook.mjs IN.ipynb OUT.ipynb [--timeout SECONDS_PER_CELL]');
    return 2;
  }
  const [input, output] = positionals;
  const nb = JSON.parse(fs.readFileSync(input, 'utf8'));
  for (const cell of nb.cells) {
    cell.source = text(cell.source); // nbformat's rejoin_lines
    cell.metadata ??= {};
  }
  const started = Date.now();
  const kernel = new Kernel();
  // Stopped from outside (Ctrl-C, `timeout`): no kernel left behind holding the GPU, and what ran is kept.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      kernel.proc?.kill('SIGKILL');
      if (kernel.dir) fs.rmSync(kernel.dir, { recursive: true, force: true });
      writeAtomic(output, serialize(nb));
      console.error(`NOTEBOOK FAILED: ${input}: stopped by ${signal}`);
      process.exit(128 + os.constants.signals[signal]);
    });
  }
  let problem = null;
  let executed = 0;
  try {
    try {
      // The kernel starts in the notebook's folder, so relative paths in cells mean the same as in Jupyter.
      await kernel.start(path.dirname(path.resolve(input)));
      const info = await kernel.ready().catch((e) => {
        throw e instanceof KernelDied ? new Error(`the kernel ended before it was ready: ${e.message}`) : e;
      });
      if (info.language_info) nb.metadata.language_info = info.language_info;
    } catch (e) {
      problem = failure(input, nb, null, `could not start the tslab kernel: ${e.message}\n    (run \`npm ci\`; the kernel is ${TSLAB})`);
    }
    const displays = new Map();
    for (const [index, cell] of nb.cells.entries()) {
      if (problem) break;
      if (cell.cell_type !== 'code' || !cell.source.trim()) continue;
      executed += 1;
      try {
        const reply = await runCell(kernel, cell, timeoutS, displays);
        if (!reply) {
          problem = failure(input, nb, index, `timed out after ${timeoutS} s`);
          await kernel.kill();
          break;
        }
        cell.execution_count = reply.execution_count ?? executed;
        if (reply.status !== 'ok' || cell.outputs.some((o) => o.output_type === 'error')) problem = failure(input, nb, index, errorText(cell));
      } catch (e) {
        if (!(e instanceof KernelDied)) throw e;
        problem = failure(input, nb, index, `the kernel died (${e.message})`);
      }
    }
  } finally {
    await kernel.shutdown().catch((e) => console.error(`could not stop the kernel: ${e.message}`));
    writeAtomic(output, serialize(nb));
  }
  console.log(`executed ${executed} code cells in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (problem) console.error(problem);
  return problem ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; should a handle linger anyway, do not hang the caller.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (e) => {
    console.error(e.stack ?? e);
    process.exit(1);
  },
);
