/**
 * The reference backend: every kernel of the Backend contract as plain TypeScript loops over
 * Float32Arrays, accumulating in float64. It defines what each kernel means; the WebAssembly and
 * WebGPU backends are tested against it. Speed is not a goal here.
 */
import type {
  AdamWArgs, AttentionArgs, Backend, BinaryOp, DeviceBuffer, DType, LinearGroupArgs, MatmulArgs, MemoryStats, ReduceOp, RopeKvWriteArgs,
  SampleArgs, StridedView, UnaryOp,
} from '../backend.js';
import { linearGroupComposed, ropeKvWriteComposed } from '../composed.js';
import { requireZeroOffsets } from '../views.js';
import { forEachIndex, host, HostBuffer, view } from './buffers.js';
import { sampleRow, uniformFromBits } from './sample.js';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

const unaryFns: { [K in UnaryOp]: (x: number, a: number, b: number) => number } = {
  neg: (x) => -x,
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  silu: (x) => x * sigmoid(x),
  sigmoid,
  abs: (x) => Math.abs(x),
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  siluGrad: (x) => {
    const s = sigmoid(x);
    return s * (1 + x * (1 - s));
  },
  affine: (x, a, b) => a * x + b,
  clamp: (x, a, b) => Math.min(Math.max(x, a), b),
  inRange: (x, a, b) => (x >= a && x <= b ? 1 : 0),
};

/** What storing a value into `a` does to it: f32 rounding, or nothing for float64 storage. */
const storeRounding = (a: ArrayLike<number>): ((x: number) => number) => (a instanceof Float32Array ? Math.fround : (x) => x);

