// Types for setup.mjs, so strict TypeScript tests can import its steps.
export { jupyterEnv, pythonPath } from './jupyter-env.mjs';
/** Repository root (the folder above scripts/). */
export declare const ROOT: string;
/** Each step returns true when it did something, false when it was already done. */
export declare function ensureDeps(root?: string): boolean;
export declare function ensureJupyter(root?: string): boolean;
export declare function writeKernelspec(root?: string): boolean;
/** The software WebGPU adapter and the optional webgpu packages (as root with apt-get only). */
export declare function ensureWebgpuSoftware(root?: string): boolean;
export declare function buildLib(root?: string): boolean;
export declare function ensureOpenBlas(): boolean;
export declare function ensureFashionMnist(): boolean;
/** All steps in order; throws on failure. */
export declare function setup(root?: string): void;
