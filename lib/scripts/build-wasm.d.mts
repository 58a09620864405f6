/** conv-loops.wat compiled to wasm bytes. */
export function compileConvLoops(): Promise<Buffer>;
/** The TypeScript module that carries the bytes (base64). */
export function tsModule(bytes: Buffer): string;
