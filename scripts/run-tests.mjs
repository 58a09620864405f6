#!/usr/bin/env node
// Runs the tests: `quick` (the unit tests, for the inner loop) or `all` (what `npm test` and CI run).
//
//   node scripts/run-tests.mjs quick   unit tests only: no notebook, no kernel, no op suite, no webgpu, and
//                                      the few slow unit tests left out (they skip, naming test:quick)
//   node scripts/run-tests.mjs all     every test file
//   node scripts/run-tests.mjs list    the files each set holds
//
// A test file is an integration test when it is listed below; a single slow test inside a unit test file
// takes `slow` from test/helpers.ts as its options.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Test files that start kernels, run notebooks or the op suite, or need webgpu: left out of `quick`. */
export const INTEGRATION = ['notebooks', 'notebook-errors', 'notebook-runner', 'interrupt', 'tfjs-suite', 'webgpu'];

/** The test files of a set, relative to the project root. */
export function testFiles(set) {
  const all = fs.readdirSync(path.join(ROOT, 'test')).filter((f) => f.endsWith('.test.ts')).sort();
  for (const name of INTEGRATION) {
    if (!all.includes(`${name}.test.ts`)) throw new Error(`scripts/run-tests.mjs lists test/${name}.test.ts, which does not exist`);
  }
  const quick = (f) => !INTEGRATION.includes(f.replace(/\.test\.ts$/, ''));
  return all.filter((f) => set === 'all' || quick(f)).map((f) => path.join('test', f));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const set = process.argv[2] ?? 'all';
  if (!['quick', 'all', 'list'].includes(set)) {
    console.error(`usage: node scripts/run-tests.mjs quick|all|list (got "${set}")`);
    process.exit(2);
  }
  if (set === 'list') {
    console.log(`quick: ${testFiles('quick').join(' ')}\nall:   ${testFiles('all').join(' ')}`);
    process.exit(0);
  }
  // The unit tests two files at a time (each keeps about one core busy); then, under `all`, the integration
  // tests one at a time, as the op suite and the notebooks use the cores themselves and the interrupt check
  // counts on a responsive kernel.
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const run = (files, extra, env = process.env) =>
    spawnSync(tsx, ['--test', '--test-reporter=spec', ...extra, ...process.argv.slice(3), ...files], { cwd: ROOT, stdio: 'inherit', env }).status ?? 1;
  const units = testFiles('quick');
  const unitStatus = run(units, ['--test-concurrency=2'], set === 'quick' ? { ...process.env, FASTBOOK_TEST_QUICK: '1' } : process.env);
  if (set === 'quick') process.exit(unitStatus);
  const integrationStatus = run(testFiles('all').filter((f) => !units.includes(f)), ['--test-concurrency=1']);
  process.exit(unitStatus || integrationStatus);
}
