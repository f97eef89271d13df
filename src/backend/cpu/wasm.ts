/**
 * The slice of the WebAssembly JS API this backend uses. TypeScript declares `WebAssembly` only in
 * lib.dom, which a Node project does not load, so the FFI edge is typed here instead.
 */

/** A compiled module (opaque; it can be posted to workers). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmMemory {
  /** A SharedArrayBuffer for shared memories; a new object after each grow. */
  readonly buffer: SharedArrayBuffer;
  /** Grows by `pages` of 64 KiB; returns the old size in pages; throws RangeError past the maximum. */
  grow(pages: number): number;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Memory: new (desc: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Instance: new (module: WasmModule, imports: { env: { memory: WasmMemory } }) => { exports: Record<string, unknown> };
}

export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
