// Checks the reports already in reports/ (or the HTML files named) in a headless Chromium, offline, and
// writes a screenshot of each; with --pdf, a PDF too. Exits non-zero if a plot or image did not render.
//   npm run report [-- --pdf] [reports/<name>.html ...]
import fs from 'node:fs';
import path from 'node:path';
import { checkReports, findChromium } from './browser';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const pdf = args.includes('--pdf');
  let files = args.filter((a) => !a.startsWith('--'));
  if (files.length === 0) {
    const dir = path.join(__dirname, '..', 'reports');
    files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.html')).sort().map((f) => path.join(dir, f)) : [];
  }
  if (files.length === 0) {
    console.error('No reports to check: run `npm start` first (it writes reports/<name>.html).');
    return 1;
  }
  if (!findChromium()) {
    console.error('No Chromium found. Install one (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM to its path.');
    return 1;
  }
  let bad = 0;
  for (const c of await checkReports(files, { screenshotDir: '', ...(pdf ? { pdfDir: '' } : {}) })) {
    const made = [c.screenshot, c.pdf].filter(Boolean).map((f) => path.relative(process.cwd(), f!)).join(', ');
    const status = c.problems.length ? `BROKEN: ${c.problems.join('; ')}` : 'ok';
    console.log(`${path.relative(process.cwd(), c.file)}: ${c.plotsDrawn}/${c.plots} plots, ${c.imagesShown + c.svgsShown}/${c.images + c.svgs} images` +
      `${c.failureBanner ? ' (a failed run)' : ''}; ${made}: ${status}`);
    if (c.problems.length) bad++;
  }
  return bad ? 1 : 0;
}

main().then((code) => (process.exitCode = code), (e: Error) => { console.error(e.message); process.exitCode = 1; });
