/**
 * CpuBackend: the Backend contract on WebAssembly SIMD kernels (kernels/*.ts, AssemblyScript) over
 * one shared WebAssembly.Memory, with a worker pool for the heavy kernels. Every method is
 * synchronous: it validates its buffers, turns element offsets into byte pointers, and runs a kernel
 * on the main thread or split across the pool. Pointers are plain numbers (wasm32 addresses).
 */
import os from 'node:os';
import type {
  AdamWArgs, AttentionArgs, Backend, BinaryOp, DeviceBuffer, DType, LinearGroupArgs, MatmulArgs, MemoryStats, ReduceOp, RopeKvWriteArgs,
  SampleArgs, StridedView, UnaryOp,
} from '../backend.js';
import { checkLinearGroup, checkRopeKvWrite, linearGroupComposed } from '../composed.js';
import { requireZeroOffsets } from '../views.js';
import { sizeClass, WasmAllocator } from './allocator.js';
import { HEAP_BASE, MAP_INDEX, MAP_PARAMS } from './control.js';
import { compileKernels, instantiateKernels, type KernelTable, type KernelVariant } from './kernels.js';
import { CHUNKS_PER_THREAD, PARALLEL_MIN_WORK, ThreadPool } from './pool.js';
import type { SplitMode } from './split-policy.js';
import { wasm, type WasmMemory } from './wasm.js';
import { collapse, denseStrides, extent, MAP_RANK } from './strided.js';
import { f16ArrayToF32 } from '../../util/float16.js';

export interface CpuBackendOptions {
  /** Threads including the main one; default min(os.availableParallelism(), 8). */
  threads?: number;
  /** 'auto' picks relaxed SIMD when the runtime validates it. */
  variant?: 'auto' | KernelVariant;
  /**
   * When jobs are split across the threads: 'auto' (default) learns it from measured times
   * (split-policy.ts); 'always' / 'never' split every job above the floor / none (tests, benchmarks).
   */
  split?: SplitMode;
  /**
   * Storage of frozen weights (models loaded with `frozen`): 'f16' keeps them as half-precision
   * bits in the wasm memory (half the bytes, and half the weight traffic of decoding). Default f32.
   */
  weightDtype?: 'f32' | 'f16';
}

/** A block of the shared memory. */
export class CpuBuffer implements DeviceBuffer {
  freed = false;
  /**
   * Whether the buffer, read as f16, may hold an Inf or NaN: true until a write of f16 bits over the
   * whole buffer finds none. The f16 decode kernels widen such weights in half the operations.
   */
  halfSpecials = true;
  constructor(readonly byteLength: number, readonly ptr: number, readonly owner: CpuBackend) {}
}

/** Whether any of the f16 bits is an Inf or a NaN (all exponent bits set). */
function hasHalfSpecials(bits: Uint16Array): boolean {
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0x7c00) === 0x7c00) return true;
  return false;
}

const UNARY_CODES: { [K in UnaryOp]: number } = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, silu: 5, sigmoid: 6, abs: 7, sign: 8, square: 9, reciprocal: 10,
  siluGrad: 11, affine: 12, clamp: 13, inRange: 14,
};
const BINARY_CODES: { [K in BinaryOp]: number } = {
  add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5, eq: 6, gt: 7, ge: 8,
};
const WHERE = 16, COPY = 32, COPY_ADD = 33;
const REDUCE_CODES: { [K in ReduceOp]: number } = { sum: 0, max: 1 };

/** Rows up to this use the unpacked gemv kernels: packing B would cost as much as the product. */
const GEMV_MAX_M = 4;
/**
 * Rows up to this run linearGroup as one fused job (kernels/decode.ts): decoding up to batch 256.
 * Each panel of a weight is packed by the unit that multiplies it and every row streams past it.
 */
const FUSED_MAX_M = 256;
/** Scratch of one thread in linearGroupRows: a chunk's up rows (ROWS_CHUNK of kernels/decode.ts, 8 floats each). */
const GROUP_ROWS_UP_BYTES = 512 * 8 * 4;
/** The TN kernel's k block and most rows of A it packs per block: KC and PACK_MC of kernels/matmul.ts gemmTN. */
const TN_KC = 512;
const TN_PACK_ROWS = 256;
/** Floats of one thread's block of A in the TN kernel (A_BLOCK_FLOATS of kernels/matmul.ts: 4 rows more, for blocks of 5). */
const TN_BLOCK_FLOATS = (TN_PACK_ROWS + 4) * TN_KC;
/** Floats of one thread's slices of B in the TN kernel (SLICE_FLOATS of kernels/matmul.ts: 1 MB). */
const TN_SLICE_FLOATS = 262144;
/** How the TN kernel reads B: gemmTN's bMode (B_PACKED, B_IN_PLACE, B_SLICES of kernels/matmul.ts). */
const TN_B_PACKED = 0, TN_B_IN_PLACE = 1, TN_B_SLICES = 2;
/** A core's L2 as the TN kernel's blocking assumes it: 2 MB (Sapphire Rapids; 1-2 MB on other current x86 cores). */
const TN_L2_BYTES = 2 << 20;
/** How the TN kernel reads A: gemmTN's aMode (A_PACKED, A_IN_PLACE, A_GROUPS of kernels/matmul.ts). */
const TN_A_PACKED = 0, TN_A_IN_PLACE = 1, TN_A_GROUPS = 2;
/**
 * How the TN kernel reads A. With B up to 256 columns (32 panels or fewer) a packed block of up to
 * 256 rows is reused too few times to repay packing it, so those products (m % 4 == 0, so that no
 * row block reads past m) take A 20 columns at a time: each group's k steps packed once (80 bytes
 * each) and read by every panel's 5-row tiles. In groups of 16 (one line of A per k step, 4-row
 * tiles) that ran 1.04-1.12x faster than reading A in place down 64-row units (or packing whole
 * blocks, at m = 512) at 2 threads; groups of 20 in 5-row tiles 1.03-1.06x faster again at 1 thread
 * (docs/benchmarks.md). As it reads each
 * line of A once, a row stride that is a multiple of 2 KB (m = 512, 1536, 2048: in place every line
 * of a block falls in 2 L1 sets) is no reason to pack whole blocks any more. With 32 columns or
 * fewer a group's packing is a large share of its work, and m < 256 (the wider ones are tnNarrow's)
 * reads A in place.
 */
function tnAMode(m: number, n: number): number {
  if (m % 4 !== 0 || n > 256) return TN_A_PACKED;
  return n <= 32 ? TN_A_IN_PLACE : TN_A_GROUPS;
}
/**
 * Whether a TN product sweeps A a few whole rows at a time (kernels/matmul.ts gemmTNNarrow) rather
 * than in place down 64-row units: for a narrow B (n <= 32, four panels: a LoRA factor's dA) and
 * m >= 256. There in place, every k step of a tile is a new line of A, too far on for the
 * prefetcher; swept, Qwen2.5-0.5B's LoRA dA products at 2 threads went from 0.68-0.81 of NN to
 * 0.84-0.93 (docs/benchmarks.md). At m = 128 the two ran alike.
 */