const binaryFns: { [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: (a, b) => (a >= b ? a : b),
  minimum: (a, b) => (a <= b ? a : b),
  eq: (a, b) => (a === b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

export interface ReferenceOptions {
  /** Hold every element as a float64 (gradient checks); reads still return f32/i32 arrays. */
  float64?: boolean;
}

export class ReferenceBackend implements Backend {
  readonly name: string;
  readonly float64: boolean;
  #live = new Set<HostBuffer>();
  #inUse = 0;
  #peak = 0;

  constructor(options: ReferenceOptions = {}) {
    this.float64 = options.float64 ?? false;
    this.name = this.float64 ? 'reference-f64' : 'reference';
  }

  alloc(byteLength: number): DeviceBuffer {
    if (!Number.isInteger(byteLength) || byteLength < 0) throw new Error(`alloc: invalid byte length ${byteLength}`);
    const buf = new HostBuffer(byteLength, this.float64);
    this.#live.add(buf);
    this.#inUse += buf.byteLength;
    this.#peak = Math.max(this.#peak, this.#inUse);
    return buf;
  }

  free(buf: DeviceBuffer): void {
    const h = host(buf, 'free');
    h.freed = true;
    this.#live.delete(h);
    this.#inUse -= h.byteLength;
  }

  write(buf: DeviceBuffer, data: Float32Array | Int32Array, offset = 0): void {
    const h = host(buf, 'write');
    if ((offset + data.length) * 4 > h.byteLength) throw new Error(`write: ${data.length} elements at offset ${offset} overflow a ${h.byteLength}-byte buffer`);
    (data instanceof Float32Array ? h.f32 : h.i32).set(data, offset);
  }

  readSync(buf: DeviceBuffer, dtype: DType, offset: number, length: number): Float32Array | Int32Array {
    const src = view(buf, dtype, 'read').subarray(offset, offset + length);
    return dtype === 'f32' ? Float32Array.from(src) : Int32Array.from(src);
  }

  /** The values at full precision (float64 mode), for gradient checks. */
  readF64(buf: DeviceBuffer, offset: number, length: number): Float64Array {
    return Float64Array.from(host(buf, 'readF64').f32.subarray(offset, offset + length));
  }

  read(buf: DeviceBuffer, dtype: DType, offset: number, length: number): Promise<Float32Array | Int32Array> {
    return Promise.resolve(this.readSync(buf, dtype, offset, length));
  }

  memoryStats(): MemoryStats {
    return { bytesInUse: this.#inUse, peakBytesInUse: this.#peak, bytesReserved: this.#inUse, liveBuffers: this.#live.size };
  }

  resetPeak(): void {
    this.#peak = this.#inUse;
  }

  destroy(): void {
    for (const b of this.#live) b.freed = true;
    this.#live.clear();
    this.#inUse = 0;
  }

  fill(out: DeviceBuffer, n: number, value: number, dtype: DType): void {
    view(out, dtype, 'fill').fill(value, 0, n);
  }

  copyStrided(src: StridedView, dst: StridedView, shape: number[], accumulate: boolean): void {
    const s = host(src.buf, 'copyStrided');
    const d = host(dst.buf, 'copyStrided');
    const strides = [src.strides, dst.strides];
    const offsets = [src.offset, dst.offset];
    if (accumulate) {
      forEachIndex(shape, strides, offsets, (_, p) => { d.f32[p[1]!]! += s.f32[p[0]!]!; });
    } else {
      forEachIndex(shape, strides, offsets, (_, p) => { d.i32[p[1]!] = s.i32[p[0]!]!; });
    }
  }

  unary(op: UnaryOp, x: DeviceBuffer, out: DeviceBuffer, n: number, a: number, b: number): void {
    const xs = host(x, op).f32;
    const os = host(out, op).f32;
    const fn = unaryFns[op];
    for (let i = 0; i < n; i++) os[i] = fn(xs[i]!, a, b);
  }

  swiglu(gate: DeviceBuffer, up: DeviceBuffer, out: DeviceBuffer, n: number): void {
    const g = host(gate, 'swiglu').f32, u = host(up, 'swiglu').f32, o = host(out, 'swiglu').f32;
    // Each step rounded as the unary and binary kernels store it (to f32, or not in float64 mode):
    // their result, bit for bit.
    const r = storeRounding(o);
    for (let i = 0; i < n; i++) o[i] = r(unaryFns.silu(g[i]!, 0, 0)) * u[i]!;
  }

  swigluBackward(gate: DeviceBuffer, up: DeviceBuffer, dOut: DeviceBuffer, dGate: DeviceBuffer, dUp: DeviceBuffer, n: number): void {
    const op = 'swigluBackward';
    const g = host(gate, op).f32, u = host(up, op).f32, d = host(dOut, op).f32;
    const dg = host(dGate, op).f32, du = host(dUp, op).f32;
    const r = storeRounding(dg);
    for (let i = 0; i < n; i++) {
      dg[i] = r(d[i]! * u[i]!) * r(unaryFns.siluGrad(g[i]!, 0, 0));
      du[i] = d[i]! * r(unaryFns.silu(g[i]!, 0, 0));
    }
  }

  binary(op: BinaryOp, a: StridedView, b: StridedView, out: DeviceBuffer, shape: number[]): void {
    const as = host(a.buf, op).f32;
    const bs = host(b.buf, op).f32;
    const os = host(out, op).f32;
    const fn = binaryFns[op];
    forEachIndex(shape, [a.strides, b.strides], [a.offset, b.offset], (i, p) => { os[i] = fn(as[p[0]!]!, bs[p[1]!]!); });
  }

  where(cond: StridedView, a: StridedView, b: StridedView, out: DeviceBuffer, shape: number[]): void {
    requireZeroOffsets('where', { cond, a, b });
    const cs = host(cond.buf, 'where').f32;
    const as = host(a.buf, 'where').f32;
    const bs = host(b.buf, 'where').f32;
    const os = host(out, 'where').f32;
    forEachIndex(shape, [cond.strides, a.strides, b.strides], [0, 0, 0], (i, p) => {
      os[i] = cs[p[0]!] !== 0 ? as[p[1]!]! : bs[p[2]!]!;
    });
  }

  reduce(op: ReduceOp, x: DeviceBuffer, out: DeviceBuffer, outer: number, len: number, inner: number): void {
    const xs = host(x, op).f32;
    const os = host(out, op).f32;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = op === 'sum' ? 0 : -Infinity;
        for (let l = 0; l < len; l++) {
          const v = xs[(o * len + l) * inner + i]!;
          acc = op === 'sum' ? acc + v : Math.max(acc, v);
        }
        os[o * inner + i] = acc;
      }
    }
  }

  matmul(a: DeviceBuffer, b: DeviceBuffer, out: DeviceBuffer, args: MatmulArgs): void {
    const as = host(a, 'matmul').f32;
    const bs = host(b, 'matmul').f32;
    const os = host(out, 'matmul').f32;
    const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride, accumulate } = args;
    const aOff = args.aOffset ?? 0;
    const bOff = args.bOffset ?? 0;
    for (let t = 0; t < batch; t++) {
      const ab = aOff + t * aBatchStride;
      const bb = bOff + t * bBatchStride;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let p = 0; p < k; p++) {
            const av = as[ab + (transA ? p * m + i : i * k + p)]!;
            const bv = bs[bb + (transB ? j * k + p : p * n + j)]!;
            acc += av * bv;
          }
          const o = (t * m + i) * n + j;
          os[o] = accumulate ? os[o]! + acc : acc;
        }
      }
    }
  }

  softmax(x: DeviceBuffer, out: DeviceBuffer, rows: number, cols: number): void {
    const xs = host(x, 'softmax').f32;
    const os = host(out, 'softmax').f32;
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      const lse = logSumExp(xs, base, cols, 1);
      for (let c = 0; c < cols; c++) os[base + c] = Math.exp(xs[base + c]! - lse);
    }
  }

  softmaxBackward(y: DeviceBuffer, dy: DeviceBuffer, dx: DeviceBuffer, rows: number, cols: number): void {
    const ys = host(y, 'softmaxBackward').f32;
    const dys = host(dy, 'softmaxBackward').f32;
    const dxs = host(dx, 'softmaxBackward').f32;
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += dys[base + c]! * ys[base + c]!;
      for (let c = 0; c < cols; c++) dxs[base + c] = ys[base + c]! * (dys[base + c]! - dot);
    }
  }

  logSoftmax(x: DeviceBuffer, out: DeviceBuffer, rows: number, cols: number): void {
    const xs = host(x, 'logSoftmax').f32;
    const os = host(out, 'logSoftmax').f32;
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      const lse = logSumExp(xs, base, cols, 1);
      for (let c = 0; c < cols; c++) os[base + c] = xs[base + c]! - lse;
    }
  }

  logSoftmaxBackward(y: DeviceBuffer, dy: DeviceBuffer, dx: DeviceBuffer, rows: number, cols: number): void {
    const ys = host(y, 'logSoftmaxBackward').f32;
    const dys = host(dy, 'logSoftmaxBackward').f32;
    const dxs = host(dx, 'logSoftmaxBackward').f32;
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += dys[base + c]!;
      for (let c = 0; c < cols; c++) dxs[base + c] = dys[base + c]! - Math.exp(ys[base + c]!) * sum;
    }
  }

  embedding(table: DeviceBuffer, ids: DeviceBuffer, out: DeviceBuffer, rows: number, dim: number): void {
    const ts = host(table, 'embedding').f32;
    const is = host(ids, 'embedding').i32;
    const os = host(out, 'embedding').f32;
    const vocab = Math.floor(ts.length / dim);
    for (let r = 0; r < rows; r++) {
      const id = is[r]!;
      if (id < 0 || id >= vocab) throw new Error(`embedding: token id ${id} at row ${r} is outside [0, ${vocab})`);
      os.set(ts.subarray(id * dim, id * dim + dim), r * dim);
    }
  }

  embeddingBackward(dOut: DeviceBuffer, ids: DeviceBuffer, dTable: DeviceBuffer, rows: number, dim: number): void {
    const ds = host(dOut, 'embeddingBackward').f32;
    const is = host(ids, 'embeddingBackward').i32;
    const ts = host(dTable, 'embeddingBackward').f32;
    for (let r = 0; r < rows; r++) {
      const base = is[r]! * dim;
      for (let c = 0; c < dim; c++) ts[base + c]! += ds[r * dim + c]!;
    }
  }

  rmsnorm(x: DeviceBuffer, w: DeviceBuffer, out: DeviceBuffer, rstd: DeviceBuffer, rows: number, dim: number, eps: number): void {
    const xs = host(x, 'rmsnorm').f32;
    const ws = host(w, 'rmsnorm').f32;
    const os = host(out, 'rmsnorm').f32;
    const rs = host(rstd, 'rmsnorm').f32;
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let c = 0; c < dim; c++) ss += xs[r * dim + c]! ** 2;
      const inv = 1 / Math.sqrt(ss / dim + eps);
      rs[r] = inv;
      for (let c = 0; c < dim; c++) os[r * dim + c] = xs[r * dim + c]! * inv * ws[c]!;
    }
  }

  rmsnormBackward(dy: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, rstd: DeviceBuffer, dx: DeviceBuffer,
    dw: DeviceBuffer, rows: number, dim: number): void {
    const dys = host(dy, 'rmsnormBackward').f32;
    const xs = host(x, 'rmsnormBackward').f32;
    const ws = host(w, 'rmsnormBackward').f32;
    const rs = host(rstd, 'rmsnormBackward').f32;
    const dxs = host(dx, 'rmsnormBackward').f32;
    const dws = host(dw, 'rmsnormBackward').f32;
    for (let r = 0; r < rows; r++) {
      const inv = rs[r]!;
      // y = x*inv*w; dx = inv*(dy*w) - x * inv^3 * mean(dy*w*x)
      let dot = 0;
      for (let c = 0; c < dim; c++) dot += dys[r * dim + c]! * ws[c]! * xs[r * dim + c]!;
      const coef = (inv * inv * inv * dot) / dim;
      for (let c = 0; c < dim; c++) {
        const i = r * dim + c;
        dxs[i] = inv * dys[i]! * ws[c]! - xs[i]! * coef;
        dws[c]! += dys[i]! * xs[i]! * inv;
      }
    }
  }

  rope(x: DeviceBuffer, positions: DeviceBuffer, cos: DeviceBuffer, sin: DeviceBuffer, out: DeviceBuffer,
    rows: number, H: number, D: number, inverse: boolean): void {
    const xs = host(x, 'rope').f32;
    const ps = host(positions, 'rope').i32;
    const cs = host(cos, 'rope').f32;
    const ss = host(sin, 'rope').f32;
    const os = host(out, 'rope').f32;
    const half = D / 2;
    for (let r = 0; r < rows; r++) {
      const pos = ps[r]!;
      for (let h = 0; h < H; h++) {
        const base = (r * H + h) * D;
        for (let j = 0; j < half; j++) {
          const c = cs[pos * half + j]!;
          const s = inverse ? -ss[pos * half + j]! : ss[pos * half + j]!;
          const x1 = xs[base + j]!;
          const x2 = xs[base + j + half]!;
          os[base + j] = x1 * c - x2 * s;
          os[base + j + half] = x2 * c + x1 * s;
        }
      }
    }
  }

  attention(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, keyBias: DeviceBuffer | null, out: DeviceBuffer,
    lse: DeviceBuffer, args: AttentionArgs): void {
    const qs = host(q, 'attention').f32;
    const ks = host(k, 'attention').f32;
    const vs = host(v, 'attention').f32;
    const bs = keyBias ? host(keyBias, 'attention').f32 : null;
    const os = host(out, 'attention').f32;
    const ls = host(lse, 'attention').f32;
    const { B, Tq, H, Hkv, D, pastLen, kvBatchStride, scale } = args;
    const group = H / Hkv;
    const Tk = pastLen + Tq;
    const first = keyStarts(args, 'attention');
    const scores = new Float64Array(Tk);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / group);
        for (let i = 0; i < Tq; i++) {
          const qBase = ((b * Tq + i) * H + h) * D;
          const limit = pastLen + i;
          const j0 = first(b, i);
          let max = -Infinity;
          for (let j = j0; j <= limit; j++) {
            const kBase = b * kvBatchStride + (j * Hkv + kh) * D;
            let dot = 0;
            for (let d = 0; d < D; d++) dot += qs[qBase + d]! * ks[kBase + d]!;
            scores[j] = dot * scale + (bs ? bs[b * Tk + j]! : 0);
            max = Math.max(max, scores[j]!);
          }
          let sum = 0;
          for (let j = j0; j <= limit; j++) sum += Math.exp(scores[j]! - max);
          const l = max + Math.log(sum);
          ls[(b * H + h) * Tq + i] = l;
          for (let d = 0; d < D; d++) {
            let acc = 0;
            for (let j = j0; j <= limit; j++) acc += Math.exp(scores[j]! - l) * vs[b * kvBatchStride + (j * Hkv + kh) * D + d]!;
            os[qBase + d] = acc;
          }
        }
      }
    }
  }

  attentionBackward(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, keyBias: DeviceBuffer | null, out: DeviceBuffer,
    lse: DeviceBuffer, dOut: DeviceBuffer, dq: DeviceBuffer, dk: DeviceBuffer, dv: DeviceBuffer, args: AttentionArgs): void {
    const qs = host(q, 'attentionBackward').f32;
    const ks = host(k, 'attentionBackward').f32;
    const vs = host(v, 'attentionBackward').f32;
    const bs = keyBias ? host(keyBias, 'attentionBackward').f32 : null;
    const os = host(out, 'attentionBackward').f32;
    const ls = host(lse, 'attentionBackward').f32;
    const dos = host(dOut, 'attentionBackward').f32;
    const dqs = host(dq, 'attentionBackward').f32;
    const dks = host(dk, 'attentionBackward').f32;
    const dvs = host(dv, 'attentionBackward').f32;
    const { B, Tq, H, Hkv, D, pastLen, kvBatchStride, scale } = args;
    const group = H / Hkv;
    const Tk = pastLen + Tq;
    const first = keyStarts(args, 'attentionBackward');
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / group);
        for (let i = 0; i < Tq; i++) {
          const qBase = ((b * Tq + i) * H + h) * D;
          const l = ls[(b * H + h) * Tq + i]!;
          // delta = sum_d dOut * out: the softmax backward's row dot product.
          let delta = 0;
          for (let d = 0; d < D; d++) delta += dos[qBase + d]! * os[qBase + d]!;
          for (let d = 0; d < D; d++) dqs[qBase + d] = 0;
          for (let j = first(b, i); j <= pastLen + i; j++) {
            const kBase = b * kvBatchStride + (j * Hkv + kh) * D;
            let dot = 0;
            for (let d = 0; d < D; d++) dot += qs[qBase + d]! * ks[kBase + d]!;
            const p = Math.exp(dot * scale + (bs ? bs[b * Tk + j]! : 0) - l);
            let dp = 0;
            for (let d = 0; d < D; d++) {
              dp += dos[qBase + d]! * vs[kBase + d]!;
              dvs[kBase + d]! += p * dos[qBase + d]!;
            }
            const ds = p * (dp - delta) * scale;
            for (let d = 0; d < D; d++) {
              dqs[qBase + d]! += ds * ks[kBase + d]!;
              dks[kBase + d]! += ds * qs[qBase + d]!;
            }
          }
        }
      }
    }
  }

  logprobEntropy(logits: DeviceBuffer, ids: DeviceBuffer, logp: DeviceBuffer, entropy: DeviceBuffer, lse: DeviceBuffer,
    rows: number, vocab: number, invTemperature: number): void {
    const zs = host(logits, 'logprobEntropy').f32;
    const is = host(ids, 'logprobEntropy').i32;
    const lps = host(logp, 'logprobEntropy').f32;
    const es = host(entropy, 'logprobEntropy').f32;
    const ls = host(lse, 'logprobEntropy').f32;
    for (let r = 0; r < rows; r++) {
      const base = r * vocab;
      const l = logSumExp(zs, base, vocab, invTemperature);
      let pz = 0;
      for (let c = 0; c < vocab; c++) {
        const z = zs[base + c]! * invTemperature;
        pz += Math.exp(z - l) * z;
      }
      const id = is[r]!;
      if (id < 0 || id >= vocab) throw new Error(`logprobEntropy: token id ${id} at row ${r} is outside [0, ${vocab})`);
      ls[r] = l;
      lps[r] = zs[base + id]! * invTemperature - l;
      es[r] = l - pz;
    }
  }

  logprobEntropyBackward(logits: DeviceBuffer, ids: DeviceBuffer, lse: DeviceBuffer, entropy: DeviceBuffer,
    dLogp: DeviceBuffer, dEntropy: DeviceBuffer, dLogits: DeviceBuffer, rows: number, vocab: number, invTemperature: number): void {
    const zs = host(logits, 'logprobEntropyBackward').f32;
    const is = host(ids, 'logprobEntropyBackward').i32;
    const ls = host(lse, 'logprobEntropyBackward').f32;
    const es = host(entropy, 'logprobEntropyBackward').f32;
    const dls = host(dLogp, 'logprobEntropyBackward').f32;
    const des = host(dEntropy, 'logprobEntropyBackward').f32;
    const dzs = host(dLogits, 'logprobEntropyBackward').f32;
    for (let r = 0; r < rows; r++) {
      const base = r * vocab;
      const l = ls[r]!;
      const ent = es[r]!;
      for (let c = 0; c < vocab; c++) {
        const logP = zs[base + c]! * invTemperature - l;
        const p = Math.exp(logP);
        const g = dls[r]! * ((c === is[r] ? 1 : 0) - p) - des[r]! * p * (logP + ent);
        dzs[base + c] = g * invTemperature;
      }
    }
  }

  sample(logits: DeviceBuffer, uniforms: DeviceBuffer, tokens: DeviceBuffer, logprobs: DeviceBuffer,
    rows: number, vocab: number, args: SampleArgs): void {
    const zs = host(logits, 'sample').f32;
    const us = host(uniforms, 'sample').i32;
    const ts = host(tokens, 'sample').i32;
    const lps = host(logprobs, 'sample').f32;
    for (let r = 0; r < rows; r++) {
      const { token, logprob } = sampleRow(zs, r * vocab, vocab, args, uniformFromBits(us[r]!));
      ts[r] = token;
      lps[r] = logprob;
    }
  }

  // The definition: the plain kernels in the order the tensor layer runs them unfused.
  linearGroup(x: DeviceBuffer, weights: DeviceBuffer[], biases: (DeviceBuffer | null)[], residual: DeviceBuffer | null,
    outs: DeviceBuffer[], args: LinearGroupArgs): void {
    linearGroupComposed(this, x, weights, biases, residual, outs, args);
  }

  ropeKvWrite(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, positions: DeviceBuffer, cos: DeviceBuffer, sin: DeviceBuffer,
    qOut: DeviceBuffer, kCache: DeviceBuffer, vCache: DeviceBuffer, args: RopeKvWriteArgs): void {
    ropeKvWriteComposed(this, q, k, v, positions, cos, sin, qOut, kCache, vCache, args);
  }

  adamw(param: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, args: AdamWArgs): void {
    const { n, lr, beta1, beta2, eps, weightDecay, step } = args;
    const ps = host(param, 'adamw').f32;
    const gs = host(grad, 'adamw').f32;
    const ms = host(m, 'adamw').f32;
    const vs = host(v, 'adamw').f32;
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    for (let i = 0; i < n; i++) {
      const g = gs[i]!;
      let p = ps[i]! * (1 - lr * weightDecay);
      ms[i] = beta1 * ms[i]! + (1 - beta1) * g;
      vs[i] = beta2 * vs[i]! + (1 - beta2) * g * g;
      p -= (lr * (ms[i]! / bc1)) / (Math.sqrt(vs[i]! / bc2) + eps);
      ps[i] = p;
    }
  }
}

/** log(sum(exp(x * scale))) over n elements from `base`, stable. */
function logSumExp(xs: Float32Array | Float64Array, base: number, n: number, scale: number): number {
  let max = -Infinity;
  for (let c = 0; c < n; c++) max = Math.max(max, xs[base + c]! * scale);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let c = 0; c < n; c++) sum += Math.exp(xs[base + c]! * scale - max);
  return max + Math.log(sum);
}

/** Each query's first key (AttentionArgs.keyStart, 0 without it), checked against its bounds. */
function keyStarts(args: AttentionArgs, op: string): (b: number, i: number) => number {
  const { B, Tq, pastLen } = args;
  if (!args.keyStart) return () => 0;
  const ks = host(args.keyStart, op).i32;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      const j0 = ks[b * Tq + i]!;
      if (!(j0 >= 0 && j0 <= pastLen + i)) throw new Error(`${op}: keyStart ${j0} at [${b}, ${i}] is outside [0, pastLen + ${i}] = [0, ${pastLen + i}]`);
    }
  }
  return (b, i) => ks[b * Tq + i]!;
}
