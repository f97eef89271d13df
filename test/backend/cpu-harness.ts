/**
 * Runs the same kernel call on the CPU backend and the reference backend with identical inputs and
 * compares the results. Error is measured as max |cpu - ref| / max |ref| over each output, so a
 * value near zero in a large tensor is judged on the tensor's scale, as f32 rounding is.
 */
import assert from 'node:assert/strict';
import type { Backend, DeviceBuffer } from '../../src/backend/backend.js';

export type HostData = Float32Array | Int32Array | Uint16Array;

export interface Case {
  /** Buffers to create and fill, by name (outputs that are accumulated into belong here too). */
  inputs: Record<string, HostData>;
  /** Output buffers to create zero-filled, by name and element count. */
  outputs?: Record<string, number>;
  /** Names to read back and compare (f32). */
  compare: string[];
  call: (be: Backend, b: Record<string, DeviceBuffer>) => void;
}

/** Allocates the case's inputs (written) and outputs (zeroed); returns the buffers and their element counts. */
export function setUpCase(be: Backend, c: Case): { bufs: Record<string, DeviceBuffer>; sizes: Record<string, number> } {
  const bufs: Record<string, DeviceBuffer> = {};
  const sizes: Record<string, number> = {};
  for (const [name, data] of Object.entries(c.inputs)) {
    sizes[name] = Math.max(data.length, 1);
    bufs[name] = be.alloc(sizes[name]! * 4);
    be.write(bufs[name]!, data);
  }
  for (const [name, n] of Object.entries(c.outputs ?? {})) {
    sizes[name] = Math.max(n, 1);
    bufs[name] = be.alloc(sizes[name]! * 4);
    be.fill(bufs[name]!, sizes[name]!, 0, 'f32');
  }
  return { bufs, sizes };
}

export function runCase(be: Backend, c: Case): Record<string, Float32Array> {
  const { bufs } = setUpCase(be, c);
  c.call(be, bufs);
  const out: Record<string, Float32Array> = {};
  for (const name of c.compare) {
    const buf = bufs[name]!;
    out[name] = be.readSync!(buf, 'f32', 0, buf.byteLength / 4) as Float32Array;
  }
  for (const buf of Object.values(bufs)) be.free(buf);
  return out;
}

/** max |a - b| / max |b| (NaNs must match), with max |b| floored at 1e-30. */
export function relError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 1e-30;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i]!) || Number.isNaN(a[i]!)) {
      assert.ok(Number.isNaN(a[i]!) && Number.isNaN(b[i]!), `NaN mismatch at ${i}: ${a[i]} vs ${b[i]}`);
      continue;
    }
    if (!Number.isFinite(b[i]!)) {
      assert.equal(a[i], b[i], `infinity mismatch at ${i}`);
      continue;
    }
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / scale;
}

/** Runs `c` on both backends and asserts every compared output agrees within `tol`. */
export function assertSame(cpu: Backend, ref: Backend, label: string, c: Case, tol = 1e-5): void {
  const got = runCase(cpu, c);
  const want = runCase(ref, c);
  for (const name of c.compare) {
    const err = relError(got[name]!, want[name]!);
    assert.ok(err <= tol, `${label}: ${name} differs from the reference by ${err.toExponential(2)} (tolerance ${tol})`);
  }
}

/**
 * keyStart [B, Tq] for query rows cut into sequences of the given lengths per batch item (each
 * query's first key = its sequence's start; with pastLen > 0 the first sequence also sees the cached
 * keys): block-diagonal causal attention on packed sequences.
 */
export function packedKeyStart(lengths: number[][], pastLen: number): Int32Array {
  const out: number[] = [];
  for (const item of lengths) {
    let start = 0;
    for (const [s, n] of item.entries()) {
      for (let i = 0; i < n; i++) out.push(s === 0 ? 0 : pastLen + start);
      start += n;
    }
  }
  return Int32Array.from(out);
}

/**
 * Forward and backward of attention with keyStart (and optionally a key bias), as one case:
 * q/k/v/dOut random, dk/dv accumulated into from random values, everything compared.
 */
export function varlenAttentionCase(rng: { floats(n: number): Float32Array; uniform(): number }, cfg: {
  B: number; Tq: number; H: number; Hkv: number; D: number; pastLen: number; Tmax: number; bias: boolean; keyStart: Int32Array;
}): Case {
  const { B, Tq, H, Hkv, D, pastLen, Tmax } = cfg;
  const Tk = pastLen + Tq;
  const qn = B * Tq * H * D, kvn = B * Tmax * Hkv * D;
  // Masked keys never include a query's own position, so every query keeps a visible key.
  const bias = Float32Array.from({ length: B * Tk }, () => 0);
  if (cfg.bias) for (let b = 0; b < B; b++) for (let j = 0; j < pastLen; j++) if (rng.uniform() < 0.3) bias[b * Tk + j] = -1e9;
  return {
    inputs: { q: rng.floats(qn), k: rng.floats(kvn), v: rng.floats(kvn), bias, keyStart: cfg.keyStart, dOut: rng.floats(qn), dk: rng.floats(kvn), dv: rng.floats(kvn) },
    outputs: { out: qn, lse: B * H * Tq, dq: qn }, compare: ['out', 'lse', 'dq', 'dk', 'dv'],
    call: (be, b) => {
      const args = { B, Tq, H, Hkv, D, pastLen, kvBatchStride: Tmax * Hkv * D, scale: 1 / Math.sqrt(D), keyStart: b.keyStart! };
      const kb = cfg.bias ? b.bias! : null;
      be.attention(b.q!, b.k!, b.v!, kb, b.out!, b.lse!, args);
      be.attentionBackward(b.q!, b.k!, b.v!, kb, b.out!, b.lse!, b.dOut!, b.dq!, b.dk!, b.dv!, args);
    },
  };
}

/** Kernel shapes for variable-length attention that reach every CPU code path (and fit the WebGPU tests). */
export const VARLEN_ATTENTION_CONFIGS: { B: number; Tq: number; H: number; Hkv: number; D: number; pastLen: number; Tmax: number; bias: boolean; lengths: number[][] }[] = [
  // Sequences of 1 token among longer ones; blocked forward and backward (one unit per (batch, kv head)).
  { B: 2, Tq: 13, H: 4, Hkv: 2, D: 8, pastLen: 0, Tmax: 13, bias: false, lengths: [[3, 1, 5, 4], [1, 1, 11]] },
  // One (batch, kv head) pair: the backward splits query blocks over threads; D = 36 leaves a 4-wide dq tail.
  { B: 1, Tq: 37, H: 3, Hkv: 1, D: 36, pastLen: 0, Tmax: 37, bias: false, lengths: [[6, 1, 17, 2, 11]] },
  // A single sequence (keyStart all 0: plain causal) and a cache with a key bias.
  { B: 1, Tq: 9, H: 2, Hkv: 2, D: 16, pastLen: 3, Tmax: 14, bias: true, lengths: [[9]] },
  { B: 2, Tq: 10, H: 2, Hkv: 1, D: 16, pastLen: 3, Tmax: 13, bias: true, lengths: [[4, 6], [2, 3, 5]] },
  // Row kernels: fewer than 4 queries (forward) and a head size that is not a multiple of 4 (both).
  { B: 2, Tq: 3, H: 2, Hkv: 1, D: 8, pastLen: 0, Tmax: 3, bias: false, lengths: [[1, 2], [1, 1, 1]] },
  { B: 1, Tq: 11, H: 2, Hkv: 1, D: 5, pastLen: 0, Tmax: 11, bias: false, lengths: [[5, 1, 5]] },
];