function tnNarrow(m: number, n: number): boolean {
  return n <= 32 && m >= 256;
}
/** Floats at the end of a thread's TN scratch that gemmTNNarrow copies A's rows to (kernels/matmul.ts NARROW_COPY_FLOATS). */
const TN_NARROW_COPY_FLOATS = 2 * 16 * 96;
/** Rows of out per tile of gemmTNNarrow, which its partial sums are kept in blocks of (kernels/matmul.ts NARROW_ROWS). */
const TN_NARROW_ROWS = 5;
/**
 * Whether gemmTNNarrow's sweeps read copies of A's rows (kernels/matmul.ts narrowTNRangeCopied):
 * when A's rows are a multiple of 4 KB apart (Qwen2.5-3B's hidden size, 2048), all 16 rows of a
 * sweep fall in one L1 set. There the copies ran 1.26-1.42x faster at 2 threads (0.64-0.69 of NN
 * before, 0.84-0.95 after); elsewhere copying cost 4-9% at 1 thread (docs/benchmarks.md).
 */
function tnNarrowCopies(m: number): boolean {
  return m % 1024 === 0;
}
/**
 * How the TN kernel reads B (dY [k, n]; f32 and not transposed, else packed beforehand by packB, as
 * for a narrow B, whose panels are few). Read in place (B_IN_PLACE) when A is not packed a unit at a
 * time (tnAMode) and n % 8 == 0, so that no tile reads past a row: packing B is a pass that writes as
 * many bytes as B has, against only 2m flops per element at m = 128, and NN pays it too; without it
 * the 128- and 344-row products ran 1.05-1.20x faster at 2 threads, the rest alike. Otherwise packed
 * a k block at a time (B_SLICES), each thread the panels it multiplies into its own scratch
 * (kernels/matmul.ts packBSlice), when the row units over all items (rowUnits) are no more than the
 * threads, so that each thread runs one unit at most (the rows of an item; with fewer units than
 * threads the threads split the panels) and no slice is packed twice: the whole packed B is a copy
 * as large as B written to memory and read back, for LoRA's dB (m = 16) most of the product's time.
 * With as many units as threads (more than one) each thread packs every panel, so the slices
 * must hold 64 steps or more of them (n up to 4096): at 16 steps 128 x 16384 ran at 0.6 of packed
 * at 2 threads. One unit on one thread packs B once either way, and slices down to 16 steps ran
 * 1.05-1.36x faster than packed (16-256 rows, 4864-16384 columns). Products with more units reuse
 * one packed B across them. The sums are the same either way, bit for bit (docs/benchmarks.md).
 */
function tnBMode(m: number, n: number, transB: boolean, bHalf: boolean, rowUnits: number, threads: number): number {
  if (transB || bHalf || tnNarrow(m, n)) return TN_B_PACKED;
  if (tnAMode(m, n) !== TN_A_PACKED && n % 8 === 0) return TN_B_IN_PLACE;
  if (rowUnits > threads) return TN_B_PACKED;
  return rowUnits === 1 || rowUnits < threads || Math.ceil(n / 8) * 8 * 64 <= TN_SLICE_FLOATS ? TN_B_SLICES : TN_B_PACKED;
}
/**
 * Rows of one unit of the TN kernel (kernels/matmul.ts gemmTN), which is also the block of rows it
 * packs or reads per k block. Read in place or in groups of 20 columns, that kernel takes a row
 * block or a group through every panel before the next, so a unit's size sets how evenly the work
 * is shared, not what stays in L1: about 64 rows (small enough that a thread the OS holds up leaves
 * little undone: two units per thread of 224 rows lost up to 10% on 896 x 128 on a busy machine),
 * as many units for each thread, and of equal size in whole row blocks. Plain 64-row units cut m =
 * 344 into five and a 24-row one, 192 rows for one thread and 152 for the other; as six of 60 or
 * less it ran 1.04-1.06x faster at 2 threads (docs/benchmarks.md). Packed, each unit streams the
 * packed B's k-block slice once, so units are larger (up to TN_PACK_ROWS, never so large that a
 * thread is left without one) when the slice and a packed block that size fit in L2 together (the
 * down projection's 512 x 128: a 256 KB slice) or when the slice alone overflows it anyway
 * (Qwen2.5's 896 x 4864: 10 MB); between the two (896 x 896: 1.8 MB) 64-row units keep the slice in
 * L2.
 */
function tnUnitRows(m: number, n: number, threads: number): number {
  if (tnAMode(m, n) !== TN_A_PACKED) {
    const units = threads * Math.ceil(m / (64 * threads));
    return Math.ceil(m / units / 4) * 4;
  }
  const slice = n * TN_KC * 4;
  const large = slice + TN_BLOCK_FLOATS * 4 <= TN_L2_BYTES || slice >= TN_L2_BYTES;
  if (!large) return 64;
  const perThread = Math.ceil(m / threads);
  const unitsPerThread = Math.ceil(perThread / TN_PACK_ROWS);
  return Math.max(64, Math.ceil(perThread / unitsPerThread / 4) * 4);
}
/** Cap on the packed-B scratch of one batched matmul chunk (bytes); batches beyond it are chunked. */
const PACK_CHUNK_BYTES = 64 << 20;
/**
 * Rows per unit of the RMSNorm backward, each unit writing one row of dw partial sums: 32 keeps
 * the partials (1/32 of the input) and their final sum small while a 4096-row batch still has 128
 * units to share.
 */
const RMS_BLOCK_ROWS = 32;

