/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend: every kernel of the Backend contract as a WGSL compute shader (wgsl/), run on
 * device buffers from a size-bucketed pool. Kernels are recorded in call order (queue.ts); `read`
 * is the only host round trip. Browser-safe: the GPU object comes from the caller (node.ts opens
 * Dawn's in Node).
 *
 * Optional device features change kernels, never results beyond rounding: with `shader-f16`, f16
 * buffers hold frozen weights (matmul's B and the embedding table read them, widening to f32);
 * with `subgroups`, the row reductions use subgroup operations. Pipelines are keyed by variant.
 */
import type {
  AdamWArgs, AttentionArgs, Backend, BinaryOp, DeviceBuffer, DType, LinearGroupArgs, MatmulArgs, MemoryStats, ReduceOp, RopeKvWriteArgs,
  SampleArgs, StridedView, UnaryOp,
} from '../backend.js';
import { checkLinearGroup, checkRopeKvWrite, linearGroupComposed } from '../composed.js';
import { requireZeroOffsets } from '../views.js';
import { BufferPool, GpuBuffer } from './buffers.js';
import { f16ArrayToF32 } from '../../util/float16.js';
import { openDevice, type AdapterReport, type GpuOpenOptions } from './device.js';
import { KernelQueue, type Binding, type KernelTime } from './queue.js';
import {
  ATTENTION_BLOCK, attentionDecodeWgsl, attentionDkDvWgsl, attentionGroupSumWgsl, attentionDqWgsl, attentionForwardWgsl, attentionStatsWgsl,
} from './wgsl/attention.js';
import { Params } from './wgsl/common.js';
import {
  adamwWgsl, binaryWgsl, copyStridedWgsl, ELEMENT_GROUP, fillWgsl, MAX_RANK, swigluBackwardWgsl, swigluWgsl, unaryWgsl, whereWgsl,
} from './wgsl/elementwise.js';
import { embeddingBackwardWgsl, embeddingWgsl, ropeKvCacheWgsl, ropeWgsl } from './wgsl/gather.js';
import {
  linearEpilogueWgsl, linearGroupMatmulWgsl, MATMUL_TILE, matmulWgsl, splitKPlan, splitKSumWgsl,
} from './wgsl/matmul.js';
import {
  logprobEntropyBackwardWgsl, logprobEntropyWgsl, reduceRowChunks, reduceRowWgsl, reduceStridedWgsl,
  rmsnormDwBlocks, rmsnormDwWgsl, rmsnormDxWgsl, rmsnormWgsl, softmaxBackwardWgsl, softmaxWgsl,
} from './wgsl/rows.js';
import { sampleWgsl } from './wgsl/sample.js';

const groupsFor = (n: number): number => Math.ceil(n / ELEMENT_GROUP);
const bytesPer = (dtype: DType): number => (dtype === 'f16' ? 2 : 4);
const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);

export interface WebGpuBackendOptions {
  /**
   * 'f16': store frozen weights as f16 where the adapter has `shader-f16` (see weightDtypeNote
   * when it has not). Default 'f32'.
   */
  weightDtype?: 'f32' | 'f16';
  /** Use subgroup reductions where the adapter has `subgroups` (default true); false forces the workgroup-memory path. */
  subgroups?: boolean;
  /** Kernels recorded before they are submitted (default 64): fewer submits against an earlier start on the device. */
  batchLimit?: number;
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly capacityBytes = undefined;
  /** f16 buffers exist: the device was opened with `shader-f16`. */
  readonly halfStorage: boolean;
  readonly weightDtype: 'f32' | 'f16';
  /** Why f16 weights were asked for but are not used (the adapter lacks `shader-f16`); null otherwise. */
  readonly weightDtypeNote: string | null;
  /** The row reductions use subgroup operations. */
  readonly subgroups: boolean;
  /** Products with few tiles are split along K (splitKPlan); false runs them whole, for A/B timings. */
  splitK = true;
  /**
   * Attention's dk and dv run a workgroup per query head and then sum the group's heads, where
   * query heads share kv heads (attentionDkDvWgsl); false walks a group's heads in one workgroup, for A/B timings.
   */
  dkdvPerHead = true;
  /** The matmul kernels read the next step of K while multiplying the current one; false reads it after, for A/B timings. */
  matmulPrefetch = true;
  readonly #pool: BufferPool;
  readonly #queue: KernelQueue;
  /** Bound where a kernel's optional input (attention's keyBias) is absent. */
  readonly #dummy: GPUBuffer;
  /**
   * Bound where a kernel's optional outputs are absent, one each: WebGPU refuses a buffer bound
   * writable twice in a dispatch, or bound read-only and writable (so #dummy cannot serve).
   */
  readonly #dummyOut: GPUBuffer[];
  #destroyed = false;

  constructor(readonly device: GPUDevice, readonly adapter: AdapterReport, options: WebGpuBackendOptions = {}) {
    this.halfStorage = adapter.shaderF16;
    const wantHalf = options.weightDtype === 'f16';
    this.weightDtype = wantHalf && this.halfStorage ? 'f16' : 'f32';
    this.weightDtypeNote = wantHalf && !this.halfStorage
      ? `f16 weights were asked for, but the WebGPU adapter (${describeAdapter(adapter)}) lacks shader-f16: frozen weights stay f32`
      : null;
    this.subgroups = (options.subgroups ?? true) && adapter.subgroups;
    this.#pool = new BufferPool(device, device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
    this.#queue = new KernelQueue(device, batchLimitOf(options));
    this.#dummy = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    this.#dummyOut = [0, 1].map(() => device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE }));
  }

  /** Opens a device on `gpu` (navigator.gpu, or dawn.node's); null when no adapter exists. */
  static async create(gpu: GPU, options: GpuOpenOptions & WebGpuBackendOptions = {}): Promise<WebGpuBackend | null> {
    batchLimitOf(options); // refused before a device is opened
    const opened = await openDevice(gpu, options);
    return opened ? new WebGpuBackend(opened.device, opened.report, options) : null;
  }

  /**
   * Times each kernel on the device (timestamp queries, a pass per dispatch; see queue.ts), for
   * finding where a step's device time goes. Throws where the device lacks `timestamp-query`.
   */
  set profileKernels(on: boolean) {
    this.#alive('profileKernels');
    this.#queue.profile = on;
  }

  get profileKernels(): boolean {
    return this.#queue.profile;
  }

  /** Each pipeline's dispatches and device milliseconds since the last call, slowest first. */
  takeKernelProfile(): Promise<KernelTime[]> {
    return this.#queue.takeProfile();
  }

  // --- memory -------------------------------------------------------------------------------

  alloc(byteLength: number): DeviceBuffer {
    this.#alive('alloc');
    return this.#pool.alloc(byteLength, 'alloc');
  }

  free(buf: DeviceBuffer): void {
    this.#pool.free(this.#buf(buf, 'free'));
  }

  write(buf: DeviceBuffer, data: Float32Array | Int32Array | Uint16Array, offset = 0): void {
    const g = this.#buf(buf, 'write');
    const size = data.BYTES_PER_ELEMENT;
    if (size === 2) this.#half('write');
    if (offset < 0 || (offset + data.length) * size > g.byteLength) {
      throw new Error(`write: ${data.length} elements at offset ${offset} overflow a ${g.byteLength}-byte buffer`);
    }
    if (data.length === 0) return;
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (size === 2) {
      // writeBuffer moves whole 4-byte words: an odd f16 offset would clobber its neighbour.
      if (offset % 2 !== 0) throw new Error(`write: f16 data must start at an even element, not ${offset}`);
      if (bytes.length % 4 !== 0) {
        // The buffer's size is a multiple of 4, so the padding element lands inside it (and is zeroed).
        const padded = new Uint8Array(bytes.length + 2);
        padded.set(bytes);
        bytes = padded;
      }
    }
    // queue.writeBuffer runs at once on the queue timeline, so recorded kernels go first.
    this.#queue.flush();
    this.device.queue.writeBuffer(g.gpu, offset * size, bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async read(buf: DeviceBuffer, dtype: DType, offset: number, length: number): Promise<Float32Array | Int32Array> {
    const g = this.#buf(buf, 'read');
    const size = bytesPer(dtype);
    if (offset < 0 || (offset + length) * size > g.byteLength) throw new Error(`read: ${length} elements at offset ${offset} outside a ${g.byteLength}-byte buffer`);
    if (dtype === 'f16') {
      this.#half('read');
      // Copies move whole 4-byte words: read the words around the range, then widen on the host.
      const first = Math.floor(offset / 2) * 2;
      const end = Math.ceil((offset + length) / 2) * 2;
      const bytes = await this.#queue.read(g.gpu, first * 2, (end - first) * 2);
      return f16ArrayToF32(new Uint16Array(bytes, (offset - first) * 2, length));
    }
    const bytes = await this.#queue.read(g.gpu, offset * 4, length * 4);
    return dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
  }

  memoryStats(): MemoryStats {
    const p = this.#pool;
    return { bytesInUse: p.bytesInUse, peakBytesInUse: p.peakBytesInUse, bytesReserved: p.bytesReserved, liveBuffers: p.liveBuffers };
  }

  resetPeak(): void {
    this.#pool.resetPeak();
  }

  /**
   * Returns pooled (freed) buffers to the device. Recorded kernels may still bind them, so the
   * batch is submitted first (a buffer destroyed after its submit lives until that work is done).
   */
  trimPool(): void {
    this.#queue.flush();
    this.#queue.clearBindGroups();
    this.#pool.trim();
  }

  /** Bind groups made and reused by the kernel queue since the backend was opened. */
  get bindGroupStats(): { made: number; reused: number } {
    return { ...this.#queue.bindGroupStats };
  }

  /** Waits until every queued kernel has run (benchmarks). */
  async sync(): Promise<void> {
    this.#queue.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.#queue.throwErrors();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#queue.flush();
    this.#pool.destroy();
    this.#queue.destroy();
    this.#dummy.destroy();
    for (const d of this.#dummyOut) d.destroy();
    this.device.destroy();
  }

  // --- data movement ---------------------------------------------------------------------------

  fill(out: DeviceBuffer, n: number, value: number, dtype: DType): void {
    if (dtype === 'f16') throw new Error('fill: f16 buffers hold weights written from the host; fill f32 or i32');
    const bits = dtype === 'f32' ? new Uint32Array(Float32Array.of(value).buffer)[0]! : value >>> 0;
    this.#run('fill', 'fill', fillWgsl, new Params().u32(n, bits), [this.#out(out, 'fill', n)], groupsFor(n));
  }

  copyStrided(src: StridedView, dst: StridedView, shape: number[], accumulate: boolean): void {
    const op = 'copyStrided';
    const s = this.#buf(src.buf, op);
    const d = this.#buf(dst.buf, op);
    checkView(op, 'src', s, src.offset, src.strides, shape);
    checkView(op, 'dst', d, dst.offset, dst.strides, shape);
    const n = prod(shape);
    if (n === 0) return;
    this.#run(op, `copy:${accumulate}`, () => copyStridedWgsl(accumulate),
      stridedParams(op, n, shape, [src.strides, dst.strides], [src.offset, dst.offset]),
      [{ buffer: s.gpu, write: false }, { buffer: d.gpu, write: true }], groupsFor(n));
  }

  // --- element-wise ----------------------------------------------------------------------------

  unary(op: UnaryOp, x: DeviceBuffer, out: DeviceBuffer, n: number, a: number, b: number): void {
    this.#run(op, `unary:${op}`, () => unaryWgsl(op), new Params().u32(n).f32(a, b),
      [this.#in(x, op, n), this.#out(out, op, n)], groupsFor(n));
  }

  swiglu(gate: DeviceBuffer, up: DeviceBuffer, out: DeviceBuffer, n: number): void {
    const op = 'swiglu';
    this.#run(op, op, swigluWgsl, new Params().u32(n), [this.#in(gate, op, n), this.#in(up, op, n), this.#out(out, op, n)], groupsFor(n));
  }

  swigluBackward(gate: DeviceBuffer, up: DeviceBuffer, dOut: DeviceBuffer, dGate: DeviceBuffer, dUp: DeviceBuffer, n: number): void {
    const op = 'swigluBackward';
    this.#run(op, op, swigluBackwardWgsl, new Params().u32(n),
      [this.#in(gate, op, n), this.#in(up, op, n), this.#in(dOut, op, n), this.#out(dGate, op, n), this.#out(dUp, op, n)], groupsFor(n));
  }

  binary(op: BinaryOp, a: StridedView, b: StridedView, out: DeviceBuffer, shape: number[]): void {
    const n = prod(shape);
    checkView(op, 'a', this.#buf(a.buf, op), a.offset, a.strides, shape);
    checkView(op, 'b', this.#buf(b.buf, op), b.offset, b.strides, shape);
    this.#run(op, `binary:${op}`, () => binaryWgsl(op), stridedParams(op, n, shape, [a.strides, b.strides], [a.offset, b.offset]),
      [this.#in(a.buf, op, 0), this.#in(b.buf, op, 0), this.#out(out, op, n)], groupsFor(n));
  }

  where(cond: StridedView, a: StridedView, b: StridedView, out: DeviceBuffer, shape: number[]): void {
    requireZeroOffsets('where', { cond, a, b });
    const n = prod(shape);
    this.#run('where', 'where', whereWgsl, stridedParams('where', n, shape, [cond.strides, a.strides, b.strides], [0, 0]),
      [this.#in(cond.buf, 'where', 0), this.#in(a.buf, 'where', 0), this.#in(b.buf, 'where', 0), this.#out(out, 'where', n)], groupsFor(n));
  }

  // --- reductions ------------------------------------------------------------------------------

  reduce(op: ReduceOp, x: DeviceBuffer, out: DeviceBuffer, outer: number, len: number, inner: number): void {
    const bindings = [this.#in(x, op, outer * len * inner), this.#out(out, op, outer * inner)];
    const key = `reduceRow:${op}:${this.subgroups}`;
    const code = (): string => reduceRowWgsl(op, this.subgroups);
    const chunked = inner === 1 ? reduceRowChunks(outer, len) : null;
    if (chunked) {
      // Few long rows: chunks of each row first, then the chunks of each row.
      const { chunks, chunkLen } = chunked;
      this.#withScratch(outer * chunks * 4, op, (partials) => {
        this.#run(op, key, code, new Params().u32(outer, len, chunks).f32(-Infinity).u32(chunkLen),
          [bindings[0]!, this.#out(partials, op, outer * chunks)], outer * chunks);
        this.#run(op, key, code, new Params().u32(outer, chunks, 1).f32(-Infinity).u32(chunks),
          [this.#in(partials, op, outer * chunks), bindings[1]!], outer);
      });
    } else if (inner === 1) {
      this.#run(op, key, code, new Params().u32(outer, len, 1).f32(-Infinity).u32(len), bindings, outer);
    } else {
      this.#run(op, `reduce:${op}`, () => reduceStridedWgsl(op), new Params().u32(outer, len, inner).f32(-Infinity), bindings, groupsFor(outer * inner));
    }
  }

  // --- matmul ----------------------------------------------------------------------------------

  matmul(a: DeviceBuffer, b: DeviceBuffer, out: DeviceBuffer, args: MatmulArgs): void {
    const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride, accumulate } = args;
    const bHalf = args.bDtype === 'f16';
    if (bHalf) this.#half('matmul');
    const aOff = args.aOffset ?? 0;
    const bOff = args.bOffset ?? 0;
    if (batch > 65535) throw new Error(`matmul: batch ${batch} exceeds 65535`);
    const tiles: [number, number] = [Math.ceil(n / MATMUL_TILE), Math.ceil(m / MATMUL_TILE)];
    if (tiles[1] > 65535) throw new Error(`matmul: m = ${m} needs more than 65535 row tiles`);
    const inputs = [this.#in(a, 'matmul', 0), this.#in(b, 'matmul', 0)];
    const split = batch === 1 && this.splitK ? splitKPlan(m, n, k, this.device.limits.maxStorageBufferBindingSize) : null;
    if (split) {
      this.#withScratch(split.slices * m * n * 4, 'matmul', (partials) => {
        this.#run('matmul', `matmul:${transA}:${transB}:${bHalf}:splitK${this.#noPrefetch()}`, () => matmulWgsl(transA, transB, bHalf, true, this.matmulPrefetch),
          new Params().u32(m, n, k, 0, 0, aOff, bOff, 0, split.sliceK), [...inputs, this.#out(partials, 'matmul', 0)],
          [...tiles, split.slices]);
        this.#run('matmul', 'splitKSum', splitKSumWgsl, new Params().u32(m * n, split.slices, accumulate ? 1 : 0),
          [this.#in(partials, 'matmul', 0), this.#out(out, 'matmul', m * n)], groupsFor(m * n));
      });
      return;
    }
    const params = new Params().u32(m, n, k, aBatchStride, bBatchStride, aOff, bOff, accumulate ? 1 : 0);
    this.#run('matmul', `matmul:${transA}:${transB}:${bHalf}${this.#noPrefetch()}`, () => matmulWgsl(transA, transB, bHalf, false, this.matmulPrefetch), params,
      [...inputs, this.#out(out, 'matmul', batch * m * n)], [...tiles, batch]);
  }

  // --- fused routines ----------------------------------------------------------------------------

  softmax(x: DeviceBuffer, out: DeviceBuffer, rows: number, cols: number): void {
    this.#rowOp('softmax', 'softmax:false', (sub) => softmaxWgsl(false, sub), [x], out, rows, cols);
  }

  softmaxBackward(y: DeviceBuffer, dy: DeviceBuffer, dx: DeviceBuffer, rows: number, cols: number): void {
    this.#rowOp('softmaxBackward', 'softmaxBackward:false', (sub) => softmaxBackwardWgsl(false, sub), [y, dy], dx, rows, cols);
  }

  logSoftmax(x: DeviceBuffer, out: DeviceBuffer, rows: number, cols: number): void {
    this.#rowOp('logSoftmax', 'softmax:true', (sub) => softmaxWgsl(true, sub), [x], out, rows, cols);
  }

  logSoftmaxBackward(y: DeviceBuffer, dy: DeviceBuffer, dx: DeviceBuffer, rows: number, cols: number): void {
    this.#rowOp('logSoftmaxBackward', 'softmaxBackward:true', (sub) => softmaxBackwardWgsl(true, sub), [y, dy], dx, rows, cols);
  }

  embedding(table: DeviceBuffer, ids: DeviceBuffer, out: DeviceBuffer, rows: number, dim: number, tableDtype: 'f32' | 'f16' = 'f32'): void {
    const op = 'embedding';
    const t = this.#buf(table, op);
    const half = tableDtype === 'f16';
    if (half) this.#half(op);
    const vocab = dim > 0 ? Math.floor(t.byteLength / bytesPer(tableDtype) / dim) : 0;
    this.#run(op, `${op}:${half}`, () => embeddingWgsl(half), new Params().u32(rows, dim, vocab),
      [this.#in(table, op, 0), this.#in(ids, op, rows), this.#out(out, op, rows * dim)], groupsFor(rows * dim));
  }

  embeddingBackward(dOut: DeviceBuffer, ids: DeviceBuffer, dTable: DeviceBuffer, rows: number, dim: number): void {
    const op = 'embeddingBackward';
    const t = this.#buf(dTable, op);
    const vocab = dim > 0 ? Math.floor(t.byteLength / 4 / dim) : 0;
    this.#run(op, op, embeddingBackwardWgsl, new Params().u32(rows, dim, vocab),
      [this.#in(dOut, op, rows * dim), this.#in(ids, op, rows), this.#out(dTable, op, 0)], groupsFor(dim));
  }

  rmsnorm(x: DeviceBuffer, w: DeviceBuffer, out: DeviceBuffer, rstd: DeviceBuffer, rows: number, dim: number, eps: number): void {
    const op = 'rmsnorm';
    this.#run(op, `rmsnorm:${this.subgroups}`, () => rmsnormWgsl(this.subgroups), new Params().u32(rows, dim).f32(eps),
      [this.#in(x, op, rows * dim), this.#in(w, op, dim), this.#out(out, op, rows * dim), this.#out(rstd, op, rows)], rows);
  }

  rmsnormBackward(dy: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, rstd: DeviceBuffer, dx: DeviceBuffer,
    dw: DeviceBuffer, rows: number, dim: number): void {
    const op = 'rmsnormBackward';
    const params = new Params().u32(rows, dim);
    // dw first: dx may share a buffer with dy (an in-place backward), and dw reads dy.
    const { blocks, rowsPerBlock } = rmsnormDwBlocks(rows, dim);
    const dwInputs = [this.#in(dy, op, rows * dim), this.#in(x, op, rows * dim), this.#in(rstd, op, rows), this.#out(dw, op, dim)];
    const dwGrid: [number, number, number] = [Math.ceil(dim / 256), blocks, 1];
    if (blocks === 1) {
      this.#run(op, 'rmsnormDw', rmsnormDwWgsl, new Params().u32(rows, dim, rowsPerBlock, 1),
        [...dwInputs, { buffer: this.#dummyOut[0]!, write: true }], dwGrid);
    } else {
      this.#withScratch(blocks * dim * 4, op, (partials) => {
        this.#run(op, 'rmsnormDw', rmsnormDwWgsl, new Params().u32(rows, dim, rowsPerBlock, 0),
          [...dwInputs, this.#out(partials, op, blocks * dim)], dwGrid);
        this.#run(op, 'splitKSum', splitKSumWgsl, new Params().u32(dim, blocks, 1),
          [this.#in(partials, op, blocks * dim), this.#out(dw, op, dim)], groupsFor(dim));
      });
    }
    this.#run(op, `rmsnormDx:${this.subgroups}`, () => rmsnormDxWgsl(this.subgroups), params,
      [this.#in(dy, op, rows * dim), this.#in(x, op, rows * dim), this.#in(w, op, dim), this.#in(rstd, op, rows),
        this.#out(dx, op, rows * dim)], rows);
  }

  rope(x: DeviceBuffer, positions: DeviceBuffer, cos: DeviceBuffer, sin: DeviceBuffer, out: DeviceBuffer,
    rows: number, H: number, D: number, inverse: boolean): void {
    const op = 'rope';
    const n = rows * H * D;
    this.#run(op, op, ropeWgsl, new Params().u32(rows, H, D).f32(inverse ? -1 : 1),
      [this.#in(x, op, n), this.#in(positions, op, rows), this.#in(cos, op, 0), this.#in(sin, op, 0), this.#out(out, op, n)],
      groupsFor(n / 2));
  }

  attention(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, keyBias: DeviceBuffer | null, out: DeviceBuffer,
    lse: DeviceBuffer, args: AttentionArgs): void {
    const op = 'attention';
    const { B, Tq, H, D } = args;
    const [params, groups] = attentionParams(args, Math.ceil(Tq / ATTENTION_BLOCK), H, keyBias !== null);
    // One query per (batch, head), no keyStart: decoding's kernel, which spreads the keys over the workgroup.
    const decode = Tq === 1 && !args.keyStart;
    this.#run(op, `attention${decode ? 'Decode' : ''}:${D}`, () => (decode ? attentionDecodeWgsl(D) : attentionForwardWgsl(D)), params,
      [this.#in(q, op, B * Tq * H * D), this.#in(k, op, 0), this.#in(v, op, 0), this.#optionalIn(keyBias, op),
        this.#out(out, op, B * Tq * H * D), this.#out(lse, op, B * H * Tq), this.#optionalIn(args.keyStart ?? null, op)], groups);
  }

  attentionBackward(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, keyBias: DeviceBuffer | null, out: DeviceBuffer,
    lse: DeviceBuffer, dOut: DeviceBuffer, dq: DeviceBuffer, dk: DeviceBuffer, dv: DeviceBuffer, args: AttentionArgs): void {
    const op = 'attentionBackward';
    const { B, Tq, H, Hkv, D, pastLen } = args;
    const rows = B * Tq * H;
    if (rows === 0) return;
    const keyStart = args.keyStart ?? null;
    // [lse | delta], then each row's first key when there is a keyStart.
    this.#withScratch((keyStart ? 3 : 2) * rows * 4, op, (stats) => {
      this.#run(op, 'attentionStats', attentionStatsWgsl, new Params().u32(rows, Tq, H, D, rows, keyStart ? 1 : 0),
        [this.#in(out, op, rows * D), this.#in(dOut, op, rows * D), this.#in(lse, op, rows), { buffer: stats.gpu, write: true },
          this.#optionalIn(keyStart, op)],
        groupsFor(rows));
      const st: Binding = { buffer: stats.gpu, write: false };
      const [qp, qGroups] = attentionParams(args, Math.ceil(Tq / ATTENTION_BLOCK), H, keyBias !== null);
      this.#run(op, `attentionDq:${D}`, () => attentionDqWgsl(D), qp,
        [this.#in(q, op, rows * D), this.#in(k, op, 0), this.#in(v, op, 0), this.#optionalIn(keyBias, op), st,
          this.#in(dOut, op, rows * D), this.#out(dq, op, rows * D)], qGroups);
      const Tk = pastLen + Tq;
      const blocks = Math.ceil(Tk / ATTENTION_BLOCK);
      const inputs = [this.#in(q, op, rows * D), this.#in(k, op, 0), this.#in(v, op, 0), this.#optionalIn(keyBias, op), st,
        this.#in(dOut, op, rows * D)];
      const shareBytes = B * H * Tk * D * 4;
      if (H > Hkv && this.dkdvPerHead && shareBytes <= this.device.limits.maxStorageBufferBindingSize) {
        const [kp, kGroups] = attentionParams(args, blocks, H, keyBias !== null);
        this.#withScratch(shareBytes, op, (pk) => this.#withScratch(shareBytes, op, (pv) => {
          this.#run(op, `attentionDkDvPerHead:${D}`, () => attentionDkDvWgsl(D, true), kp,
            [...inputs, { buffer: pk.gpu, write: true }, { buffer: pv.gpu, write: true }], kGroups);
          const n = B * Tk * Hkv * D;
          this.#run(op, 'attentionGroupSum', attentionGroupSumWgsl, new Params().u32(n, Tk, H, Hkv, D, args.kvBatchStride),
            [{ buffer: pk.gpu, write: false }, { buffer: pv.gpu, write: false }, this.#out(dk, op, 0), this.#out(dv, op, 0)],
            groupsFor(n));
        }));
        return;
      }
      const [kp, kGroups] = attentionParams(args, blocks, Hkv, keyBias !== null);
      this.#run(op, `attentionDkDv:${D}`, () => attentionDkDvWgsl(D), kp,
        [...inputs, this.#out(dk, op, 0), this.#out(dv, op, 0)], kGroups);
    });
  }

  logprobEntropy(logits: DeviceBuffer, ids: DeviceBuffer, logp: DeviceBuffer, entropy: DeviceBuffer, lse: DeviceBuffer,
    rows: number, vocab: number, invTemperature: number): void {
    const op = 'logprobEntropy';
    this.#run(op, `${op}:${this.subgroups}`, () => logprobEntropyWgsl(this.subgroups), new Params().u32(rows, vocab).f32(invTemperature),
      [this.#in(logits, op, rows * vocab), this.#in(ids, op, rows), this.#out(logp, op, rows), this.#out(entropy, op, rows),
        this.#out(lse, op, rows)], rows);
  }

  logprobEntropyBackward(logits: DeviceBuffer, ids: DeviceBuffer, lse: DeviceBuffer, entropy: DeviceBuffer,
    dLogp: DeviceBuffer, dEntropy: DeviceBuffer, dLogits: DeviceBuffer, rows: number, vocab: number, invTemperature: number): void {
    const op = 'logprobEntropyBackward';
    this.#run(op, op, logprobEntropyBackwardWgsl, new Params().u32(rows, vocab).f32(invTemperature),
      [this.#in(logits, op, rows * vocab), this.#in(ids, op, rows), this.#in(lse, op, rows), this.#in(entropy, op, rows),
        this.#in(dLogp, op, rows), this.#in(dEntropy, op, rows), this.#out(dLogits, op, rows * vocab)], groupsFor(rows * vocab));
  }

  sample(logits: DeviceBuffer, uniforms: DeviceBuffer, tokens: DeviceBuffer, logprobs: DeviceBuffer,
    rows: number, vocab: number, args: SampleArgs): void {
    const op = 'sample';
    if (rows === 0) return;
    const greedy = args.temperature <= 0;
    const topK = args.topK > 0 && args.topK < vocab ? args.topK : 0;
    const mode = greedy ? 0 : topK === 0 && args.topP >= 1 ? 1 : 2;
    // f32 caps: a tiny temperature must not make 1/T infinite (0 * inf is NaN for the max itself).
    const invT = Math.min(greedy ? 1 : 1 / args.temperature, 3.4e38);
    const params = new Params().u32(rows, vocab, mode, topK).f32(invT, Math.min(invT * Math.LOG2E, 3.4e38), args.topP);
    this.#run(op, `${op}:${this.subgroups}`, () => sampleWgsl(this.subgroups), params,
      [this.#in(logits, op, rows * vocab), this.#in(uniforms, op, rows), this.#out(tokens, op, rows), this.#out(logprobs, op, rows)], rows);
  }

  // --- fused decoding routines ---------------------------------------------------------------

  /**
   * Where the group's tiles are few (decoding: a row or two of tiles), two dispatches: every
   * weight's product in one, split along K, then one that sums the slices and applies bias,
   * residual or swiglu. Elsewhere the plain kernels (linearGroupComposed): with tiles enough, a
   * Qwen2.5-0.5B layer's no-gradient forward over 4,096 tokens ran 4% slower on an H200 as one
   * grouped product than as a matmul per weight (docs/gpu.md), and so where the weights' dtypes
   * differ.
   */
  linearGroup(x: DeviceBuffer, weights: DeviceBuffer[], biases: (DeviceBuffer | null)[], residual: DeviceBuffer | null,
    outs: DeviceBuffer[], args: LinearGroupArgs): void {
    checkLinearGroup(weights, biases, residual, outs, args);
    const { m, k, n, wDtype, epilogue } = args;
    const total = n.reduce((a, b) => a + b, 0);
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
    const plan = this.splitK && m > 0 && wDtype.every((d) => d === wDtype[0]) ? splitKPlan(m, total, k, maxBinding) : null;
    if (!plan) {
      linearGroupComposed(this, x, weights, biases, residual, outs, args);
      return;
    }
    const op = 'linearGroup';
    const half = wDtype[0] === 'f16';
    if (half) this.#half(op);
    const { slices, sliceK } = plan;
    const tiles = n.map((w) => Math.ceil(w / MATMUL_TILE));
    const [n0, n1 = 0, n2 = 0] = n;
    this.#withScratch(slices * m * total * 4, op, (partials) => {
      this.#run(op, `linearGroupMatmul:${half}${this.#noPrefetch()}`, () => linearGroupMatmulWgsl(half, this.matmulPrefetch),
        new Params().u32(m, k, sliceK, tiles[0]!, tiles[0]! + (tiles[1] ?? 0), n0!, n1, n2),
        [this.#in(x, op, m * k), ...[0, 1, 2].map((w) => weights[w] ? this.#in(weights[w]!, op, half ? Math.ceil(n[w]! * k / 2) : n[w]! * k) : this.#optionalIn(null, op)),
          this.#out(partials, op, slices * m * total)],
        [tiles.reduce((a, b) => a + b, 0), Math.ceil(m / MATMUL_TILE), slices]);
      const swiglu = epilogue === 'swiglu';
      const inputs = [this.#in(partials, op, slices * m * total), ...[0, 1, 2].map((w) => this.#optionalIn(biases[w] ?? null, op))];
      // Absent outputs are bound to distinct dummies: WebGPU refuses one buffer bound writable twice.
      const written = swiglu ? [this.#out(outs[0]!, op, m * n0!)] : [
        residual ? this.#in(residual, op, m * n0!) : this.#optionalIn(null, op),
        ...[0, 1, 2].map((w) => outs[w] ? this.#out(outs[w]!, op, m * n[w]!) : { buffer: this.#dummyOut[w - 1]!, write: true }),
      ];
      this.#run(op, `linearEpilogue:${swiglu}`, () => linearEpilogueWgsl(swiglu),
        new Params().u32(m, slices, n0!, n1, n2, residual ? 1 : 0, ...[0, 1, 2].map((w) => (biases[w] ? 1 : 0))),
        [...inputs, ...written], groupsFor(m * (swiglu ? n0! : total)));
    });
  }

  ropeKvWrite(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, positions: DeviceBuffer, cos: DeviceBuffer, sin: DeviceBuffer,
    qOut: DeviceBuffer, kCache: DeviceBuffer, vCache: DeviceBuffer, args: RopeKvWriteArgs): void {
    checkRopeKvWrite(args);
    const { B, T, H, Hkv, D, pastLen, maxLen } = args;
    const rows = B * T;
    if (rows === 0) return;
    this.rope(q, positions, cos, sin, qOut, rows, H, D, false);
    const op = 'ropeKvWrite';
    const cache = B * maxLen * Hkv * D;
    this.#run(op, 'ropeKvCache', ropeKvCacheWgsl, new Params().u32(rows, T, Hkv, D, pastLen, maxLen),
      [this.#in(k, op, rows * Hkv * D), this.#in(v, op, rows * Hkv * D), this.#in(positions, op, rows), this.#in(cos, op, 0),
        this.#in(sin, op, 0), this.#out(kCache, op, cache), this.#out(vCache, op, cache)],
      groupsFor(rows * Hkv * D));
  }

  // --- optimizer -------------------------------------------------------------------------------

  adamw(param: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, args: AdamWArgs): void {
    const op = 'adamw';
    const { n, lr, beta1, beta2, eps, weightDecay, step } = args;
    // Bias corrections in float64 on the host, like the reference.
    const params = new Params().u32(n).f32(lr, beta1, beta2, eps, weightDecay, 1 - beta1 ** step, 1 - beta2 ** step);
    this.#run(op, op, adamwWgsl, params,
      [this.#out(param, op, n), this.#in(grad, op, n), this.#out(m, op, n), this.#out(v, op, n)], groupsFor(n));
  }

  // --- helpers ---------------------------------------------------------------------------------

  #rowOp(op: string, key: string, code: (subgroups: boolean) => string, inputs: DeviceBuffer[], out: DeviceBuffer, rows: number, cols: number): void {
    const sub = this.subgroups;
    this.#run(op, `${key}:${sub}`, () => code(sub), new Params().u32(rows, cols),
      [...inputs.map((b) => this.#in(b, op, rows * cols)), this.#out(out, op, rows * cols)], rows);
  }

  /** The pipeline-key suffix of the matmul kernels that do not prefetch. */
  #noPrefetch(): string {
    return this.matmulPrefetch ? '' : ':noPrefetch';
  }

  /**
   * Runs `queue` with a scratch buffer of `bytes` from the pool, freed when it returns: safe at once,
   * since whatever uses the buffer next is queued after the kernels `queue` recorded.
   */
  #withScratch(bytes: number, op: string, queue: (scratch: GpuBuffer) => void): void {
    const scratch = this.#pool.alloc(bytes, op);
    try {
      queue(scratch);
    } finally {
      this.#pool.free(scratch);
    }
  }

  #run(op: string, key: string, code: () => string, params: Params, bindings: Binding[], groups: number | [number, number, number]): void {
    this.#alive(op);
    const pipeline = this.#queue.pipeline(key, code, bindings.map((b) => b.write));
    this.#queue.dispatch(pipeline, params.words, bindings, groups, (bytes) => {
      const t = this.#pool.alloc(bytes, op);
      return { gpu: t.gpu, release: () => this.#pool.free(t) };
    });
  }

  /** Throws unless f16 buffers exist here. */
  #half(op: string): void {
    if (!this.halfStorage) throw new Error(`${op}: f16 buffers need the shader-f16 feature, which this WebGPU adapter (${describeAdapter(this.adapter)}) lacks`);
  }

  #alive(op: string): void {
    if (this.#destroyed) throw new Error(`${op}: the webgpu backend was destroyed`);
  }

  #buf(buf: DeviceBuffer, op: string): GpuBuffer {
    if (!(buf instanceof GpuBuffer)) throw new Error(`${op}: buffer does not belong to the webgpu backend`);
    if (buf.freed) throw new Error(`${op}: buffer used after it was freed`);
    this.#alive(op);
    return buf;
  }

  /** A read-only binding of at least `elements` elements. */
  #in(buf: DeviceBuffer, op: string, elements: number): Binding {
    return { buffer: this.#sized(buf, op, elements).gpu, write: false };
  }

  #out(buf: DeviceBuffer, op: string, elements: number): Binding {
    return { buffer: this.#sized(buf, op, elements).gpu, write: true };
  }

  /** An optional input (attention's keyBias or keyStart), or the dummy buffer bound in its place. */
  #optionalIn(buf: DeviceBuffer | null, op: string): Binding {
    return buf ? this.#in(buf, op, 0) : { buffer: this.#dummy, write: false };
  }

  #sized(buf: DeviceBuffer, op: string, elements: number): GpuBuffer {
    const g = this.#buf(buf, op);
    if (elements * 4 > g.byteLength) throw new Error(`${op}: needs ${elements} elements but the buffer holds ${g.byteLength} bytes`);
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
    if (g.byteLength > maxBinding) throw new Error(`${op}: a ${g.byteLength}-byte buffer exceeds maxStorageBufferBindingSize (${maxBinding})`);
    return g;
  }
}

function describeAdapter(a: AdapterReport): string {
  return [a.vendor, a.architecture, a.description].filter((x) => x).join(' ') || 'unnamed';
}

/** The option's kernels per submit, or a clear error for a value that is not a positive integer. */
function batchLimitOf(options: WebGpuBackendOptions): number {
  const limit = options.batchLimit ?? 64;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`WebGPU backend: batchLimit must be a positive integer, got ${limit}`);
  return limit;
}

/** Parameters for `blocks` workgroups per (batch, head) of `heads` heads (H for queries, Hkv for keys). */
function attentionParams(args: AttentionArgs, blocks: number, heads: number, hasBias: boolean): [Params, number] {
  const { B, Tq, H, Hkv, pastLen, kvBatchStride, scale } = args;
  if (H % Hkv !== 0) throw new Error(`attention: H = ${H} is not a multiple of Hkv = ${Hkv}`);
  const groups = blocks * B * heads;
  const p = new Params().u32(B, Tq, H, Hkv, pastLen, kvBatchStride).f32(scale)
    .u32(hasBias ? 1 : 0, blocks, groups, B * H * Tq, args.keyStart ? 1 : 0);
  return [p, groups];
}

/** params for the strided kernels: n, rank, two offsets, then shape and up to three stride arrays in slots of 8. */
function stridedParams(op: string, n: number, shape: number[], strides: number[][], offsets: [number, number]): Params {
  if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} exceeds ${MAX_RANK}`);
  // Rank 0 is one element.
  const s = shape.length === 0 ? [1] : shape;
  const p = new Params().u32(n, s.length).i32(...offsets).at(4).u32(...s);
  strides.forEach((st, i) => p.at(12 + 8 * i).i32(...(shape.length === 0 ? [0] : st)));
  return p;
}

/** Throws unless every element a strided view touches lies inside its buffer (the device would clamp silently). */
function checkView(op: string, name: string, buf: GpuBuffer, offset: number, strides: number[], shape: number[]): void {
  if (prod(shape) === 0) return;
  let lo = offset;
  let hi = offset;
  shape.forEach((size, d) => {
    const span = (size - 1) * strides[d]!;
    if (span < 0) lo += span;
    else hi += span;
  });
  if (lo < 0 || (hi + 1) * 4 > buf.byteLength) {
    throw new Error(`${op}: ${name} view [${lo}, ${hi}] lies outside its ${buf.byteLength}-byte buffer`);
  }
}
