// Where Jupyter runs from and which environment it gets; shared by every script that starts it.
import path from 'node:path';

/** The python that has Jupyter (Debian's, not a pyenv one first on PATH); JUPYTER_PYTHON overrides. */
export function pythonPath() {
  return process.env.JUPYTER_PYTHON || '/usr/bin/python3';
}

/** Environment that keeps Jupyter's kernelspecs, config and runtime files inside <root>/.jupyter. */
export function jupyterEnv(root, base = process.env) {
  const dir = path.join(path.resolve(root), '.jupyter');
  const jupyterPath = [dir, base.JUPYTER_PATH].filter(Boolean).join(path.delimiter);
  // A kernel started from a test must not believe it is a node:test child itself.
  const { NODE_TEST_CONTEXT: _testContext, ...rest } = base;
  return {
    ...rest,
    JUPYTER_PATH: jupyterPath,
    JUPYTER_DATA_DIR: dir,
    JUPYTER_CONFIG_DIR: path.join(dir, 'config'),
    JUPYTER_RUNTIME_DIR: path.join(dir, 'runtime'),
  };
}
