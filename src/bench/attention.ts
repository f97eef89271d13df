/**
 * Fused causal attention, forward and backward, on one thread and on the pool. Attention is
 * compute-bound at these lengths, so it is reported in GFLOP/s of the causal products (QK^T and PV
 * forward: 4*D flops per (query, key) pair; backward recomputes QK^T and forms dP, dQ, dK, dV:
 * 10*D) and as a share of the SIMD multiply-add peak of the threads used.
 */
import type { AttentionArgs, Backend, DeviceBuffer } from '../backend/backend.js';
import { allocRandom, type BackendPair } from './setup.js';
import { race, ratio, round, type Contender, type RaceOptions } from './timing.js';

export interface AttentionShape {
  name: string;
  B: number;
  T: number;
  H: number;
  Hkv: number;
  D: number;
  /** Sequences packed into each row (keyStart: block-diagonal causal attention); absent: one causal sequence of T. */
  lengths?: number[];
}

export interface AttentionRow extends AttentionShape {
  dir: 'fwd' | 'bwd';
  gflops: Record<string, number>;
  ofPeak: Record<string, number | null>;
}

export const ATTENTION_SHAPES: AttentionShape[] = [
  { name: 'tiny-llama train', B: 8, T: 48, H: 4, Hkv: 4, D: 32 },
  { name: 'qwen2.5-0.5b 512', B: 1, T: 512, H: 14, Hkv: 2, D: 64 },
  { name: 'one kv head 512', B: 1, T: 512, H: 8, Hkv: 1, D: 64 },
  // The bundled countdown base as update_actor runs it: 64 rows of 48-108 tokens packed into one.
  packedShape('countdown-base packed', 4, 32, Array.from({ length: 64 }, (_, i) => 48 + ((i * 37) % 61))),
];

function packedShape(name: string, H: number, D: number, lengths: number[]): AttentionShape {
  return { name, B: 1, T: lengths.reduce((a, b) => a + b, 0), H, Hkv: H, D, lengths };
}

/** keyStart of sequences packed one after another: each query's first key is its sequence's first token. */
export function packedKeyStart(lengths: number[]): Int32Array {
  const out = new Int32Array(lengths.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const len of lengths) {
    out.fill(at, at, at + len);
    at += len;
  }
  return out;
}

function setup(be: Backend, s: AttentionShape): { fwd: () => void; bwd: () => void; bufs: DeviceBuffer[] } {
  const qe = s.B * s.T * s.H * s.D, kve = s.B * s.T * s.Hkv * s.D;
  const q = allocRandom(be, qe), k = allocRandom(be, kve), v = allocRandom(be, kve), dOut = allocRandom(be, qe);
  const out = be.alloc(qe * 4), lse = be.alloc(s.B * s.H * s.T * 4);
  const dq = be.alloc(qe * 4), dk = be.alloc(kve * 4), dv = be.alloc(kve * 4);
  const keyStart = s.lengths ? be.alloc(s.T * 4) : null;
  if (keyStart) be.write(keyStart, packedKeyStart(s.lengths!));
  const args: AttentionArgs = {
    B: s.B, Tq: s.T, H: s.H, Hkv: s.Hkv, D: s.D, pastLen: 0, kvBatchStride: s.T * s.Hkv * s.D, scale: 1 / Math.sqrt(s.D), keyStart,
  };
  be.attention(q, k, v, null, out, lse, args);
  return {
    fwd: () => be.attention(q, k, v, null, out, lse, args),
    // dk, dv accumulate across calls; their values do not matter here.
    bwd: () => be.attentionBackward(q, k, v, null, out, lse, dOut, dq, dk, dv, args),
    bufs: [q, k, v, dOut, out, lse, dq, dk, dv, ...(keyStart ? [keyStart] : [])],
  };
}

export async function benchAttention(pair: BackendPair, shapes: AttentionShape[], peakPerCore: number | null,
  opts: RaceOptions): Promise<AttentionRow[]> {
  const backends: [string, Backend, number][] = pair.one ? [['1t', pair.one, 1], ['pool', pair.pool, pair.threads]] : [['pool', pair.pool, 1]];
  const rows: AttentionRow[] = [];
  for (const s of shapes) {
    const pairs = s.B * s.H * (s.lengths ?? [s.T]).reduce((sum, len) => sum + (len * (len + 1)) / 2, 0);
    const made = backends.map(([, be]) => setup(be, s));
    for (const dir of ['fwd', 'bwd'] as const) {
      const contenders: Contender[] = made.map((m) => ({ run: m[dir], sync: pair.sync }));
      const secs = await race(contenders, opts);
      const flops = pairs * s.D * (dir === 'fwd' ? 4 : 10);
      const gflops: Record<string, number> = {};
      const ofPeak: Record<string, number | null> = {};
      backends.forEach(([name, , threads], i) => {
        gflops[name] = round(flops / secs[i]! / 1e9, 2);
        ofPeak[name] = peakPerCore ? ratio(gflops[name], peakPerCore * threads) : null;
      });
      rows.push({ ...s, dir, gflops, ofPeak });
    }
    backends.forEach(([, be], i) => { for (const b of made[i]!.bufs) be.free(b); });
  }
  return rows;
}
