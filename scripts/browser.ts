// Opens HTML reports in a headless Chromium (the system's, e.g. Debian's `chromium`; nothing is
// downloaded) with networking off, checks that every plot was drawn and every image shown, and writes a
// screenshot and a PDF. Talks the DevTools protocol over a pipe (--remote-debugging-pipe), so it needs
// no npm package.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The Chromium to use: CHROMIUM if set, else the first one installed; undefined when none is. */
export function findChromium(): string | undefined {
  const env = process.env.CHROMIUM;
  if (env) return env;
  return CANDIDATES.find((p) => fs.existsSync(p));
}

/**
 * A skip reason when there is no Chromium, else undefined. Under CI=true also undefined: there the check
 * must run, and fails for want of a browser (checkReports throws) rather than being skipped.
 */
export function browserSkipReason(): string | undefined {
  if (findChromium() || process.env.CI === 'true') return undefined;
  return `no Chromium found (looked for ${CANDIDATES.join(', ')}; set CHROMIUM, or apt-get install chromium)`;
}

type Json = Record<string, unknown>;

/** A minimal DevTools-protocol client: one browser, flat DevTools targets. */
class Browser {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void; method: string }>();
  private listeners: ((msg: Json) => void)[] = [];
  private buffer = '';
  private stderr = '';
  private readonly profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fastbook-chromium-'));
  private readonly proc: ChildProcess;

  constructor(executable: string) {
    this.proc = spawn(executable, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--no-default-browser-check', '--hide-scrollbars', '--mute-audio', `--user-data-dir=${this.profile}`,
      // Belt and braces next to the offline emulation below: no name resolves, no proxy is reachable.
      '--host-resolver-rules=MAP * ~NOTFOUND', '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=<-loopback>',
      '--remote-debugging-pipe', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (b: Buffer) => { this.stderr = (this.stderr + b.toString()).slice(-4000); });
    const out = this.proc.stdio[4] as NodeJS.ReadableStream;
    out.on('data', (b: Buffer) => {
      this.buffer += b.toString();
      let end;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buffer.slice(0, end)) as Json;
        this.buffer = this.buffer.slice(end + 1);
        this.dispatch(msg);
      }
    });
    this.proc.on('exit', (code, signal) => {
      for (const p of this.pending.values()) {
        p.reject(new Error(`Chromium exited (${code ?? signal}) during ${p.method}: ${this.stderr.trim().split('\n').slice(-5).join(' / ')}`));
      }
      this.pending.clear();
    });
    this.proc.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(new Error(`could not start ${executable}: ${e.message}`));
    });
  }

  private dispatch(msg: Json): void {
    const id = msg.id as number | undefined;
    if (id !== undefined && this.pending.has(id)) {
      const p = this.pending.get(id)!;
      this.pending.delete(id);
      if (msg.error) p.reject(new Error(`${p.method}: ${(msg.error as Json).message}`));
      else p.resolve((msg.result ?? {}) as Json);
      return;
    }
    for (const l of this.listeners) l(msg);
  }

  send(method: string, params: Json = {}, sessionId?: string, timeoutMs = 300_000): Promise<Json> {
    const id = this.nextId++;
    const msg = JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`Chromium did not answer ${method} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      (this.proc.stdio[3] as NodeJS.WritableStream).write(msg + '\0');
    });
  }

  on(listener: (msg: Json) => void): () => void {
    this.listeners.push(listener);
    return () => { this.listeners = this.listeners.filter((l) => l !== listener); };
  }

  async close(): Promise<void> {
    try {
      await this.send('Browser.close', {}, undefined, 5000);
    } catch { /* already gone */ }
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { this.proc.kill('SIGKILL'); resolve(); }, 5000);
        this.proc.once('exit', () => { clearTimeout(t); resolve(); });
      });
    }
    fs.rmSync(this.profile, { recursive: true, force: true });
  }
}

export interface ReportCheck {
  file: string;
  /** Charts made by the library (div.fastbook-plot) and how many plotly drew. */
  plots: number;
  plotsDrawn: number;
  /** <img> elements and how many show a decoded picture. */
  images: number;
  imagesShown: number;
  /** Inline SVG pictures outside the charts (diagrams) and how many have a size and content. */
  svgs: number;
  svgsShown: number;
  /** Requests the page tried to make to the network (should be none). */
  networkRequests: string[];
  /** JavaScript errors thrown on the page. */
  pageErrors: string[];
  /** Whether the page starts with the banner of a failed run. */
  failureBanner: boolean;
  /** Empty when the report renders as it should. */
  problems: string[];
  screenshot?: string;
  pdf?: string;
}

export interface CheckOptions {
  /** Write <name>.png next to each report (or into this folder). */
  screenshotDir?: string;
  /** Write <name>.pdf next to each report (or into this folder). */
  pdfDir?: string;
  /** How long to wait for the charts to be drawn (default 180 s; a report that draws sooner goes on at once). */
  timeoutMs?: number;
}

// Runs in the page: what has been drawn so far.
const PROBE = `(() => {
  const plots = [...document.querySelectorAll('.fastbook-plot')];
  const drawn = plots.filter((p) => p.classList.contains('js-plotly-plot') && p.querySelector('svg.main-svg') !== null && p.querySelectorAll('g.trace, g.hm').length > 0);
  const broken = plots.filter((p) => /plotly\\.js is not loaded/.test(p.textContent || '')).length;
  const images = [...document.images];
  // Pictures drawn as inline SVG by the library (diagrams), not those inside plotly's charts.
  const svgs = [...document.querySelectorAll('svg')].filter((s) => !s.closest('.fastbook-plot') && !s.parentElement?.closest('svg'));
  const svgsShown = svgs.filter((s) => { const r = s.getBoundingClientRect(); return r.width > 0 && r.height > 0 && s.childElementCount > 0; });
  return JSON.stringify({
    svgs: svgs.length, svgsShown: svgsShown.length,
    ready: document.readyState === 'complete',
    plots: plots.length, plotsDrawn: drawn.length, plotsBroken: broken,
    images: images.length, imagesShown: images.filter((i) => i.complete && i.naturalWidth > 0).length,
    imagesPending: images.filter((i) => !i.complete).length,
    failureBanner: document.body.firstElementChild?.id === 'fastbook-failure',
    width: Math.ceil(document.documentElement.scrollWidth), height: Math.ceil(document.documentElement.scrollHeight),
  });
})()`;

const WIDTH = 1100;

async function checkOne(browser: Browser, file: string, opts: CheckOptions): Promise<ReportCheck> {
  const { targetId } = (await browser.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
  const { sessionId } = (await browser.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
  const networkRequests: string[] = [];
  const pageErrors: string[] = [];
  let loaded = false;
  const off = browser.on((msg) => {
    if (msg.sessionId !== sessionId) return;
    const params = (msg.params ?? {}) as Json;
    if (msg.method === 'Network.requestWillBeSent') {
      const url = String((params.request as Json).url);
      if (!/^(file|data|blob|about):/.test(url)) networkRequests.push(url);
    } else if (msg.method === 'Runtime.exceptionThrown') {
      const d = params.exceptionDetails as Json;
      pageErrors.push(String((d.exception as Json | undefined)?.description ?? d.text).split('\n')[0]!);
    } else if (msg.method === 'Page.loadEventFired') {
      loaded = true;
    }
  });
  const s = (method: string, params: Json = {}) => browser.send(method, params, sessionId);
  try {
    await s('Network.enable');
    await s('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await s('Runtime.enable');
    await s('Page.enable');
    await s('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: 900, deviceScaleFactor: 1, mobile: false });
    await s('Page.navigate', { url: pathToFileURL(path.resolve(file)).href });

    const deadline = Date.now() + (opts.timeoutMs ?? 180_000); // a wait, not a limit: a busy machine draws late
    let state: Json = {};
    for (;;) {
      const r = (await s('Runtime.evaluate', { expression: PROBE, returnByValue: true })) as { result: { value?: string } };
      state = r.result.value ? (JSON.parse(r.result.value) as Json) : {};
      const settled = loaded && state.ready && state.imagesPending === 0 &&
        (state.plotsDrawn as number) + (state.plotsBroken as number) === state.plots;
      if (settled || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const result: ReportCheck = {
      file, plots: state.plots as number, plotsDrawn: state.plotsDrawn as number,
      images: state.images as number, imagesShown: state.imagesShown as number,
      svgs: state.svgs as number, svgsShown: state.svgsShown as number,
      networkRequests, pageErrors, failureBanner: state.failureBanner === true, problems: [],
    };
    if (!loaded) result.problems.push('the page did not finish loading');
    if (result.plotsDrawn !== result.plots) result.problems.push(`${result.plots - result.plotsDrawn} of ${result.plots} plots not drawn`);
    if (result.imagesShown !== result.images) result.problems.push(`${result.images - result.imagesShown} of ${result.images} images not shown`);
    if (result.svgsShown !== result.svgs) result.problems.push(`${result.svgs - result.svgsShown} of ${result.svgs} SVG pictures empty or invisible`);
    if (networkRequests.length) result.problems.push(`it tried the network: ${networkRequests.slice(0, 3).join(', ')}`);
    if (pageErrors.length) result.problems.push(`errors on the page: ${pageErrors.slice(0, 3).join(' / ')}`);

    const name = path.basename(file, path.extname(file));
    if (opts.screenshotDir !== undefined) {
      // The whole page in one picture: the viewport is made as tall as the page.
      const height = Math.min(state.height as number, 30_000);
      await s('Emulation.setDeviceMetricsOverride', { width: WIDTH, height, deviceScaleFactor: 1, mobile: false });
      await new Promise((r) => setTimeout(r, 300));
      const { data } = (await s('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })) as { data: string };
      result.screenshot = path.join(opts.screenshotDir || path.dirname(file), `${name}.png`);
      writeAtomic(result.screenshot, Buffer.from(data, 'base64'));
      await s('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: 900, deviceScaleFactor: 1, mobile: false });
    }
    if (opts.pdfDir !== undefined) {
      const { data } = (await s('Page.printToPDF', { printBackground: true, preferCSSPageSize: false, paperWidth: 8.27, paperHeight: 11.69,
        marginTop: 0.4, marginBottom: 0.4, marginLeft: 0.4, marginRight: 0.4 })) as { data: string };
      result.pdf = path.join(opts.pdfDir || path.dirname(file), `${name}.pdf`);
      writeAtomic(result.pdf, Buffer.from(data, 'base64'));
    }
    return result;
  } finally {
    off();
    await browser.send('Target.closeTarget', { targetId }).catch(() => undefined);
  }
}

function writeAtomic(file: string, data: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.tmp-${process.pid}-${path.basename(file)}`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Opens each report in one headless Chromium, offline, and checks (and optionally captures) it. */
export async function checkReports(files: string[], opts: CheckOptions = {}): Promise<ReportCheck[]> {
  const executable = findChromium();
  if (!executable) {
    throw new Error(`no Chromium found (looked for ${CANDIDATES.join(', ')}): install one (Debian: apt-get install chromium) ` +
      `or set CHROMIUM${process.env.CI === 'true' ? '. Under CI=true the browser check of the reports is required' : ''}.`);
  }
  const browser = new Browser(executable);
  try {
    const results: ReportCheck[] = [];
    for (const f of files) results.push(await checkOne(browser, f, opts));
    return results;
  } finally {
    await browser.close();
  }
}
