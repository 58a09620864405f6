// Types for jupyter-env.mjs, so strict TypeScript scripts and tests can import it.
export declare function pythonPath(): string;
export declare function jupyterEnv(root: string, base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
