/**
 * The Tensor: a view (shape, strides, offset) over a reference-counted buffer owned by a backend,
 * plus the autograd fields. Ops never consume their inputs; buffers are released by dispose() or
 * by the enclosing tidy() scope. Reading values back is explicit: data() (async) or dataSync().
 */
import type { Backend, DeviceBuffer, DType } from '../backend/backend.js';
import type { GradNode } from './autograd.js';
import { backward } from './autograd.js';
import * as ew from './ops/elementwise.js';
import * as mm from './ops/matmul.js';
import * as mv from './ops/movement.js';
import * as rd from './ops/reduce.js';
import * as fused from './ops/fused.js';
import { getBackend, tensorTag, trackTensor } from './runtime.js';
import { contiguousStrides, formatShape, numel, type Shape } from './shape.js';

/** A device buffer shared by a tensor and its views; freed when the last of them is disposed. */
export class Storage {
  refs = 0;
  constructor(readonly backend: Backend, readonly buffer: DeviceBuffer, readonly length: number) {}
}

let nextId = 1;

export class Tensor {
  readonly [tensorTag] = true;
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  readonly storage: Storage;
  /** Set by the user on leaves (parameters); set by ops on outputs that depend on such leaves. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after backward(); owned by the leaf (outlives scopes). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, while gradients are recorded. */
  node: GradNode | null = null;
  #disposed = false;

  constructor(storage: Storage, shape: Shape, dtype: DType, strides?: readonly number[], offset = 0) {
    this.storage = storage;
    this.shape = shape.slice();
    this.strides = strides ? strides.slice() : contiguousStrides(shape);
    this.offset = offset;
    this.dtype = dtype;
    storage.refs++;
    trackTensor(this);
  }

  /** A new dense tensor with uninitialised contents on `backend`. */
  static empty(shape: Shape, dtype: DType = 'f32', backend: Backend = getBackend()): Tensor {
    const n = numel(shape);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`empty: invalid shape ${formatShape(shape)}`);
    }
    if (dtype === 'f16' && !backend.halfStorage) {
      throw new Error(`empty: the ${backend.name} backend has no f16 storage (f16 weights need WebGPU with shader-f16)`);
    }
    // f16 elements are 2 bytes, rounded up to whole 4-byte words (device copies move words).
    const bytes = dtype === 'f16' ? Math.ceil(Math.max(n, 1) / 2) * 4 : Math.max(n, 1) * 4;
    const storage = new Storage(backend, backend.alloc(bytes), n);
    return new Tensor(storage, shape, dtype);
  }

  get backend(): Backend {
    return this.storage.backend;
  }

  get buffer(): DeviceBuffer {
    this.assertAlive('buffer');
    return this.storage.buffer;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return numel(this.shape);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** True when the view is dense row-major from its offset. */
  isContiguous(): boolean {
    let s = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== s) return false;
      s *= this.shape[i]!;
    }
    return true;
  }

  /** Throws, naming the op and shape, when the tensor was disposed. */
  assertAlive(op: string): void {
    if (this.#disposed) throw new Error(`${op}: tensor #${this.id} of shape ${formatShape(this.shape)} was used after dispose()`);
  }

  /**
   * Frees this view's hold on the buffer. The autograd node stays, so gradients still flow through
   * a disposed tensor; only rules that read its values would fail (with a use-after-dispose error).
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (--this.storage.refs === 0) this.storage.backend.free(this.storage.buffer);
  }

  /** Reads the values (row-major) after all queued work; a copy the caller owns. */
  async data(): Promise<Float32Array | Int32Array> {
    this.assertAlive('data');
    if (this.isContiguous()) return this.backend.read(this.storage.buffer, this.dtype, this.offset, this.size);
    const dense = mv.contiguous(this);
    try {
      return await dense.backend.read(dense.storage.buffer, dense.dtype, 0, dense.size);
    } finally {
      dense.dispose();
    }
  }

  /** Synchronous read-back; only backends that can (the CPU ones) support it. */
  dataSync(): Float32Array | Int32Array {
    this.assertAlive('dataSync');
    const read = this.backend.readSync;
    if (!read) throw new Error(`dataSync: the ${this.backend.name} backend reads asynchronously; use await tensor.data()`);
    if (this.isContiguous()) return read.call(this.backend, this.storage.buffer, this.dtype, this.offset, this.size);
    const dense = mv.contiguous(this);
    try {
      return read.call(dense.backend, dense.storage.buffer, dense.dtype, 0, dense.size);
    } finally {
      dense.dispose();
    }
  }

  /** The single value of a one-element tensor (sync read). */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor of shape ${formatShape(this.shape)} has ${this.size} elements, expected 1`);
    return this.dataSync()[0]!;
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  /** Back-propagates from this tensor (a scalar unless `grad` is given) into every leaf with requiresGrad. */
  backward(grad?: Tensor): void {
    backward(this, grad);
  }

  /** The same values with no autograd history. Shares the buffer. */
  detach(): Tensor {
    this.assertAlive('detach');
    return new Tensor(this.storage, this.shape, this.dtype, this.strides, this.offset);
  }

  // --- movement (views where possible) ---
  reshape(...shape: number[]): Tensor { return mv.reshape(this, shape); }
  transpose(dim0 = -2, dim1 = -1): Tensor { return mv.transpose(this, dim0, dim1); }
  permute(...order: number[]): Tensor { return mv.permute(this, order); }
  slice(axis: number, start: number, end: number): Tensor { return mv.slice(this, axis, start, end); }
  expand(...shape: number[]): Tensor { return mv.expand(this, shape); }
  contiguous(): Tensor { return mv.contiguous(this); }

  // --- element-wise ---
  add(other: Tensor | number): Tensor { return ew.add(this, other); }
  sub(other: Tensor | number): Tensor { return ew.sub(this, other); }
  mul(other: Tensor | number): Tensor { return ew.mul(this, other); }
  div(other: Tensor | number): Tensor { return ew.div(this, other); }
  maximum(other: Tensor | number): Tensor { return ew.maximum(this, other); }
  minimum(other: Tensor | number): Tensor { return ew.minimum(this, other); }
  neg(): Tensor { return ew.neg(this); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  sqrt(): Tensor { return ew.sqrt(this); }
  rsqrt(): Tensor { return ew.rsqrt(this); }
  silu(): Tensor { return ew.silu(this); }
  sigmoid(): Tensor { return ew.sigmoid(this); }
  square(): Tensor { return ew.square(this); }
  abs(): Tensor { return ew.abs(this); }
  clamp(min: number, max: number): Tensor { return ew.clamp(this, min, max); }

  // --- reductions ---
  sum(axis?: number, keepdim = false): Tensor { return rd.sum(this, axis, keepdim); }
  mean(axis?: number, keepdim = false): Tensor { return rd.mean(this, axis, keepdim); }
  max(axis?: number, keepdim = false): Tensor { return rd.max(this, axis, keepdim); }

  // --- linear algebra and fused ---
  matmul(other: Tensor): Tensor { return mm.matmul(this, other); }
  softmax(): Tensor { return fused.softmax(this); }
  logSoftmax(): Tensor { return fused.logSoftmax(this); }
}
