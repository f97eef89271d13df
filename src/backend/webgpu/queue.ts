/// <reference types="@webgpu/types" />
/**
 * Records kernels in call order and submits them in batches. The tensor layer calls kernels
 * synchronously; here each call becomes a dispatch in the batch's compute pass (WebGPU orders the
 * dispatches of a pass and makes each one's writes visible to the next), with its parameters in a
 * 256-byte slot of a uniform chunk. The pass is ended only where a buffer copy must be recorded
 * between kernels, since a pass per kernel costs the host time that decoding, hundreds of small
 * kernels per token, cannot spare. The batch is submitted when a host write or a
 * read needs queue order (queue.writeBuffer would otherwise overtake encoded kernels), or every
 * `batchLimit` kernels so the device starts working early. `read` resolves after every earlier
 * kernel because its copy is submitted after them on the one queue.
 *
 * Bind groups are made once and kept: pipelines share explicit layouts by their bindings' access
 * (read-only or writable), the parameter slot is a dynamic offset into its chunk, so a bind group
 * is named by its layout, chunk and buffers, and decoding, which binds the same pooled buffers
 * step after step, finds nearly all of them made. (Making one cost 51 of the 70 µs a dispatch took
 * to issue on lavapipe, 2026-12-04.) The cache is cleared when the pool destroys buffers.
 *
 * Profiling (`profile`, where the device has `timestamp-query`): each dispatch gets a pass of its
 * own whose start and end write timestamps, resolved and read back with each batch, and summed by
 * pipeline. A pass per kernel adds the host and device cost that the shared pass avoids, so the
 * sums say which kernels take the device's time, not how long a step takes unprofiled.
 */
import { PARAM_WORDS } from './wgsl/common.js';

const SLOT_BYTES = PARAM_WORDS * 4;
const CHUNK_SLOTS = 256;
/** Workgroups per grid dimension (the WebGPU default limit); larger dispatches become 2-D. */
const MAX_GROUPS = 65535;
/** Bind groups kept before the cache starts afresh (training binds ever new buffer combinations). */
const MAX_BIND_GROUPS = 8192;

export interface Binding {
  buffer: GPUBuffer;
  /** Bound read_write in the shader. */
  write: boolean;
}

/** A kernel's device time while profiling: its pipeline, dispatches and summed milliseconds. */
export interface KernelTime {
  kernel: string;
  count: number;
  ms: number;
}

/** A bind group layout and the pipeline layout of it, shared by kernels whose bindings' access matches. */
interface Layout {
  /** One letter a storage binding, from binding 1: r read-only, w writable. */
  signature: string;
  group: GPUBindGroupLayout;
  pipeline: GPUPipelineLayout;
}

interface Chunk {
  gpu: GPUBuffer;
  host: Uint32Array;
}

