/**
 * Buffer allocator over the one shared WebAssembly.Memory of the CPU backend. Blocks are 64-byte
 * aligned and rounded up to a size class (multiples of 64 up to 512 bytes, then four classes per
 * power of two, so at most 25% slack). Freed blocks go to a free list per class and are reused
 * first, so a training loop that frees and reallocates the same shapes keeps a flat footprint.
 * New blocks come from a bump pointer; the memory grows (by at least a quarter) when it runs out.
 * There is no coalescing: a block keeps its class for the life of the process.
 */

import type { WasmMemory } from './wasm.js';

const PAGE = 65536;
export const ALIGN = 64;
/** wasm32 with 65536 pages of 64 KiB: the whole 4 GiB address space. */
export const MAX_PAGES = 65536;
const MAX_BYTES = MAX_PAGES * PAGE;

/** The block size that serves a request of `bytes`. */
export function sizeClass(bytes: number): number {
  const n = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  if (n <= 512) return n;
  const step = 2 ** (Math.floor(Math.log2(n - 1)) - 2);
  return Math.ceil(n / step) * step;
}

export class WasmAllocator {
  readonly #memory: WasmMemory;
  #top: number;
  readonly #free = new Map<number, number[]>();

  /** Allocates from byte address `base` (64-byte aligned) upwards. */
  constructor(memory: WasmMemory, base: number) {
    if (base % ALIGN !== 0) throw new Error(`WasmAllocator: base ${base} is not ${ALIGN}-byte aligned`);
    this.#memory = memory;
    this.#top = base;
  }

  /** Returns the address of a block of sizeClass(bytes) bytes. */
  alloc(bytes: number, op = 'alloc'): number {
    const size = sizeClass(bytes);
    const reuse = this.#free.get(size)?.pop();
    if (reuse !== undefined) return reuse;
    const ptr = this.#top;
    const end = ptr + size;
    if (end > MAX_BYTES) {
      throw new Error(`${op}: out of memory allocating ${bytes} bytes: the 4 GiB WebAssembly address space is exhausted `
        + `(${this.#top} bytes handed out, free blocks of other sizes cannot be reused)`);
    }
    const have = this.#memory.buffer.byteLength;
    if (end > have) {
      const needed = Math.ceil((end - have) / PAGE);
      const havePages = have / PAGE;
      // Grow by a quarter at least, so a slowly growing heap does not grow page by page.
      const pages = Math.min(MAX_PAGES - havePages, Math.max(needed, Math.ceil(havePages / 4)));
      try {
        this.#memory.grow(pages);
      } catch (e) {
        throw new Error(`${op}: out of memory allocating ${bytes} bytes: growing the WebAssembly memory from `
          + `${have} bytes by ${pages * PAGE} failed (${(e as Error).message})`);
      }
    }
    this.#top = end;
    return ptr;
  }

  /** Returns a block for reuse; `bytes` is the size it was allocated with. */
  free(ptr: number, bytes: number): void {
    const size = sizeClass(bytes);
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, (list = []));
    list.push(ptr);
  }

  /** End of the highest block ever handed out. */
  get top(): number {
    return this.#top;
  }
}
