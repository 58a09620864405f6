// Prepares everything `npm start`, `npm test` and `npm run jupyter` need. Node builtins only: it runs
// before node_modules exists. Every step checks first, so a second run does nothing and is quick.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { jupyterEnv, pythonPath } from './jupyter-env.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const JUPYTER_MODULES = 'nbclient, nbconvert, ipykernel, notebook, jupyter_client';
const DEBIAN_PACKAGES = ['jupyter-notebook', 'jupyter-nbconvert', 'python3-nbclient', 'python3-ipykernel'];
const PIP_PACKAGES = ['notebook', 'nbconvert', 'nbclient', 'ipykernel'];

const mtime = (file) => fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs;

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (result.error) throw new Error(`${cmd}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`\`${[cmd, ...args].join(' ')}\` failed (exit ${result.status ?? result.signal})`);
}

/** Whether this process may install Debian packages itself (root, with apt-get). */
const canApt = () => process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get');

/** apt-get update, then install `packages` without recommends and without questions. */
function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { env, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** a. `npm ci` when node_modules is missing or older than package-lock.json. */
export function ensureDeps(root = ROOT) {
  const installed = mtime(path.join(root, 'node_modules', '.package-lock.json'));
  const lock = mtime(path.join(root, 'package-lock.json'));
  if (installed !== undefined && (lock === undefined || lock <= installed)) return false;
  console.log('setup: installing npm dependencies (npm ci)');
  run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci'], { cwd: root });
  return true;
}

const hasJupyter = (python) =>
  spawnSync(python, ['-c', `import ${JUPYTER_MODULES}`], { stdio: 'ignore' }).status === 0;

/**
 * b. Jupyter (notebook, nbconvert, nbclient, ipykernel) for pythonPath(); apt-get installs it when we
 * are root on Debian. A stamp under .jupyter/ remembers a passed check so later runs spawn no python.
 */
export function ensureJupyter(root = ROOT) {
  const python = pythonPath();
  const stamp = path.join(root, '.jupyter', 'python-ok');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === `${python}\n`) return false;
  if (!hasJupyter(python)) {
    if (python !== '/usr/bin/python3' || !canApt()) {
      throw new Error(
        `Jupyter is missing for ${python} (it must import ${JUPYTER_MODULES}). Install it with\n` +
          `  sudo apt-get install --no-install-recommends ${DEBIAN_PACKAGES.join(' ')}   (Debian/Ubuntu, /usr/bin/python3)\n` +
          `or, for the python named in JUPYTER_PYTHON:\n  ${python} -m pip install ${PIP_PACKAGES.join(' ')}`,
      );
    }
    console.log(`setup: installing Jupyter (apt-get install ${DEBIAN_PACKAGES.join(' ')})`);
    aptInstall(DEBIAN_PACKAGES);
    if (!hasJupyter(python)) throw new Error(`Jupyter still cannot be imported by ${python} after apt-get install`);
  }
  fs.mkdirSync(path.dirname(stamp), { recursive: true });
  fs.writeFileSync(stamp, `${python}\n`);
  console.log(`setup: Jupyter found for ${python}`);
  return true;
}

/** c. Project-local kernelspec for tslab (no `tslab install`, nothing written outside the repo). */
export function writeKernelspec(root = ROOT) {
  const file = path.join(root, '.jupyter', 'kernels', 'tslab', 'kernel.json');
  const spec = {
    argv: [
      process.execPath,
      path.join(root, 'node_modules', 'tslab', 'bin', 'tslab'),
      'kernel',
      '--config-path',
      '{connection_file}',
    ],
    display_name: 'TypeScript',
    language: 'typescript',
  };
  const text = `${JSON.stringify(spec, null, 2)}\n`;
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return false;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  console.log(`setup: wrote kernelspec ${path.relative(root, file)}`);
  return true;
}

const hasOpenBlas = () =>
  process.platform !== 'linux' || /libopenblas\.so\.0\b/.test(spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '');

/**
 * e. OpenBLAS (Debian: libopenblas0-pthread), which the lib calls for matrix products and convolutions
 * on the wasm backend (lib/src/engine/blas.ts). Optional: without it training is slower, not wrong, so a
 * non-root user only gets a hint. FASTBOOK_BLAS=off skips it.
 */
export function ensureOpenBlas() {
  if (process.env.FASTBOOK_BLAS === 'off' || hasOpenBlas()) return false;
  if (!canApt()) {
    console.log('setup: OpenBLAS not found; training runs without it, several times slower. ' +
      'Install it with: sudo apt-get install libopenblas0-pthread');
    return false;
  }
  console.log('setup: installing OpenBLAS from Debian (libopenblas0-pthread)');
  aptInstall(['libopenblas0-pthread']);
  return true;
}

const FASHION_MNIST = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';

/**
 * f. Fashion-MNIST's IDX files (Debian: dataset-fashion-mnist, under /usr/share/datasets/fashion-mnist),
 * a second data set for the homework. Installed when we are root with apt-get; otherwise a hint, and
 * only the cells that load it fail (with the same hint).
 */
export function ensureFashionMnist() {
  if (fs.existsSync(FASHION_MNIST)) return false;
  if (!canApt()) {
    console.log('setup: Fashion-MNIST not found (/usr/share/datasets/fashion-mnist); the cells that use it need it. ' +
      'Install it with: sudo apt-get install dataset-fashion-mnist');
    return false;
  }
  console.log('setup: installing Fashion-MNIST from Debian (dataset-fashion-mnist)');
  aptInstall(['dataset-fashion-mnist']);
  if (!fs.existsSync(FASHION_MNIST)) throw new Error(`dataset-fashion-mnist is installed but ${FASHION_MNIST} is missing`);
  return true;
}