export class KernelQueue {
  #pipelines = new Map<string, GPUComputePipeline>();
  #layouts = new Map<string, Layout>();
  #pipelineLayouts = new WeakMap<GPUComputePipeline, Layout>();
  #bindGroups = new Map<string, GPUBindGroup>();
  #bufferIds = new WeakMap<GPUBuffer, number>();
  #nextBufferId = 0;
  /** Bind groups made and found made (tests, probes). */
  readonly bindGroupStats = { made: 0, reused: 0 };
  #chunks: Chunk[] = [];
  /** Slots used in the current batch (across chunks). */
  #slots = 0;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pending = 0;
  #errors: string[] = [];
  #profile: {
    querySet: GPUQuerySet;
    resolve: GPUBuffer;
    /** The batch's profiled dispatches, by pipeline label, in order. */
    labels: string[];
    totals: Map<string, { count: number; ns: number }>;
    reads: Promise<void>[];
  } | null = null;

  constructor(readonly device: GPUDevice, readonly batchLimit = 64) {
    // Validation errors surface asynchronously; keep them and throw them at the next read.
    device.addEventListener('uncapturederror', (e) => {
      this.#errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
  }

  /** Turns per-kernel timing on or off (see the file comment); throws where the device lacks `timestamp-query`. */
  set profile(on: boolean) {
    if (on === (this.#profile !== null)) return;
    this.flush();
    if (!on) {
      this.#profile!.querySet.destroy();
      this.#profile!.resolve.destroy();
      this.#profile = null;
      return;
    }
    if (!this.device.features.has('timestamp-query')) throw new Error('kernel profiling needs the timestamp-query feature, which this WebGPU device lacks');
    const count = 2 * this.batchLimit;
    this.#profile = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count }),
      resolve: this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
      labels: [], totals: new Map(), reads: [],
    };
  }

  get profile(): boolean {
    return this.#profile !== null;
  }

  /** The device time of each pipeline since the last call, slowest first (empty when not profiling). */
  async takeProfile(): Promise<KernelTime[]> {
    const p = this.#profile;
    if (!p) return [];
    this.flush();
    await Promise.all(p.reads);
    p.reads = [];
    const out = [...p.totals].map(([kernel, t]) => ({ kernel, count: t.count, ms: t.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
    p.totals = new Map();
    return out;
  }

  /**
   * The kernel `key` (compiled once), laid out for bindings of the given access: `writes[i]` is
   * true where storage binding i + 1 is read_write in its WGSL.
   */
  pipeline(key: string, code: () => string, writes: boolean[]): GPUComputePipeline {
    const signature = writes.map((w) => (w ? 'w' : 'r')).join('');
    let p = this.#pipelines.get(key);
    if (!p) {
      const layout = this.#layout(signature);
      const module = this.device.createShaderModule({ code: code(), label: key });
      p = this.device.createComputePipeline({ layout: layout.pipeline, compute: { module, entryPoint: 'main' }, label: key });
      this.#pipelines.set(key, p);
      this.#pipelineLayouts.set(p, layout);
    } else if (this.#pipelineLayouts.get(p)!.signature !== signature) {
      throw new Error(`kernel ${key}: bound as ${signature}, but made for ${this.#pipelineLayouts.get(p)!.signature} (r read-only, w writable)`);
    }
    return p;
  }

  #layout(signature: string): Layout {
    let layout = this.#layouts.get(signature);
    if (!layout) {
      const group = this.device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: SLOT_BYTES } },
          ...[...signature].map((c, i) => ({
            binding: i + 1, visibility: GPUShaderStage.COMPUTE,
            buffer: { type: c === 'w' ? 'storage' as const : 'read-only-storage' as const },
          })),
        ],
      });
      layout = { signature, group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }) };
      this.#layouts.set(signature, layout);
    }
    return layout;
  }

  /** Forgets every bind group made (before buffers they bind are destroyed). */
  clearBindGroups(): void {
    this.#bindGroups.clear();
  }

  #bindGroup(layout: Layout, chunk: number, buffers: GPUBuffer[]): GPUBindGroup {
    let key = `${layout.signature}|${chunk}`;
    for (const b of buffers) {
      let id = this.#bufferIds.get(b);
      if (id === undefined) this.#bufferIds.set(b, (id = this.#nextBufferId++));
      key += `|${id}`;
    }
    let group = this.#bindGroups.get(key);
    if (group) {
      this.bindGroupStats.reused++;
      return group;
    }
    if (this.#bindGroups.size >= MAX_BIND_GROUPS) this.#bindGroups.clear();
    group = this.device.createBindGroup({
      layout: layout.group,
      entries: [{ binding: 0, resource: { buffer: this.#chunks[chunk]!.gpu, offset: 0, size: SLOT_BYTES } },
        ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } }))],
    });
    this.#bindGroups.set(key, group);
    this.bindGroupStats.made++;
    return group;
  }

  /** The batch's command encoder, for commands outside compute passes (copies): ends the open pass. */
  get encoder(): GPUCommandEncoder {
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    return this.#encoder;
  }

  #computePass(): GPUComputePassEncoder {
    this.#pass ??= (this.#encoder ??= this.device.createCommandEncoder()).beginComputePass();
    return this.#pass;
  }

  /** A pass of its own for one profiled dispatch, writing timestamps at its start and end. */
  #timedPass(label: string): GPUComputePassEncoder {
    const p = this.#profile!;
    this.#endPass();
    const i = p.labels.push(label) - 1;
    this.#pass = (this.#encoder ??= this.device.createCommandEncoder()).beginComputePass({
      timestampWrites: { querySet: p.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
    return this.#pass;
  }

  /**
   * Resolves the batch's timestamps into a buffer the host reads once the batch has run; returns
   * what starts that read, to be called after the submit (a buffer being mapped cannot be submitted).
   */
  #resolveProfile(encoder: GPUCommandEncoder): (() => void) | null {
    const p = this.#profile;
    if (!p || p.labels.length === 0) return null;
    const bytes = p.labels.length * 16;
    encoder.resolveQuerySet(p.querySet, 0, 2 * p.labels.length, p.resolve, 0);
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(p.resolve, 0, staging, 0, bytes);
    const labels = p.labels;
    p.labels = [];
    return () => p.reads.push(staging.mapAsync(GPUMapMode.READ).then(() => {
      const t = new BigUint64Array(staging.getMappedRange(0, bytes));
      labels.forEach((label, i) => {
        const total = p.totals.get(label) ?? { count: 0, ns: 0 };
        // Timestamps may not be monotonic across passes on every device: a negative span counts as 0.
        total.ns += t[2 * i + 1]! > t[2 * i]! ? Number(t[2 * i + 1]! - t[2 * i]!) : 0;
        total.count++;
        p.totals.set(label, total);
      });
      staging.unmap();
    }).finally(() => staging.destroy()));
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  /**
   * Queues one dispatch of `groups` workgroups (a count, split into a 2-D grid past 65535, or an
   * explicit [x, y, z] grid). Inputs that alias an output are bound through a temporary copy,
   * since WebGPU forbids one buffer being bound writable and read-only in the same dispatch.
   */
  dispatch(pipeline: GPUComputePipeline, params: Uint32Array, bindings: Binding[], groups: number | [number, number, number],
    temp: (bytes: number) => { gpu: GPUBuffer; release: () => void }): void {
    const grid = typeof groups === 'number' ? splitGrid(groups) : groups;
    if (grid[0] === 0 || grid[1] === 0 || grid[2] === 0) return;
    const slot = this.#slot(params);
    const releases: (() => void)[] = [];
    const written = new Set(bindings.filter((b) => b.write).map((b) => b.buffer));
    const buffers = bindings.map((b) => {
      if (b.write || !written.has(b.buffer)) return b.buffer;
      const t = temp(b.buffer.size);
      this.encoder.copyBufferToBuffer(b.buffer, 0, t.gpu, 0, b.buffer.size);
      releases.push(t.release);
      return t.gpu;
    });
    const bindGroup = this.#bindGroup(this.#pipelineLayouts.get(pipeline)!, slot.chunk, buffers);
    const pass = this.#profile ? this.#timedPass(pipeline.label) : this.#computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup, [slot.offset]);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    if (this.#profile) this.#endPass();
    for (const r of releases) r();
    if (++this.#pending >= this.batchLimit) this.flush();
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    const used = this.#slots;
    for (let c = 0; c * CHUNK_SLOTS < used; c++) {
      const n = Math.min(CHUNK_SLOTS, used - c * CHUNK_SLOTS);
      const chunk = this.#chunks[c]!;
      this.device.queue.writeBuffer(chunk.gpu, 0, chunk.host.buffer, 0, n * SLOT_BYTES);
    }
    const readProfile = this.#resolveProfile(this.#encoder);
    this.device.queue.submit([this.#encoder.finish()]);
    readProfile?.();
    this.#encoder = null;
    this.#pending = 0;
    this.#slots = 0;
  }

  /** Copies `bytes` from `src` at byte `offset` to the host after all queued work. */
  async read(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({ size: Math.max(4, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    if (bytes > 0) this.encoder.copyBufferToBuffer(src, offset, staging, 0, bytes);
    this.#pending++;
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const out = staging.getMappedRange(0, bytes).slice(0);
      staging.unmap();
      this.throwErrors();
      return out;
    } finally {
      staging.destroy();
    }
  }

  throwErrors(): void {
    if (this.#errors.length === 0) return;
    const first = this.#errors[0]!;
    const more = this.#errors.length - 1;
    this.#errors = [];
    throw new Error(`WebGPU error: ${first}${more > 0 ? ` (and ${more} more)` : ''}`);
  }

  #slot(params: Uint32Array): { chunk: number; offset: number } {
    const c = Math.floor(this.#slots / CHUNK_SLOTS);
    const s = this.#slots % CHUNK_SLOTS;
    if (c === this.#chunks.length) {
      this.#chunks.push({
        gpu: this.device.createBuffer({ size: CHUNK_SLOTS * SLOT_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
        host: new Uint32Array(CHUNK_SLOTS * PARAM_WORDS),
      });
    }
    const chunk = this.#chunks[c]!;
    chunk.host.set(params, s * PARAM_WORDS);
    this.#slots++;
    return { chunk: c, offset: s * SLOT_BYTES };
  }

  destroy(): void {
    if (this.#profile) {
      this.#profile.querySet.destroy();
      this.#profile.resolve.destroy();
      this.#profile = null;
    }
    for (const c of this.#chunks) c.gpu.destroy();
    this.#chunks = [];
    this.#pipelines.clear();
    this.#bindGroups.clear();
    this.#layouts.clear();
    this.#pass = null;
    this.#encoder = null;
  }
}

export function splitGrid(groups: number): [number, number, number] {
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  if (y > MAX_GROUPS) throw new Error(`dispatch of ${groups} workgroups is too large`);
  return [MAX_GROUPS, y, 1];
}
