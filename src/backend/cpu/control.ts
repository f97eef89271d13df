/**
 * Layout of the low 64 KiB of the shared memory, which no buffer uses: the pool's control block
 * (read by the main thread and every worker) and per-call parameter areas. The AssemblyScript
 * static data starts at 65536 (--memoryBase); buffers start at HEAP_BASE.
 */

/** Byte address of the control words (Int32). */
export const CTRL = 1024;
/** Int32 indices into the control block. */
export const SEQ = 0; // bumped by the main thread to publish a job (or to quit)
// word 1 is unused
export const KERNEL = 2; // index into KERNEL_NAMES
export const NARGS = 3;
export const UNITS = 4; // units of work in the job
export const CHUNKS = 5; // chunks in the job; chunk c is units [chunkStart(c), chunkStart(c + 1))
export const QUIT = 6;
export const ERROR = 7; // 1 + tid of a worker whose kernel threw, else 0
/**
 * The claim word: (chunks << 16) | next chunk. Threads take chunks with compare-and-swap, so the
 * count and the cursor change together and a claim is valid only inside the job that published it.
 */
export const NEXT = 8;
export const COMPLETED = 9; // chunks finished by workers
export const SPIN = 10; // 1: idle workers spin a few ms before sleeping; 0: they sleep at once
export const AWAKE = 11; // workers not asleep in Atomics.wait (spinning or running a job)
export const CTRL_WORDS = 16;
/** Byte address of the job's arguments (Float64, up to MAX_ARGS). */
export const ARGS = CTRL + CTRL_WORDS * 4;
export const MAX_ARGS = 32;

/** Shape and strides of a strided map: i32 rank, shape[6], then 4 x strides[6]. */
export const MAP_PARAMS = 2048;
/** Per-thread multi-index of the strided map: 8 i32s per thread. */
export const MAP_INDEX = 2304;
export const MAX_THREADS = 64;

/** The first buffer address: above the 64 KiB of kernel static data that follows memoryBase. */
export const HEAP_BASE = 131072;

/**
 * The first unit of chunk c when `units` are cut into `chunks` (c = chunks gives units): sizes
 * differ by one at most, the larger first. With a fixed chunk size 14 units at 2 threads were 7
 * chunks of 2, so one thread ran 8 units while the other ran 6; cut into 8 chunks (six of 2, two of
 * 1) the last two claimed are the small ones and each thread runs 7.
 */
export function chunkStart(units: number, chunks: number, c: number): number {
  const q = Math.floor(units / chunks);
  return c * q + Math.min(c, units - q * chunks);
}

/** Claims the next chunk of the current job from the claim word, or returns -1 when all are taken. */
export function claimChunk(ctrl: Int32Array): number {
  for (;;) {
    const w = Atomics.load(ctrl, NEXT);
    const next = w & 0xffff;
    if (next >= w >>> 16) return -1;
    if (Atomics.compareExchange(ctrl, NEXT, w, w + 1) === w) return next;
  }
}
