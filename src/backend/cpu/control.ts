/**
 * Layout of the low 64 KiB of the shared memory, which no buffer uses: the pool's control block
 * (read by the main thread and every worker) and per-call parameter areas. The AssemblyScript
 * static data starts at 65536 (--memoryBase); buffers start at HEAP_BASE.
 */

/** Byte address of the control words (Int32). */
export const CTRL = 1024;
/** Int32 indices into the control block. */
export const SEQ = 0; // bumped by the main thread to publish a job (or to quit)
export const DONE = 1; // workers that finished the current job
export const KERNEL = 2; // index into KERNEL_NAMES
export const NARGS = 3;
export const UNITS = 4; // units of work in the job
export const CHUNK = 5; // units per thread; thread t owns [t*CHUNK, (t+1)*CHUNK)
export const QUIT = 6;
export const ERROR = 7; // 1 + tid of a worker whose kernel threw, else 0
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
