/**
 * Loading the compiled kernels (dist/kernels/{relaxed,simd}.wasm, built by scripts/build-kernels.mjs)
 * and the typed view of their exports. This file is the FFI edge: wasm exports are untyped here.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { wasm, type WasmMemory, type WasmModule } from './wasm.js';

export type KernelVariant = 'relaxed' | 'simd';

/** Every exported kernel; the pool refers to them by index into this list. */
export const KERNEL_NAMES = [
  'fill', 'unary', 'stridedMap', 'adamw',
  'reduceRows', 'reduceCols', 'softmax', 'softmaxBackward', 'logSoftmax', 'logSoftmaxBackward',
  'packB', 'gemm', 'gemvN', 'gemvT',
  'rmsnorm', 'rmsnormBackwardRows', 'rmsnormBackwardDw', 'rope', 'embedding', 'embeddingBackward',
  'attention', 'attentionBlocks', 'attentionBackward', 'attentionBackwardRows', 'logprobEntropy', 'logprobEntropyBackward',
  'packBHalf', 'gemvNHalf', 'gemvTHalf', 'embeddingHalf', 'gemmTN', 'sample', 'linearGroup', 'ropeKvWrite', 'gemmTNNarrow', 'linearGroupRows', 'swiglu', 'swigluBackward',
] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];
/** A kernel takes numbers only: byte pointers, element counts, f32 scalars, 0/1 flags. */
export type KernelFn = (...args: number[]) => void;
export type KernelTable = Record<KernelName, KernelFn>;

/**
 * Node 20 ships relaxed SIMD behind a flag. V8 flags are process-wide, but each worker calls this
 * too before it instantiates, in case the embedder scopes them per isolate. Harmless if unknown.
 */
export function enableRelaxedSimd(): void {
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // an unknown flag only means the runtime cannot do relaxed SIMD; validate() will say so
  }
}

function wasmBytes(variant: KernelVariant): Uint8Array {
  return readFileSync(new URL(`../../../kernels/${variant}.wasm`, import.meta.url));
}

/**
 * Compiles the fastest variant the runtime accepts: relaxed SIMD if `wasm.validate` passes,
 * plain SIMD otherwise. 'relaxed' insists (and throws if unsupported); 'simd' forces the fallback.
 */
export async function compileKernels(want: 'auto' | KernelVariant): Promise<{ module: WasmModule; variant: KernelVariant }> {
  if (want !== 'simd') {
    enableRelaxedSimd();
    const bytes = wasmBytes('relaxed');
    if (wasm.validate(bytes)) return { module: await wasm.compile(bytes), variant: 'relaxed' };
    if (want === 'relaxed') throw new Error('CpuBackend.create: this runtime does not support relaxed SIMD');
  }
  const bytes = wasmBytes('simd');
  if (!wasm.validate(bytes)) throw new Error('CpuBackend.create: this runtime does not support WebAssembly SIMD128');
  return { module: await wasm.compile(bytes), variant: 'simd' };
}

export function instantiateKernels(module: WasmModule, memory: WasmMemory): KernelTable {
  const instance = new wasm.Instance(module, { env: { memory } });
  const table = {} as Record<string, KernelFn>;
  for (const name of KERNEL_NAMES) {
    const fn = instance.exports[name];
    if (typeof fn !== 'function') throw new Error(`CpuBackend: kernel module lacks export ${name}`);
    table[name] = fn as KernelFn;
  }
  return table as KernelTable;
}