const f32Bits = new Int32Array(new Float32Array([0]).buffer);
const f32View = new Float32Array(f32Bits.buffer);

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  /** wasm32 addresses 4 GiB; the control block and constants sit below HEAP_BASE. */
  readonly capacityBytes = 2 ** 32 - HEAP_BASE;
  /** Which compiled kernel module runs: 'relaxed' (fused multiply-add) or 'simd'. */
  readonly kernelVariant: KernelVariant;
  readonly threads: number;
  /** f16 buffers exist on every CPU: matmul's B and the embedding table may be f16 (kernels/half.ts). */
  readonly halfStorage = true;
  readonly weightDtype: 'f32' | 'f16';
  readonly #memory: WasmMemory;
  readonly #alloc: WasmAllocator;
  readonly #k: KernelTable;
  readonly #pool: ThreadPool;
  #inUse = 0;
  #peak = 0;
  #live = 0;
  #scratchPtr = 0;
  #scratchBytes = 0;
  #destroyed = false;

  private constructor(memory: WasmMemory, kernels: KernelTable, pool: ThreadPool, variant: KernelVariant, weightDtype: 'f32' | 'f16') {
    this.weightDtype = weightDtype;
    this.#memory = memory;
    this.#alloc = new WasmAllocator(memory, HEAP_BASE);
    this.#k = kernels;
    this.#pool = pool;
    this.kernelVariant = variant;
    this.threads = pool.threads;
  }

  static async create(opts: CpuBackendOptions = {}): Promise<CpuBackend> {
    const threads = opts.threads ?? Math.min(os.availableParallelism(), 8);
    const { module, variant } = await compileKernels(opts.variant ?? 'auto');
    const memory = new wasm.Memory({ initial: HEAP_BASE / 65536 + 32, maximum: 65536, shared: true });
    const kernels = instantiateKernels(module, memory);
    const pool = await ThreadPool.create(kernels, module, memory, threads, opts.split ?? 'auto');
    const weightDtype = opts.weightDtype ?? 'f32';
    if (weightDtype !== 'f32' && weightDtype !== 'f16') throw new Error(`CpuBackend.create: weightDtype must be f32 or f16, got ${String(weightDtype)}`);
    return new CpuBackend(memory, kernels, pool, variant, weightDtype);
  }

  // --- memory -------------------------------------------------------------------------------

  alloc(byteLength: number): DeviceBuffer {
    this.#alive('alloc');
    if (!Number.isInteger(byteLength) || byteLength < 0) throw new Error(`alloc: invalid byte length ${byteLength}`);
    const buf = new CpuBuffer(byteLength, this.#alloc.alloc(byteLength, 'alloc'), this);
    this.#inUse += byteLength;
    this.#peak = Math.max(this.#peak, this.#inUse);
    this.#live++;
    return buf;
  }

  free(buf: DeviceBuffer): void {
    const b = this.#buf(buf, 'free');
    b.freed = true;
    this.#alloc.free(b.ptr, b.byteLength);
    this.#inUse -= b.byteLength;
    this.#live--;
  }

  write(buf: DeviceBuffer, data: Float32Array | Int32Array | Uint16Array, offset = 0): void {
    const b = this.#buf(buf, 'write');
    // A Uint16Array holds f16 bits; its offset counts 2-byte elements.
    const size = data instanceof Uint16Array ? 2 : 4;
    if (offset < 0 || (offset + data.length) * size > b.byteLength) {
      throw new Error(`write: ${data.length} elements at offset ${offset} overflow a ${b.byteLength}-byte buffer`);
    }
    new Uint8Array(this.#memory.buffer, b.ptr + offset * size, data.length * size)
      .set(new Uint8Array(data.buffer, data.byteOffset, data.length * size));
    if (data instanceof Uint16Array) {
      const specials = hasHalfSpecials(data);
      // A write of part of the buffer cannot vouch for the rest.
      b.halfSpecials = offset === 0 && data.length * 2 + 2 >= b.byteLength ? specials : b.halfSpecials || specials;
    } else {
      b.halfSpecials = true;
    }
  }

  readSync(buf: DeviceBuffer, dtype: DType, offset: number, length: number): Float32Array | Int32Array {
    const b = this.#buf(buf, 'read');
    const size = dtype === 'f16' ? 2 : 4;
    if (offset < 0 || length < 0 || (offset + length) * size > b.byteLength) {
      throw new Error(`read: ${length} elements at offset ${offset} exceed a ${b.byteLength}-byte buffer`);
    }
    // slice() copies, so later kernels or frees cannot change what the caller holds.
    const mem = this.#memory.buffer;
    const p = b.ptr + offset * size;
    if (dtype === 'f16') return f16ArrayToF32(new Uint16Array(mem, p, length).slice());
    return dtype === 'f32' ? new Float32Array(mem, p, length).slice() : new Int32Array(mem, p, length).slice();
  }

  read(buf: DeviceBuffer, dtype: DType, offset: number, length: number): Promise<Float32Array | Int32Array> {
    try {
      return Promise.resolve(this.readSync(buf, dtype, offset, length));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  memoryStats(): MemoryStats {
    return { bytesInUse: this.#inUse, peakBytesInUse: this.#peak, bytesReserved: this.#memory.buffer.byteLength, liveBuffers: this.#live };
  }

  resetPeak(): void {
    this.#peak = this.#inUse;
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#pool.destroy();
  }

  // --- data movement ---------------------------------------------------------------------------

  fill(out: DeviceBuffer, n: number, value: number, dtype: DType): void {
    if (dtype === 'f16') throw new Error('fill: f16 buffers hold weights written from the host; fill f32 or i32');
    const o = this.#arg(out, n, 'fill', 'out');
    let bits: number;
    if (dtype === 'f32') {
      f32View[0] = value;
      bits = f32Bits[0]!;
    } else {
      bits = value | 0;
    }
    this.#pool.run('fill', [o, bits], n, n);
  }

  copyStrided(src: StridedView, dst: StridedView, shape: number[], accumulate: boolean): void {
    const op = 'copyStrided';
    const s = this.#stridedArg(src.buf, src.offset, src.strides, shape, op, 'src');
    const d = this.#stridedArg(dst.buf, dst.offset, dst.strides, shape, op, 'dst');
    const zeros = shape.map(() => 0);
    this.#map(accumulate ? COPY_ADD : COPY, [s, s, s, d], [src.strides, zeros, zeros, dst.strides], shape);
  }

  // --- element-wise ----------------------------------------------------------------------------

  unary(op: UnaryOp, x: DeviceBuffer, out: DeviceBuffer, n: number, a: number, b: number): void {
    const xp = this.#arg(x, n, op, 'x');
    const outPtr = this.#arg(out, n, op, 'out');
    const code = UNARY_CODES[op];
    if (code === undefined) throw new Error(`unary: unknown op ${String(op)}`);
    this.#pool.run('unary', [code, xp, outPtr, a, b], n, op === 'log' ? n * 4 : n);
  }

  swiglu(gate: DeviceBuffer, up: DeviceBuffer, out: DeviceBuffer, n: number): void {
    const op = 'swiglu';
    this.#pool.run(op, [this.#arg(gate, n, op, 'gate'), this.#arg(up, n, op, 'up'), this.#arg(out, n, op, 'out')], n, n);
  }

  swigluBackward(gate: DeviceBuffer, up: DeviceBuffer, dOut: DeviceBuffer, dGate: DeviceBuffer, dUp: DeviceBuffer, n: number): void {
    const op = 'swigluBackward';
    const ptrs = [this.#arg(gate, n, op, 'gate'), this.#arg(up, n, op, 'up'), this.#arg(dOut, n, op, 'dOut'),
      this.#arg(dGate, n, op, 'dGate'), this.#arg(dUp, n, op, 'dUp')];
    this.#pool.run(op, ptrs, n, 2 * n);
  }

  binary(op: BinaryOp, a: StridedView, b: StridedView, out: DeviceBuffer, shape: number[]): void {
    const code = BINARY_CODES[op];
    if (code === undefined) throw new Error(`binary: unknown op ${String(op)}`);
    const ap = this.#stridedArg(a.buf, a.offset, a.strides, shape, op, 'a');
    const bp = this.#stridedArg(b.buf, b.offset, b.strides, shape, op, 'b');
    const dense = denseStrides(shape);
    const outPtr = this.#stridedArg(out, 0, dense, shape, op, 'out');
    this.#map(code, [ap, bp, bp, outPtr], [a.strides, b.strides, b.strides, dense], shape);
  }

  where(cond: StridedView, a: StridedView, b: StridedView, out: DeviceBuffer, shape: number[]): void {
    requireZeroOffsets('where', { cond, a, b });
    const cp = this.#stridedArg(cond.buf, 0, cond.strides, shape, 'where', 'cond');
    const ap = this.#stridedArg(a.buf, 0, a.strides, shape, 'where', 'a');
    const bp = this.#stridedArg(b.buf, 0, b.strides, shape, 'where', 'b');
    const dense = denseStrides(shape);
    const outPtr = this.#stridedArg(out, 0, dense, shape, 'where', 'out');
    this.#map(WHERE, [cp, ap, bp, outPtr], [cond.strides, a.strides, b.strides, dense], shape);
  }

  // --- reductions ------------------------------------------------------------------------------

  reduce(op: ReduceOp, x: DeviceBuffer, out: DeviceBuffer, outer: number, len: number, inner: number): void {
    const xp = this.#arg(x, outer * len * inner, op, 'x');
    const o = this.#arg(out, outer * inner, op, 'out');
    const code = REDUCE_CODES[op];
    if (code === undefined) throw new Error(`reduce: unknown op ${String(op)}`);
    if (outer * inner === 0) return;
    if (len === 0) {
      f32View[0] = op === 'sum' ? 0 : -Infinity;
      this.#pool.run('fill', [o, f32Bits[0]!], outer * inner, outer * inner);
      return;
    }
    const work = outer * len * inner;
    if (inner === 1) this.#pool.run('reduceRows', [code, xp, o, len], outer, work);
    else this.#pool.run('reduceCols', [code, xp, o, len, inner], outer * Math.ceil(inner / 64), work);
  }

  // --- matmul ----------------------------------------------------------------------------------

  matmul(a: DeviceBuffer, b: DeviceBuffer, out: DeviceBuffer, args: MatmulArgs): void {
    const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride, accumulate } = args;
    const aOff = args.aOffset ?? 0;
    const bOff = args.bOffset ?? 0;
    for (const [name, v] of Object.entries({ batch, m, n, k, aBatchStride, bBatchStride, aOff, bOff })) {
      if (!Number.isInteger(v) || v < 0) throw new Error(`matmul: ${name} must be a non-negative integer, got ${v}`);
    }
    const ap = this.#arg(a, aOff + (batch - 1) * aBatchStride + m * k, 'matmul', 'a') + aOff * 4;
    // An f16 B (frozen weights) has 2-byte elements: its offsets and strides count those.
    const bHalf = args.bDtype === 'f16';
    const bSize = bHalf ? 2 : 4;
    const bp = this.#arg(b, bOff + (batch - 1) * bBatchStride + k * n, 'matmul', 'b', bSize) + bOff * bSize;
    const op = this.#arg(out, batch * m * n, 'matmul', 'out');
    if (batch * m * n === 0) return;
    // op(A)[i, p] sits at a + i*aRs + p*aCs.
    const aRs = transA ? 1 : k;
    const aCs = transA ? m : 1;
    const acc = accumulate ? 1 : 0;
    const work = batch * m * n * Math.max(k, 1);
    if (m <= GEMV_MAX_M) {
      const common = [ap, bp, op, m, n, k, aRs, aCs, aBatchStride, bBatchStride, acc];
      if (transB && bHalf) this.#pool.run('gemvTHalf', [...common, this.#finiteHalves(b) ? 1 : 0], batch * Math.ceil(n / 4), work);
      else if (transB) this.#pool.run('gemvT', common, batch * Math.ceil(n / 4), work);
      else this.#pool.run(bHalf ? 'gemvNHalf' : 'gemvN', common, batch * Math.ceil(n / 16), work);
      return;
    }
    const panels = Math.ceil(n / 8);
    const packFloats = panels * Math.max(k, 1) * 8;
    // One packed B serves every item when B is broadcast (batch stride 0).
    const shared = bBatchStride === 0;
    // TN rows go in units of 64-256 rows (tnUnitRows): each unit streams the packed B once per k
    // block, so units of 4 rows would stream it 16-64 times as often as one thread does.
    const unitRows = transA ? tnUnitRows(m, n, this.threads) : 4;
    const rowUnits = Math.ceil(m / unitRows);
    const bMode = transA ? tnBMode(m, n, transB, bHalf, batch * rowUnits, this.threads) : TN_B_PACKED;
    // The kernels get B itself (bRaw) when they read it in place or pack its slices.
    const bRaw = bMode !== TN_B_PACKED;
    // Items are taken as many at a time as their packed Bs fit in PACK_CHUNK_BYTES; a B read in place
    // or packed by slices needs no packed copy, so all at once.
    const per = shared || bRaw ? batch : Math.max(1, Math.min(batch, Math.floor(PACK_CHUNK_BYTES / (packFloats * 4))));
    // A stored transposed (a Linear's weight gradient, k = tokens) runs k-blocked, each thread
    // packing its rows of A a block or 20 columns at a time (kernels/matmul.ts gemmTN, tnAMode):
    // read in place, down its columns, every k step of a tile is a new line of A, and when m is a
    // multiple of 1024 every such line maps to the same L1 set. With a narrow B (tnNarrow) each thread
    // sweeps its rows of A instead and keeps their partial sums in the same per-thread scratch.
    const aBlockBytes = transA ? this.threads * (TN_BLOCK_FLOATS + (bMode === TN_B_SLICES ? TN_SLICE_FLOATS : 0)) * 4 : 0;
    // One item whose packed B would pass PACK_CHUNK_BYTES (a vocabulary-sized lm_head: 545 MB for
    // Qwen2.5's 151936 x 896) is packed and multiplied a range of panels at a time, so the scratch
    // stays small; every output column is computed as before, bit for bit.
    const panelFloats = Math.max(k, 1) * 8;
    const wide = !bRaw && batch === 1 && packFloats * 4 > PACK_CHUNK_BYTES;
    const chunkPanels = wide ? Math.max(1, Math.floor(PACK_CHUNK_BYTES / (panelFloats * 4))) : panels;
    const packBytes = bRaw ? 0 : Math.ceil((wide ? chunkPanels * panelFloats * 4 : (shared ? 1 : per) * packFloats * 4) / 64) * 64;
    const scratch = this.#scratch(packBytes + aBlockBytes);
    const ws = scratch + packBytes;
    const rowBlocks = Math.ceil(m / 4);
    for (let t0 = 0; t0 < batch; t0 += per) {
      const cnt = Math.min(per, batch - t0);
      const a0 = ap + t0 * aBatchStride * 4;
      for (let p0 = 0; p0 < panels; p0 += chunkPanels) {
        const p1 = Math.min(panels, p0 + chunkPanels);
        // Panel p lives at base + p * panelFloats floats: base is moved back by p0 panels so that
        // panel p0 lands at the scratch (the kernels' 32-bit address arithmetic wraps it back).
        const base = (scratch - p0 * panelFloats * 4) >>> 0;
        // With B read in place or by slices the kernels get B itself, and its own batch stride.
        const bArg = bRaw ? bp + t0 * bBatchStride * 4 : base;
        const bArgStride = bRaw ? bBatchStride : shared ? 0 : packFloats;
        if (!bRaw && (!shared || t0 === 0 || wide)) {
          const units = (shared ? 1 : cnt) * (p1 - p0);
          const packArgs = [bp + t0 * bBatchStride * bSize, base, k, n, transB ? 1 : 0, bBatchStride, p0];
          if (bHalf) this.#pool.run('packBHalf', [...packArgs, this.#finiteHalves(b) ? 1 : 0], units, units * panelFloats);
          else this.#pool.run('packB', packArgs, units, units * panelFloats);
        }
        const flops = cnt * m * (p1 - p0) * 8 * Math.max(k, 1);
        if (transA && tnNarrow(m, n)) {
          // One range of out rows (columns of A) per thread, unless its partial sums outgrow the
          // scratch: each thread then sweeps the longest runs of A's rows it can.
          const ranges = Math.max(1, Math.ceil(this.threads / cnt));
          // A range's partial sums take whole blocks of TN_NARROW_ROWS rows: up to 4 rows more than it has.
          const fits = Math.floor((TN_BLOCK_FLOATS - TN_NARROW_COPY_FLOATS) / (8 * panels)) - (TN_NARROW_ROWS - 1);
          const rangeRows = Math.min(fits - fits % TN_NARROW_ROWS, Math.ceil(m / ranges / TN_NARROW_ROWS) * TN_NARROW_ROWS);
          const narrowArgs = [a0, base, op + t0 * m * n * 4, ws, m, n, k, aBatchStride, shared ? 0 : packFloats, acc, rangeRows, tnNarrowCopies(m) ? 1 : 0];
          this.#pool.run('gemmTNNarrow', narrowArgs, cnt * Math.ceil(m / rangeRows), flops);
          continue;
        }
        const splitCols = (transA ? cnt * rowUnits < this.threads : this.#splitCols(cnt, rowBlocks, m, Math.min(n, p1 * 8) - p0 * 8, k)) ? 1 : 0;
        const units = cnt * (splitCols ? p1 - p0 : rowUnits);
        if (transA) {
          const tnArgs = [a0, bArg, op + t0 * m * n * 4, ws, m, n, k, aBatchStride, bArgStride, acc, splitCols, p0, p1, unitRows];
          this.#pool.run('gemmTN', [...tnArgs, tnAMode(m, n), bMode], units, flops);
        } else this.#pool.run('gemm', [a0, base, op + t0 * m * n * 4, m, n, k, aRs, aCs, aBatchStride, shared ? 0 : packFloats, acc, splitCols, p0, p1], units, flops);
      }
    }
  }

  /**
   * Whether a pooled gemm splits by column panels rather than by row blocks. Each way re-reads
   * something per chunk: a chunk of rows streams all of packed B once per mc-row slice (the
   * kernel's L2 block of A, kernels/matmul.ts gemmBlock), so row chunks smaller than mc stream B
   * more often than one thread would; a chunk of panels reads all of A once. So: by columns when
   * there are too few row blocks to share, or when the extra B traffic of row chunks exceeds the
   * extra A traffic of panel chunks (wide products such as 256x4864x896, where B is 17 MB and A
   * 0.9 MB).
   */
  #splitCols(items: number, rowBlocks: number, m: number, n: number, k: number): boolean {
    if (items * rowBlocks < 2 * this.threads) return true;
    if (items > 1 || this.threads === 1) return false;
    const chunks = this.threads * CHUNKS_PER_THREAD;
    const mc = Math.max(4, Math.floor(65536 / Math.max(k, 1)) & ~3);
    const extraB = Math.max(0, chunks - Math.ceil(m / mc)) * k * n;
    const extraA = chunks * m * k;
    return extraA < extraB;
  }

  // --- fused routines --------------------------------------------------------------------------

  softmax(x: DeviceBuffer, out: DeviceBuffer, rows: number, cols: number): void {
    this.#rows('softmax', [this.#arg(x, rows * cols, 'softmax', 'x'), this.#arg(out, rows * cols, 'softmax', 'out'), cols], rows, cols);
  }

  softmaxBackward(y: DeviceBuffer, dy: DeviceBuffer, dx: DeviceBuffer, rows: number, cols: number): void {
    const e = rows * cols, op = 'softmaxBackward';
    this.#rows(op, [this.#arg(y, e, op, 'y'), this.#arg(dy, e, op, 'dy'), this.#arg(dx, e, op, 'dx'), cols], rows, cols);
  }

  logSoftmax(x: DeviceBuffer, out: DeviceBuffer, rows: number, cols: number): void {
    const e = rows * cols, op = 'logSoftmax';
    this.#rows(op, [this.#arg(x, e, op, 'x'), this.#arg(out, e, op, 'out'), cols], rows, cols);
  }

  logSoftmaxBackward(y: DeviceBuffer, dy: DeviceBuffer, dx: DeviceBuffer, rows: number, cols: number): void {
    const e = rows * cols, op = 'logSoftmaxBackward';
    this.#rows(op, [this.#arg(y, e, op, 'y'), this.#arg(dy, e, op, 'dy'), this.#arg(dx, e, op, 'dx'), cols], rows, cols);
  }

  embedding(table: DeviceBuffer, ids: DeviceBuffer, out: DeviceBuffer, rows: number, dim: number, tableDtype: 'f32' | 'f16' = 'f32'): void {
    const op = 'embedding';
    const size = tableDtype === 'f16' ? 2 : 4;
    const tp = this.#arg(table, 0, op, 'table');
    const ip = this.#ids(ids, rows, Math.floor(table.byteLength / size / dim), op);
    this.#rows(tableDtype === 'f16' ? 'embeddingHalf' : op, [tp, ip, this.#arg(out, rows * dim, op, 'out'), dim], rows, dim);
  }

  embeddingBackward(dOut: DeviceBuffer, ids: DeviceBuffer, dTable: DeviceBuffer, rows: number, dim: number): void {
    const op = 'embeddingBackward';
    const dp = this.#arg(dOut, rows * dim, op, 'dOut');
    const tp = this.#arg(dTable, 0, op, 'dTable');
    const ip = this.#ids(ids, rows, Math.floor(dTable.byteLength / 4 / dim), op);
    // Split by column blocks: rows may repeat an id, and each thread owns whole columns.
    this.#pool.run(op, [dp, ip, tp, rows, dim], Math.ceil(dim / 64), rows * dim);
  }

  rmsnorm(x: DeviceBuffer, w: DeviceBuffer, out: DeviceBuffer, rstd: DeviceBuffer, rows: number, dim: number, eps: number): void {
    const op = 'rmsnorm', e = rows * dim;
    this.#rows(op, [this.#arg(x, e, op, 'x'), this.#arg(w, dim, op, 'w'), this.#arg(out, e, op, 'out'),
      this.#arg(rstd, rows, op, 'rstd'), dim, eps], rows, dim);
  }

  rmsnormBackward(dy: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, rstd: DeviceBuffer, dx: DeviceBuffer,
    dw: DeviceBuffer, rows: number, dim: number): void {
    const op = 'rmsnormBackward', e = rows * dim;
    const dyp = this.#arg(dy, e, op, 'dy'), xp = this.#arg(x, e, op, 'x'), wp = this.#arg(w, dim, op, 'w');
    const rp = this.#arg(rstd, rows, op, 'rstd'), dxp = this.#arg(dx, e, op, 'dx'), dwp = this.#arg(dw, dim, op, 'dw');
    // One pass over the rows writes dx and, per block of rows, partial sums of dw; a second kernel
    // adds those into dw by column blocks, so each thread owns its slice of dw. The blocks are the
    // same for any thread count, so the result is too.
    const blocks = Math.ceil(rows / RMS_BLOCK_ROWS);
    const part = this.#scratch(blocks * dim * 4);
    this.#pool.run('rmsnormBackwardRows', [dyp, xp, wp, rp, dxp, part, rows, dim, RMS_BLOCK_ROWS], blocks, e);
    this.#pool.run('rmsnormBackwardDw', [part, dwp, blocks, dim], Math.ceil(dim / 64), blocks * dim);
  }

  rope(x: DeviceBuffer, positions: DeviceBuffer, cos: DeviceBuffer, sin: DeviceBuffer, out: DeviceBuffer,
    rows: number, H: number, D: number, inverse: boolean): void {
    const op = 'rope', e = rows * H * D;
    if (D % 2 !== 0) throw new Error(`rope: head dim D must be even, got ${D}`);
    const maxPos = Math.floor(Math.min(cos.byteLength, sin.byteLength) / 4 / Math.max(D / 2, 1));
    const pp = this.#ids(positions, rows, maxPos, op, 'position');
    this.#rows(op, [this.#arg(x, e, op, 'x'), pp, this.#arg(cos, 0, op, 'cos'), this.#arg(sin, 0, op, 'sin'),
      this.#arg(out, e, op, 'out'), H, D, inverse ? 1 : 0], rows, H * D);
  }

  attention(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, keyBias: DeviceBuffer | null, out: DeviceBuffer,
    lse: DeviceBuffer, args: AttentionArgs): void {
    const op = 'attention';
    const { B, Tq, H, Hkv, D, pastLen, kvBatchStride, scale } = args;
    const Tk = this.#checkAttention(args, op);
    const kvElems = (B - 1) * kvBatchStride + Tk * Hkv * D;
    const ptrs = [this.#arg(q, B * Tq * H * D, op, 'q'), this.#arg(k, kvElems, op, 'k'), this.#arg(v, kvElems, op, 'v')];
    const bias = keyBias ? this.#arg(keyBias, B * Tk, op, 'keyBias') : 0;
    const ks = this.#keyStart(args, op);
    const o = this.#arg(out, B * Tq * H * D, op, 'out');
    const l = this.#arg(lse, B * H * Tq, op, 'lse');
    // Blocks of 4 query rows share each key row load; decoding (Tq < 4) and odd head sizes go row by
    // row (4 keys at a time where D % 4 == 0).
    const blocked = Tq >= 4 && D % 4 === 0;
    const stride = Math.ceil((Tk * (blocked ? 16 : 4)) / 64) * 64;
    const scratch = this.#scratch(stride * this.threads);
    const common = [...ptrs, bias, keyBias ? 1 : 0, ks.ptr, ks.ptr ? 1 : 0, o, l, Tq, H, Hkv, D, pastLen, kvBatchStride, scale, scratch, stride];
    const work = H * ks.keys * D;
    if (blocked) this.#pool.run('attentionBlocks', common, B * H * Math.ceil(Tq / 4), work);
    else this.#pool.run(op, common, B * H * Tq, work);
  }

  attentionBackward(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, keyBias: DeviceBuffer | null, out: DeviceBuffer,
    lse: DeviceBuffer, dOut: DeviceBuffer, dq: DeviceBuffer, dk: DeviceBuffer, dv: DeviceBuffer, args: AttentionArgs): void {
    const op = 'attentionBackward';
    const { B, Tq, H, Hkv, D, pastLen, kvBatchStride, scale } = args;
    const Tk = this.#checkAttention(args, op);
    const qe = B * Tq * H * D, kve = (B - 1) * kvBatchStride + Tk * Hkv * D;
    const bias = keyBias ? this.#arg(keyBias, B * Tk, op, 'keyBias') : 0;
    const ks = this.#keyStart(args, op);
    const ptrs = [this.#arg(q, qe, op, 'q'), this.#arg(k, kve, op, 'k'), this.#arg(v, kve, op, 'v'), bias, keyBias ? 1 : 0,
      ks.ptr, ks.ptr ? 1 : 0, this.#arg(out, qe, op, 'out'), this.#arg(lse, B * H * Tq, op, 'lse'), this.#arg(dOut, qe, op, 'dOut'),
      this.#arg(dq, qe, op, 'dq'), this.#arg(dk, kve, op, 'dk'), this.#arg(dv, kve, op, 'dv'),
      Tq, H, Hkv, D, pastLen, kvBatchStride, scale];
    const work = H * ks.keys * D;
    if (D % 4 !== 0) {
      // Units are (batch, kv head) pairs: each owns its dk/dv rows, so the accumulation has no races.
      this.#pool.run('attentionBackwardRows', ptrs, B * Hkv, work);
      return;
    }
    const pairs = B * Hkv;
    // Too few (batch, kv head) pairs to share evenly: split over query blocks instead, each thread
    // accumulating dk/dv into a private zeroed copy that is added into dk/dv afterwards.
    const split = this.threads > 1 && work >= PARALLEL_MIN_WORK && (pairs < this.threads || (pairs < 4 * this.threads && pairs % this.threads !== 0));
    // A thread's p/ds vectors (32 bytes a key) and, unsplit, its pair's dk/dv sums (2 x Tk rows of D floats).
    const stride = Math.ceil((Tk * 32 + (split ? 0 : 8 * Tk * D)) / 64) * 64;
    const partialFloats = 2 * kve;
    const scratch = this.#scratch(stride * this.threads + (split ? partialFloats * 4 * this.threads : 0));
    const partials = scratch + stride * this.threads;
    if (!split) {
      this.#pool.run(op, [...ptrs, scratch, stride, 0, 0, 0, kve], pairs, work);
      return;
    }
    f32View[0] = 0;
    this.#pool.run('fill', [partials, f32Bits[0]!], partialFloats * this.threads, partialFloats * this.threads);
    const units = pairs * (H / Hkv) * Math.ceil(Tq / 4);
    this.#pool.run(op, [...ptrs, scratch, stride, 1, partials, partialFloats * 4, kve], units, work);
    const dkp = this.#arg(dk, kve, op, 'dk'), dvp = this.#arg(dv, kve, op, 'dv');
    for (let t = 0; t < this.threads; t++) {
      const src = partials + t * partialFloats * 4;
      this.#mapRaw(COPY_ADD, [src, src, src, dkp], [[1], [0], [0], [1]], [kve]);
      this.#mapRaw(COPY_ADD, [src + kve * 4, src, src, dvp], [[1], [0], [0], [1]], [kve]);
    }
  }

  logprobEntropy(logits: DeviceBuffer, ids: DeviceBuffer, logp: DeviceBuffer, entropy: DeviceBuffer, lse: DeviceBuffer,
    rows: number, vocab: number, invTemperature: number): void {
    const op = 'logprobEntropy';
    const ip = this.#ids(ids, rows, vocab, op);
    this.#rows(op, [this.#arg(logits, rows * vocab, op, 'logits'), ip, this.#arg(logp, rows, op, 'logp'),
      this.#arg(entropy, rows, op, 'entropy'), this.#arg(lse, rows, op, 'lse'), vocab, invTemperature], rows, vocab);
  }

  logprobEntropyBackward(logits: DeviceBuffer, ids: DeviceBuffer, lse: DeviceBuffer, entropy: DeviceBuffer,
    dLogp: DeviceBuffer, dEntropy: DeviceBuffer, dLogits: DeviceBuffer, rows: number, vocab: number, invTemperature: number): void {
    const op = 'logprobEntropyBackward';
    const ip = this.#ids(ids, rows, vocab, op);
    this.#rows(op, [this.#arg(logits, rows * vocab, op, 'logits'), ip, this.#arg(lse, rows, op, 'lse'),
      this.#arg(entropy, rows, op, 'entropy'), this.#arg(dLogp, rows, op, 'dLogp'), this.#arg(dEntropy, rows, op, 'dEntropy'),
      this.#arg(dLogits, rows * vocab, op, 'dLogits'), vocab, invTemperature], rows, vocab);
  }

  sample(logits: DeviceBuffer, uniforms: DeviceBuffer, tokens: DeviceBuffer, logprobs: DeviceBuffer,
    rows: number, vocab: number, args: SampleArgs): void {
    const op = 'sample';
    const ptrs = [this.#arg(logits, rows * vocab, op, 'logits'), this.#arg(uniforms, rows, op, 'uniforms'),
      this.#arg(tokens, rows, op, 'tokens'), this.#arg(logprobs, rows, op, 'logprobs')];
    if (rows === 0) return;
    // Per thread (kernels/sample.ts): the row's block sums (f64 per 256 logits), 256 radix buckets
    // of two f64s, and the row's weights (f32, whole vectors).
    const stride = Math.ceil((Math.ceil(vocab / 256) * 8 + 256 * 16 + Math.ceil(vocab / 4) * 16) / 64) * 64;
    const scratch = this.#scratch(stride * this.threads);
    const topK = args.topK > 0 && args.topK < vocab ? args.topK : 0;
    this.#pool.run(op, [...ptrs, vocab, args.temperature, topK, args.topP, scratch, stride], rows, rows * vocab);
  }

  // --- fused decoding routines ------------------------------------------------------------------

  linearGroup(x: DeviceBuffer, weights: DeviceBuffer[], biases: (DeviceBuffer | null)[], residual: DeviceBuffer | null,
    outs: DeviceBuffer[], args: LinearGroupArgs): void {
    checkLinearGroup(weights, biases, residual, outs, args);
    const { m, k, n, wDtype, epilogue } = args;
    // Many rows (a prefill, log-probs): each weight packed once for all rows, then the rows a chunk
    // at a time past every panel, rather than every row past each panel as the decode kernel does.
    if (m > FUSED_MAX_M) {
      if (!this.#linearGroupRows(x, weights, biases, residual, outs, args)) linearGroupComposed(this, x, weights, biases, residual, outs, args);
      return;
    }
    const op = 'linearGroup';
    // Up to the gemv sizes units are blocks of 4 columns, past them panels of 8 (kernels/decode.ts).
    const width = m > GEMV_MAX_M ? 8 : 4;
    const swiglu = epilogue === 'swiglu';
    const xp = this.#arg(x, m * k, op, 'x');
    const slots: number[] = [];
    let units = 0;
    for (let w = 0; w < 3; w++) {
      if (w >= weights.length) {
        slots.push(0, 0, 0, 0, 0);
        continue;
      }
      const half = wDtype[w] === 'f16';
      const bias = biases[w];
      const out = swiglu && w === 1 ? 0 : this.#arg(outs[w]!, m * n[w]!, op, `output ${w}`);
      slots.push(this.#arg(weights[w]!, n[w]! * k, op, `weight ${w}`, half ? 2 : 4), n[w]!, bias ? this.#arg(bias, n[w]!, op, `bias ${w}`) : 0,
        out, half ? (this.#finiteHalves(weights[w]!) ? 2 : 1) : 0);
      if (!(swiglu && w === 1)) units += Math.ceil(n[w]! / width);
    }
    const res = residual ? this.#arg(residual, m * n[0]!, op, 'residual') : 0;
    // Per thread: a swiglu unit's block of `up` (m <= 4 rows of 4 floats); past the gemv sizes the
    // packed panel (k rows of 8 floats), then a swiglu unit's m rows of 8 `up` floats.
    const stride = m > GEMV_MAX_M ? Math.ceil((Math.max(k, 1) * 32 + (swiglu ? m * 32 : 0)) / 64) * 64 : swiglu ? 64 : 0;
    const tmp = stride ? this.#scratch(stride * this.threads) : 0;
    if (m === 0) return;
    const work = m * Math.max(k, 1) * n.reduce((a, b) => a + b, 0);
    this.#pool.run(op, [xp, m, k, res, swiglu ? 1 : 0, tmp, stride, ...slots], units, work);
  }

  /**
   * linearGroup of more than FUSED_MAX_M rows (kernels/decode.ts linearGroupRows): the weights packed
   * into the scratch, then units of 4 rows with the epilogue on each chunk of rows. False (nothing
   * done) when the packed weights would pass PACK_CHUNK_BYTES: the separate calls then pack and
   * multiply a range of panels at a time.
   */
  #linearGroupRows(x: DeviceBuffer, weights: DeviceBuffer[], biases: (DeviceBuffer | null)[], residual: DeviceBuffer | null,
    outs: DeviceBuffer[], args: LinearGroupArgs): boolean {
    const { m, k, n, wDtype, epilogue } = args;
    const op = 'linearGroup';
    const panelFloats = Math.max(k, 1) * 8;
    const packBytes = n.map((w) => Math.ceil((Math.ceil(w / 8) * panelFloats * 4) / 64) * 64);
    const packed = packBytes.reduce((a, b) => a + b, 0);
    if (packed > PACK_CHUNK_BYTES) return false;
    const swiglu = epilogue === 'swiglu';
    const xp = this.#arg(x, m * k, op, 'x');
    const res = residual ? this.#arg(residual, m * n[0]!, op, 'residual') : 0;
    const scratch = this.#scratch(packed + GROUP_ROWS_UP_BYTES * this.threads);
    const slots: number[] = [];
    let at = scratch;
    for (let w = 0; w < 3; w++) {
      if (w >= weights.length) {
        slots.push(0, 0, 0, 0);
        continue;
      }
      const half = wDtype[w] === 'f16';
      const wp = this.#arg(weights[w]!, n[w]! * k, op, `weight ${w}`, half ? 2 : 4);
      const panels = Math.ceil(n[w]! / 8);
      const packArgs = [wp, at, k, n[w]!, 1, 0, 0];
      if (half) this.#pool.run('packBHalf', [...packArgs, this.#finiteHalves(weights[w]!) ? 1 : 0], panels, panels * panelFloats);
      else this.#pool.run('packB', packArgs, panels, panels * panelFloats);
      const out = swiglu && w === 1 ? 0 : this.#arg(outs[w]!, m * n[w]!, op, `output ${w}`);
      const bias = biases[w];
      slots.push(at, n[w]!, bias ? this.#arg(bias, n[w]!, op, `bias ${w}`) : 0, out);
      at += packBytes[w]!;
    }
    const work = m * Math.max(k, 1) * n.reduce((a, b) => a + b, 0);
    this.#pool.run('linearGroupRows', [xp, m, k, res, swiglu ? 1 : 0, scratch + packed, ...slots], Math.ceil(m / 4), work);
    return true;
  }

  ropeKvWrite(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, positions: DeviceBuffer, cos: DeviceBuffer, sin: DeviceBuffer,
    qOut: DeviceBuffer, kCache: DeviceBuffer, vCache: DeviceBuffer, args: RopeKvWriteArgs): void {
    const op = 'ropeKvWrite';
    checkRopeKvWrite(args);
    const { B, T, H, Hkv, D, pastLen, maxLen } = args;
    const rows = B * T;
    const maxPos = Math.floor(Math.min(cos.byteLength, sin.byteLength) / 4 / Math.max(D / 2, 1));
    const pp = this.#ids(positions, rows, maxPos, op, 'position');
    const qe = rows * H * D, kve = rows * Hkv * D, cache = B * maxLen * Hkv * D;
    const ptrs = [this.#arg(q, qe, op, 'q'), this.#arg(k, kve, op, 'k'), this.#arg(v, kve, op, 'v'), pp,
      this.#arg(cos, 0, op, 'cos'), this.#arg(sin, 0, op, 'sin'), this.#arg(qOut, qe, op, 'qOut'),
      this.#arg(kCache, cache, op, 'kCache'), this.#arg(vCache, cache, op, 'vCache')];
    this.#pool.run(op, [...ptrs, T, H, Hkv, D, pastLen, maxLen], rows, rows * (H + 2 * Hkv) * D);
  }

  // --- optimizer -------------------------------------------------------------------------------

  adamw(param: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, args: AdamWArgs): void {
    const op = 'adamw';
    const { n, lr, beta1, beta2, eps, weightDecay, step } = args;
    const ptrs = [this.#arg(param, n, op, 'param'), this.#arg(grad, n, op, 'grad'), this.#arg(m, n, op, 'm'), this.#arg(v, n, op, 'v')];
    // Bias corrections in float64, once per call, as the reference computes them.
    this.#pool.run(op, [...ptrs, lr, beta1, beta2, eps, weightDecay, 1 - beta1 ** step, 1 - beta2 ** step], n, n * 4);
  }

  // --- helpers ---------------------------------------------------------------------------------

  #alive(op: string): void {
    if (this.#destroyed) throw new Error(`${op}: the CPU backend was destroyed`);
  }

  #buf(buf: DeviceBuffer, op: string): CpuBuffer {
    this.#alive(op);
    if (!(buf instanceof CpuBuffer) || buf.owner !== this) throw new Error(`${op}: buffer does not belong to this CPU backend`);
    if (buf.freed) throw new Error(`${op}: buffer used after it was freed`);
    return buf;
  }

  /** The byte address of `buf`, after checking it is live and holds `elems` elements of `size` bytes. */
  #arg(buf: DeviceBuffer, elems: number, op: string, what: string, size = 4): number {
    const b = this.#buf(buf, op);
    if (elems * size > b.byteLength) throw new Error(`${op}: ${what} needs ${elems} elements but its buffer holds ${b.byteLength} bytes`);
    return b.ptr;
  }

  /** The byte address of element `offset` of `buf`, after checking the strided view stays inside it. */
  #stridedArg(buf: DeviceBuffer, offset: number, strides: number[], shape: number[], op: string, what: string): number {
    const b = this.#buf(buf, op);
    if (strides.length !== shape.length) {
      throw new Error(`${op}: ${what} has ${strides.length} strides for shape [${shape.join(', ')}]`);
    }
    if (shape.every((n) => n > 0)) {
      const [lo, hi] = extent(shape, strides, offset);
      if (lo < 0 || (hi + 1) * 4 > b.byteLength) {
        throw new Error(`${op}: ${what} view (offset ${offset}, strides [${strides.join(', ')}], shape [${shape.join(', ')}]) `
          + `reaches elements [${lo}, ${hi}] outside its ${b.byteLength}-byte buffer`);
      }
    }
    return b.ptr + offset * 4;
  }

  /** Whether an f16 buffer is known to hold no Inf or NaN (see CpuBuffer.halfSpecials). */
  #finiteHalves(buf: DeviceBuffer): boolean {
    return !(buf as CpuBuffer).halfSpecials;
  }

  /** Checks that `rows` i32 ids lie in [0, limit) (a kernel would read out of bounds) and returns their address. */
  #ids(ids: DeviceBuffer, rows: number, limit: number, op: string, what = 'token id'): number {
    const p = this.#arg(ids, rows, op, 'ids');
    const view = new Int32Array(this.#memory.buffer, p, rows);
    for (let r = 0; r < rows; r++) {
      const id = view[r]!;
      if (id < 0 || id >= limit) throw new Error(`${op}: ${what} ${id} at row ${r} is outside [0, ${limit})`);
    }
    return p;
  }

  /**
   * AttentionArgs.keyStart's pointer (0 when absent), checked against its bounds, and the number of
   * (query, key) pairs it leaves per head (the kernels' work).
   */
  #keyStart(args: AttentionArgs, op: string): { ptr: number; keys: number } {
    const { B, Tq, pastLen } = args;
    if (!args.keyStart) return { ptr: 0, keys: B * Tq * (pastLen + Tq) };
    const ptr = this.#arg(args.keyStart, B * Tq, op, 'keyStart');
    const view = new Int32Array(this.#memory.buffer, ptr, B * Tq);
    let keys = 0;
    for (let r = 0; r < B * Tq; r++) {
      const i = r % Tq, j0 = view[r]!;
      if (j0 < 0 || j0 > pastLen + i) throw new Error(`${op}: keyStart ${j0} at [${Math.floor(r / Tq)}, ${i}] is outside [0, pastLen + ${i}] = [0, ${pastLen + i}]`);
      keys += pastLen + i + 1 - j0;
    }
    return { ptr, keys };
  }

  #checkAttention(args: AttentionArgs, op: string): number {
    const { B, Tq, H, Hkv, D, pastLen, kvBatchStride } = args;
    if (Hkv <= 0 || H % Hkv !== 0) throw new Error(`${op}: H=${H} is not a multiple of Hkv=${Hkv}`);
    const Tk = pastLen + Tq;
    if (kvBatchStride < Tk * Hkv * D && B > 1) {
      throw new Error(`${op}: kvBatchStride ${kvBatchStride} is shorter than Tk*Hkv*D = ${Tk * Hkv * D}`);
    }
    return Tk;
  }

  /** A row kernel over `rows` rows of `cols` elements. */
  #rows(name: 'softmax' | 'softmaxBackward' | 'logSoftmax' | 'logSoftmaxBackward' | 'embedding' | 'embeddingHalf' | 'rmsnorm'
    | 'rope' | 'logprobEntropy' | 'logprobEntropyBackward', args: number[], rows: number, cols: number): void {
    this.#pool.run(name, args, rows, rows * cols);
  }

  /** The strided map over `shape` with 4 operands (3 inputs and the output), after collapsing axes. */
  #map(code: number, ptrs: number[], strides: number[][], shape: number[]): void {
    const total = shape.reduce((a, b) => a * b, 1);
    if (total === 0) return;
    const { shape: s, strides: st } = collapse(shape, strides);
    const lead = s.length - MAP_RANK;
    if (lead > 0) {
      // Rare: more than 6 axes survive collapsing. Walk the leading axis here.
      for (let i = 0; i < s[0]!; i++) {
        this.#mapRaw(code, ptrs.map((p, o) => p + i * st[o]![0]! * 4), st.map((x) => x.slice(1)), s.slice(1));
      }
      return;
    }
    this.#mapRaw(code, ptrs, st, s);
  }

  #mapRaw(code: number, ptrs: number[], strides: number[][], shape: number[]): void {
    if (shape.length > MAP_RANK) {
      this.#map(code, ptrs, strides, shape);
      return;
    }
    const params = new Int32Array(this.#memory.buffer, MAP_PARAMS, 1 + 5 * MAP_RANK);
    params.fill(0);
    params[0] = shape.length;
    params.set(shape, 1);
    strides.forEach((s, o) => params.set(s, 1 + MAP_RANK * (o + 1)));
    const total = shape.reduce((a, b) => a * b, 1);
    this.#pool.run('stridedMap', [code, ...ptrs, MAP_PARAMS, MAP_INDEX], total, total);
  }

  /**
   * A private block of at least `bytes` for kernel scratch (packed B, attention scores), kept and
   * grown as needed. Not counted as a live buffer; it shows in bytesReserved.
   */
  #scratch(bytes: number): number {
    if (bytes > this.#scratchBytes) {
      if (this.#scratchBytes > 0) this.#alloc.free(this.#scratchPtr, this.#scratchBytes);
      const size = sizeClass(bytes);
      this.#scratchPtr = this.#alloc.alloc(size, 'scratch');
      this.#scratchBytes = size;
    }
    return this.#scratchPtr;
  }
}
