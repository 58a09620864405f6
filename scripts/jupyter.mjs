// Starts the classic Jupyter Notebook in notebooks/ with the project's tslab kernelspec; extra
// arguments go to Jupyter (e.g. `npm run jupyter -- --no-browser --port 8890`).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jupyterEnv, pythonPath } from './jupyter-env.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = ['-m', 'notebook', '--MappingKernelManager.default_kernel_name=tslab'];
// Jupyter refuses to run as root without this flag; containers often run as root.
if (process.getuid?.() === 0 && !process.argv.includes('--allow-root')) args.push('--allow-root');
const child = spawn(pythonPath(), [...args, ...process.argv.slice(2)], {
  cwd: path.join(root, 'notebooks'),
  env: jupyterEnv(root),
  stdio: 'inherit',
});
// Ctrl-C reaches Jupyter too (same process group); it asks to confirm, so we wait for it to exit.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('error', (err) => {
  console.error(`cannot start ${pythonPath()} -m notebook: ${err.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