/**
 * g. The software WebGPU adapter (Mesa's lavapipe) and the optional `webgpu` npm packages, so that the
 * GPU code path is tested on machines without a GPU (scripts/webgpu-software.sh). Only as root with
 * apt-get on Debian; elsewhere the webgpu tests say why they are skipped. FASTBOOK_WEBGPU=off skips it.
 */
export function ensureWebgpuSoftware(root = ROOT) {
  const script = path.join(root, 'scripts', 'webgpu-software.sh');
  if (process.env.FASTBOOK_WEBGPU === 'off' || process.platform !== 'linux') return false;
  if (spawnSync('bash', [script, 'check'], { stdio: 'ignore' }).status === 0) return false;
  if (!canApt()) return false;
  console.log('setup: installing the software WebGPU adapter and the webgpu packages (scripts/webgpu-software.sh)');
  // Optional: a failure (no network, another distribution) leaves the webgpu tests skipped, with the reason.
  const r = spawnSync('bash', [script], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) console.log('setup: the software WebGPU adapter could not be installed; the webgpu tests will say so');
  return r.status === 0;
}

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];
const hasChromium = () => (process.env.CHROMIUM ? fs.existsSync(process.env.CHROMIUM) : CHROMIUM_CANDIDATES.some((f) => fs.existsSync(f)));

/**
 * h. Chromium (Debian: chromium, with fonts), which opens every report headless to check that its plots
 * and images render and writes its PNG and PDF. Installed when we are root with apt-get, like the other
 * Debian packages; otherwise a hint (under CI=true the report checks then fail and say so).
 */
export function ensureChromium() {
  if (hasChromium()) return false;
  if (!canApt()) {
    console.log('setup: Chromium not found; reports are written without their browser check, PNG and PDF. ' +
      'Install it with: sudo apt-get install chromium fonts-liberation fonts-dejavu-core (or set CHROMIUM)');
    return false;
  }
  console.log('setup: installing Chromium from Debian (chromium, fonts-liberation, fonts-dejavu-core)');
  aptInstall(['chromium', 'fonts-liberation', 'fonts-dejavu-core']);
  if (!hasChromium()) throw new Error('chromium is installed but /usr/bin/chromium is missing');
  return true;
}

const TEST_PACKAGES = ['python3-torch', 'python3-numpy'];
const hasTestReferences = (python) =>
  spawnSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;

/**
 * i. PyTorch and numpy for /usr/bin/python3 (Debian: python3-torch, python3-numpy), only for `npm test`
 * (`--tests`): the tests compute their expected values with them. Installed when we are root with apt-get;
 * otherwise a hint, and the tests that need them are skipped (under CI=true they fail and say why).
 */
export function ensureTestReferences(root = ROOT) {
  const python = '/usr/bin/python3';
  const stamp = path.join(root, '.jupyter', 'torch-ok');
  if (fs.existsSync(stamp) || !fs.existsSync(python)) return false;
  if (!hasTestReferences(python)) {
    if (!canApt()) {
      console.log(`setup: ${python} cannot import torch and numpy, which the tests compare against. ` +
        `Install them with: sudo apt-get install --no-install-recommends ${TEST_PACKAGES.join(' ')}`);
      return false;
    }
    console.log(`setup: installing the tests' references from Debian (${TEST_PACKAGES.join(', ')})`);
    aptInstall(TEST_PACKAGES);
    if (!hasTestReferences(python)) throw new Error(`${python} still cannot import torch and numpy after apt-get install`);
  }
  fs.mkdirSync(path.dirname(stamp), { recursive: true });
  fs.writeFileSync(stamp, `${python}\n`);
  return true;
}

/** Newest mtime of any file under dir. */
function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(p) : mtime(p) ?? 0);
  }
  return latest;
}

/** d. `tsc -p lib` when lib/dist/index.js is missing or older than lib/src or the tsconfigs. */
export function buildLib(root = ROOT) {
  const out = path.join(root, 'lib', 'dist', 'index.js');
  const built = mtime(out);
  const inputs = [path.join(root, 'tsconfig.json'), path.join(root, 'lib', 'tsconfig.json')].map((f) => mtime(f) ?? 0);
  if (built !== undefined && Math.max(newest(path.join(root, 'lib', 'src')), ...inputs) <= built) return false;
  console.log('setup: building lib (tsc -p lib)');
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'lib'], { cwd: root });
  // An incremental build leaves unchanged outputs alone; touch index.js so a merely touched source
  // does not make every later run spawn tsc again.
  if (fs.existsSync(out)) fs.utimesSync(out, new Date(), new Date());
  return true;
}

/** Everything above; `forTests` adds what only the tests need (step i). */
export function setup(root = ROOT, { forTests = false } = {}) {
  ensureDeps(root);
  ensureJupyter(root);
  writeKernelspec(root);
  ensureOpenBlas();
  ensureFashionMnist();
  ensureChromium();
  ensureWebgpuSoftware(root);
  if (forTests) ensureTestReferences(root);
  buildLib(root);
}

export { jupyterEnv, pythonPath };

// Run only when executed (`node scripts/setup.mjs`), not when a test imports it.
const entry = process.argv[1] && fs.existsSync(process.argv[1]) ? fs.realpathSync(process.argv[1]) : '';
if (entry && import.meta.url === pathToFileURL(entry).href) {
  try {
    setup(ROOT, { forTests: process.argv.includes('--tests') });
  } catch (err) {
    console.error(`setup failed: ${err.message}`);
    process.exit(1);
  }
}
