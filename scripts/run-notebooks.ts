// Executes notebooks/*.ipynb (or the notebooks named on the command line) on the tslab kernel and
// writes reports/<name>.ipynb + reports/<name>.html; exits non-zero if any notebook fails.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { jupyterEnv, pythonPath } from './jupyter-env.mjs';
import { browserSkipReason, checkReports, type ReportCheck } from './browser';

const ROOT = path.resolve(__dirname, '..');
const EXECUTE = path.join(ROOT, 'scripts', 'execute_notebook.py');

export interface NotebookResult {
  ok: boolean;
  seconds: number;
  ipynb: string;
  html: string;
  /** Empty when ok; otherwise the "NOTEBOOK FAILED: ..." paragraph (notebook, cell, error). */
  message: string;
}

export interface ExecuteOptions {
  /** Per-cell timeout in seconds (default: NOTEBOOK_TIMEOUT or the python script's default). */
  timeout?: number;
  /** Echo the subprocess output (default true). */
  echo?: boolean;
  /** Extra environment variables for Jupyter and the kernel (e.g. TFJS_BACKEND). */
  env?: NodeJS.ProcessEnv;
}

/** Runs one notebook through scripts/execute_notebook.py; resolves (never rejects) with the outcome. */
export function executeNotebook(input: string, outDir: string, options: ExecuteOptions = {}): Promise<NotebookResult> {
  const name = path.basename(input, '.ipynb');
  const ipynb = path.resolve(outDir, `${name}.ipynb`);
  const html = path.resolve(outDir, `${name}.html`);
  const timeout = options.timeout ?? (Number(process.env.NOTEBOOK_TIMEOUT) || undefined);
  const args = [EXECUTE, path.resolve(input), ipynb, html, ...(timeout ? ['--timeout', String(timeout)] : [])];
  const echo = options.echo ?? true;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(pythonPath(), args, { env: jupyterEnv(ROOT, { ...process.env, ...options.env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (sink: NodeJS.WriteStream) => (chunk: Buffer) => {
      output += chunk.toString();
      if (echo) sink.write(chunk);
    };
    child.stdout.on('data', collect(process.stdout));
    child.stderr.on('data', collect(process.stderr));
    const finish = (ok: boolean, message: string) =>
      resolve({ ok, seconds: (Date.now() - started) / 1000, ipynb, html, message });
    child.on('error', (err) => finish(false, `NOTEBOOK FAILED: ${input}: cannot run ${pythonPath()}: ${err.message}`));
    child.on('close', (code, signal) => {
      if (code === 0) return finish(true, '');
      const at = output.lastIndexOf('NOTEBOOK FAILED:');
      // No paragraph means the script itself crashed (bad JSON, nbconvert error ...): keep its tail.
      const message =
        at >= 0 ? output.slice(at).trim() : `NOTEBOOK FAILED: ${input}: exit ${code ?? signal}\n${output.trim().split('\n').slice(-10).join('\n')}`;
      finish(false, message);
    });
  });
}

/** Notebook paths from CLI args (a path, or a name inside notebooks/), else every notebooks/*.ipynb. */
function notebooksToRun(args: string[]): string[] {
  const dir = path.join(ROOT, 'notebooks');
  if (args.length === 0) {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join(dir, f));
  }
  return args.map((arg) => {
    const candidates = [arg, path.join(dir, arg), path.join(dir, `${arg}.ipynb`)];
    const found = candidates.find((p) => fs.existsSync(p) && fs.statSync(p).isFile());
    if (!found) throw new Error(`no such notebook: ${arg}`);
    return path.resolve(found);
  });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((cell, i) => cell.padEnd(widths[i])).join(' | ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.slice(1).map(line)].join('\n');
}

/** One line per report on how it rendered, e.g. "6/6 plots, 14/14 images; report.png, report.pdf". */
function describeCheck(c: ReportCheck): string {
  const made = [c.screenshot, c.pdf].filter(Boolean).map((f) => path.relative(process.cwd(), f!));
  return `${c.plotsDrawn}/${c.plots} plots, ${c.imagesShown + c.svgsShown}/${c.images + c.svgs} images${made.length ? `; ${made.join(', ')}` : ''}`;
}

/**
 * Opens the reports in a headless Chromium (offline), checks every plot and image, and writes a
 * screenshot and a PDF of each next to it. Returns the failures; without Chromium, none (a note says
 * what was skipped), except under CI=true, where the check is required.
 */
export async function browserCheck(htmlFiles: string[], described?: Map<string, string>): Promise<string[]> {
  const skip = browserSkipReason();
  if (skip) {
    console.log(`\nNo PDF or screenshot of the reports, and no browser check: ${skip}.`);
    return [];
  }
  let checks: ReportCheck[];
  try {
    checks = await checkReports(htmlFiles, { screenshotDir: '', pdfDir: '' });
  } catch (e) {
    return [`BROWSER CHECK FAILED: ${(e as Error).message}`];
  }
  const failures: string[] = [];
  checks.forEach((c) => {
    described?.set(c.file, describeCheck(c));
    if (c.problems.length) failures.push(`REPORT BROKEN: ${path.relative(process.cwd(), c.file)}: ${c.problems.join('; ')}`);
  });
  return failures;
}

async function main(): Promise<number> {
  const notebooks = notebooksToRun(process.argv.slice(2));
  if (notebooks.length === 0) {
    console.error('no notebooks found in notebooks/');
    return 1;
  }
  const outDir = path.join(ROOT, 'reports');
  const rows = [['notebook', 'status', 'seconds', 'report', 'in a browser']];
  const failures: string[] = [];
  const reports: string[] = [];
  const htmlOf: string[] = [];
  for (const nb of notebooks) {
    console.log(`\n=== ${path.relative(process.cwd(), nb)}`);
    const r = await executeNotebook(nb, outDir);
    rows.push([path.basename(nb), r.ok ? 'ok' : 'FAILED', r.seconds.toFixed(1), path.relative(process.cwd(), r.html)]);
    console.log(`${r.ok ? 'ok' : 'FAILED'} in ${r.seconds.toFixed(1)} s`);
    if (!r.ok) failures.push(r.message.split('\n')[0]);
    if (fs.existsSync(r.html)) reports.push(r.html);
    htmlOf.push(r.html);
  }
  const described = new Map<string, string>();
  failures.push(...(await browserCheck(reports, described)));
  htmlOf.forEach((html, i) => rows[i + 1].push(described.get(html) ?? '-'));
  console.log(`\n${table(rows)}`);
  if (failures.length > 0) {
    console.error(`\n${failures.length} problem(s):\n${failures.join('\n')}`);
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
