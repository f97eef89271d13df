// The fused decoding routines of the Backend contract (linearGroup, ropeKvWrite): on every backend
// they give, bit for bit, what the plain kernels give run one after another (src/backend/composed.ts
// writes that sequence out), and the CPU's agree with the reference's within f32 rounding. f16
// weights on the CPU are compared with the f32 path on the same values widened.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, DeviceBuffer, LinearGroupArgs } from '../../src/backend/backend.js';
import { linearGroupComposed, ropeKvWriteComposed } from '../../src/backend/composed.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/models/dtype.js';
import { Rng } from '../helpers/rng.js';
import { relError } from './cpu-harness.js';

const ref = new ReferenceBackend();
let pooled: CpuBackend;
let single: CpuBackend;
const rng = new Rng(2024);

before(async () => {
  pooled = await CpuBackend.create({ threads: 2, split: 'always' });
  single = await CpuBackend.create({ threads: 1 });
});
after(() => {
  pooled.destroy();
  single.destroy();
});

function put(be: Backend, data: Float32Array | Int32Array | Uint16Array): DeviceBuffer {
  const bytes = data instanceof Uint16Array ? Math.ceil(Math.max(data.length, 1) / 2) * 4 : Math.max(data.length, 1) * 4;
  const buf = be.alloc(bytes);
  if (data.length > 0) be.write(buf, data);
  return buf;
}

function get(be: Backend, buf: DeviceBuffer, n: number): Float32Array {
  return be.readSync!(buf, 'f32', 0, n) as Float32Array;
}

interface GroupCase {
  m: number;
  k: number;
  n: number[];
  bias: boolean[];
  residual: boolean;
  epilogue: LinearGroupArgs['epilogue'];
}

interface GroupData {
  x: Float32Array;
  w: Uint16Array[];
  b: (Float32Array | null)[];
  r: Float32Array | null;
}

function groupData(c: GroupCase): GroupData {
  // Weights are f16-representable so the same values can run as f16 and as f32.
  return {
    x: rng.floats(c.m * c.k),
    w: c.n.map((n) => f32ArrayToF16(rng.floats(n * c.k, 0.3))),
    b: c.n.map((n, i) => (c.bias[i] ? rng.floats(n, 0.5) : null)),
    r: c.residual ? rng.floats(c.m * c.n[0]!) : null,
  };
}

/** Runs the fused op (or the composed sequence) on `be`; returns the outputs. */
function runGroup(be: Backend, c: GroupCase, d: GroupData, half: boolean, fused: boolean): Float32Array[] {
  const x = put(be, d.x);
  const w = d.w.map((bits) => put(be, half ? bits : f16ArrayToF32(bits)));
  const b = d.b.map((v) => (v ? put(be, v) : null));
  const r = d.r ? put(be, d.r) : null;
  const widths = c.epilogue === 'swiglu' ? [c.n[0]!] : c.n;
  const outs = widths.map((n) => put(be, new Float32Array(c.m * n).fill(Number.NaN)));
  const args: LinearGroupArgs = { m: c.m, k: c.k, n: c.n, wDtype: c.n.map(() => (half ? 'f16' : 'f32')), epilogue: c.epilogue };
  if (fused) be.linearGroup(x, w, b, r, outs, args);
  else linearGroupComposed(be, x, w, b, r, outs, args);
  const got = outs.map((o, i) => get(be, o, c.m * widths[i]!));
  for (const buf of [x, ...w, ...b, r, ...outs]) if (buf) be.free(buf);
  return got;
}

const GROUPS: GroupCase[] = [
  { m: 1, k: 37, n: [16, 8, 8], bias: [true, true, true], residual: false, epilogue: 'none' },
  { m: 3, k: 64, n: [12, 5, 5], bias: [false, true, false], residual: false, epilogue: 'none' },
  { m: 4, k: 19, n: [23], bias: [true], residual: true, epilogue: 'none' },
  { m: 2, k: 40, n: [30], bias: [false], residual: true, epilogue: 'none' },
  { m: 1, k: 33, n: [21, 21], bias: [false, false], residual: false, epilogue: 'swiglu' },
  { m: 4, k: 16, n: [9, 9], bias: [true, true], residual: false, epilogue: 'swiglu' },
  // Past the CPU's gemv sizes: panels of 8 packed per unit, 4-row tiles and a remainder of rows,
  // widths that leave a partial panel (and one under 4 columns).
  { m: 5, k: 24, n: [10, 6, 6], bias: [true, true, true], residual: false, epilogue: 'none' },
  { m: 7, k: 24, n: [10, 6, 6], bias: [true, true, true], residual: false, epilogue: 'none' },
  { m: 9, k: 20, n: [14, 14], bias: [false, false], residual: false, epilogue: 'swiglu' },
  { m: 16, k: 45, n: [19, 3, 8], bias: [true, false, true], residual: false, epilogue: 'none' },
  { m: 16, k: 33, n: [21, 21], bias: [true, true], residual: false, epilogue: 'swiglu' },
  { m: 16, k: 70, n: [13], bias: [true], residual: true, epilogue: 'none' },
  { m: 64, k: 96, n: [40, 8, 8], bias: [true, true, true], residual: false, epilogue: 'none' },
  { m: 64, k: 64, n: [36, 36], bias: [false, false], residual: false, epilogue: 'swiglu' },
  { m: 63, k: 150, n: [32], bias: [false], residual: true, epilogue: 'none' },
  // Past the CPU's decode sizes: the weights packed once, rows a chunk at a time (chunks of 504 rows
  // at k = 130: one and a remainder per thread at 2 threads, three at 1).
  { m: 300, k: 12, n: [9, 9], bias: [false, true], residual: false, epilogue: 'swiglu' },
  { m: 1100, k: 130, n: [21, 21], bias: [true, true], residual: false, epilogue: 'swiglu' },
  { m: 1037, k: 130, n: [19, 3, 8], bias: [true, false, true], residual: false, epilogue: 'none' },
  { m: 261, k: 40, n: [12, 12, 12], bias: [false, false, false], residual: false, epilogue: 'none' },
  { m: 1030, k: 130, n: [13], bias: [true], residual: true, epilogue: 'none' },
  { m: 299, k: 7, n: [32], bias: [false], residual: true, epilogue: 'none' },
];

const label = (c: GroupCase): string => `m=${c.m} k=${c.k} n=[${c.n.join(',')}] ${c.epilogue}${c.residual ? ' +residual' : ''}`;

describe('linearGroup', () => {
  for (const c of GROUPS) {
    test(`${label(c)}: fused equals the plain kernels bit for bit, and the reference within rounding`, () => {
      const d = groupData(c);
      const want = runGroup(ref, c, d, false, false);
      assert.deepEqual(runGroup(ref, c, d, false, true), want, 'reference: fused vs composed');
      for (const [name, be] of [['1 thread', single], ['2 threads', pooled]] as const) {
        for (const half of [false, true]) {
          const composed = runGroup(be, c, d, half, false);
          const fused = runGroup(be, c, d, half, true);
          assert.deepEqual(fused, composed, `${name}, ${half ? 'f16' : 'f32'} weights: fused vs composed`);
          // f16 weights give what f32 weights of the same values give.
          if (half) assert.deepEqual(fused, runGroup(be, c, d, false, true), `${name}: f16 vs f32 weights`);
          fused.forEach((o, i) => {
            const err = relError(o, want[i]!);
            assert.ok(err < 1e-5, `${name}: output ${i} differs from the reference by ${err}`);
          });
        }
      }
    });
  }

  test('the CPU runs a group as its own kernels at any number of rows, never the plain kernels', () => {
    const be = pooled as unknown as Record<string, (...a: unknown[]) => unknown>;
    const plain: string[] = [];
    for (const name of ['matmul', 'binary', 'unary']) be[name] = (...a: unknown[]) => {
      plain.push(name);
      return (CpuBackend.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!.apply(pooled, a);
    };
    try {
      for (const m of [1, 5, 64, 256, 257, 2000]) {
        plain.length = 0;
        const c: GroupCase = { m, k: 8, n: [8, 8], bias: [true, false], residual: false, epilogue: 'swiglu' };
        runGroup(pooled, c, groupData(c), false, true);
        assert.deepEqual(plain, [], `m = ${m}: plain kernels called`);
      }
    } finally {
      for (const name of ['matmul', 'binary', 'unary']) delete be[name];
    }
  });

  test('bad arguments are refused with the reason', () => {
    const x = put(pooled, new Float32Array(8));
    const w = put(pooled, new Float32Array(8));
    const o = put(pooled, new Float32Array(8));
    const base = { m: 2, k: 4, n: [2], wDtype: ['f32' as const], epilogue: 'none' as const };
    assert.throws(() => pooled.linearGroup(x, [w, w], [null, null], null, [o, o], { ...base, n: [2, 2], wDtype: ['f32', 'f32'], epilogue: 'swiglu' }),
      /'swiglu' writes one output, got 2/);
    assert.throws(() => pooled.linearGroup(x, [w, w], [null, null], x, [o, o], { ...base, n: [2, 2], wDtype: ['f32', 'f32'] }),
      /a residual needs exactly one weight, got 2/);
    assert.throws(() => pooled.linearGroup(x, [w], [null], null, [o], { ...base, n: [3] }), /weight 0 needs 12 elements/);
    assert.throws(() => ref.linearGroup(x, [], [], null, [], { ...base, n: [], wDtype: [] }), /takes 1 to 3 weights, got 0/);
    for (const b of [x, w, o]) pooled.free(b);
  });
});

interface RopeCase { B: number; T: number; H: number; Hkv: number; D: number; pastLen: number; maxLen: number }

function runRope(be: Backend, c: RopeCase, data: { q: Float32Array; k: Float32Array; v: Float32Array; pos: Int32Array;
  cos: Float32Array; sin: Float32Array; kc: Float32Array; vc: Float32Array }, fused: boolean): Float32Array[] {
  const b = [data.q, data.k, data.v, data.pos, data.cos, data.sin].map((a) => put(be, a));
  const qOut = put(be, new Float32Array(data.q.length));
  const kc = put(be, data.kc);
  const vc = put(be, data.vc);
  const [q, k, v, pos, cos, sin] = b as [DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer];
  if (fused) be.ropeKvWrite(q, k, v, pos, cos, sin, qOut, kc, vc, c);
  else ropeKvWriteComposed(be, q, k, v, pos, cos, sin, qOut, kc, vc, c);
  const got = [get(be, qOut, data.q.length), get(be, kc, data.kc.length), get(be, vc, data.vc.length)];
  for (const buf of [...b, qOut, kc, vc]) be.free(buf);
  return got;
}

describe('ropeKvWrite', () => {
  const cases: RopeCase[] = [
    { B: 1, T: 1, H: 4, Hkv: 2, D: 8, pastLen: 3, maxLen: 6 },
    { B: 3, T: 2, H: 2, Hkv: 2, D: 6, pastLen: 1, maxLen: 5 },
    { B: 2, T: 4, H: 6, Hkv: 3, D: 16, pastLen: 0, maxLen: 4 },
  ];
  for (const c of cases) {
    test(`B=${c.B} T=${c.T} H=${c.H} Hkv=${c.Hkv} D=${c.D} at ${c.pastLen} of ${c.maxLen}: rope + cache copies, bit for bit`, () => {
      const rows = c.B * c.T;
      const maxPos = 12;
      const cacheLen = c.B * c.maxLen * c.Hkv * c.D;
      const data = {
        q: rng.floats(rows * c.H * c.D), k: rng.floats(rows * c.Hkv * c.D), v: rng.floats(rows * c.Hkv * c.D),
        pos: Int32Array.from({ length: rows }, () => rng.int(maxPos)),
        cos: rng.floats(maxPos * c.D / 2), sin: rng.floats(maxPos * c.D / 2),
        // Earlier cache contents must survive outside the written slots.
        kc: rng.floats(cacheLen), vc: rng.floats(cacheLen),
      };
      const want = runRope(ref, c, data, false);
      assert.deepEqual(runRope(ref, c, data, true), want);
      for (const be of [single, pooled]) {
        const fused = runRope(be, c, data, true);
        assert.deepEqual(fused, runRope(be, c, data, false), `${be.threads} threads: fused vs composed`);
        fused.forEach((o, i) => assert.ok(relError(o, want[i]!) < 1e-6, `output ${i} vs the reference`));
      }
    });
  }

  test('a write past the cache or a position outside the tables is refused', () => {
    const buf = put(pooled, new Float32Array(64));
    const pos = put(pooled, Int32Array.from([40]));
    const args = { B: 1, T: 1, H: 1, Hkv: 1, D: 4, pastLen: 4, maxLen: 4 };
    assert.throws(() => pooled.ropeKvWrite(buf, buf, buf, pos, buf, buf, buf, buf, buf, args), /positions 4\.\.5 exceed the cache length 4/);
    assert.throws(() => pooled.ropeKvWrite(buf, buf, buf, pos, buf, buf, buf, buf, buf, { ...args, pastLen: 0 }), /position 40 at row 0 is outside \[0, 32\)/);
    pooled.free(buf);
    pooled.free(pos);
  });
});

describe('f16 weights with Inf or NaN', () => {
  // The decode kernels widen weights known to be finite in fewer operations; a buffer is known
  // finite only after a whole-buffer write of f16 bits without Inf or NaN.
  const k = 8, n = 4;
  const finite = f32ArrayToF16(Float32Array.from({ length: n * k }, (_, i) => (i % 5) - 2));
  const x = Float32Array.from({ length: k }, (_, i) => 0.5 + i);

  function gemv(bits: Uint16Array, patch: [number, Uint16Array] | null): Float32Array[] {
    const xb = put(pooled, x);
    const wb = put(pooled, bits);
    if (patch) pooled.write(wb, patch[1], patch[0]);
    const o1 = put(pooled, new Float32Array(n));
    const o2 = put(pooled, new Float32Array(n));
    pooled.matmul(xb, wb, o1, { batch: 1, m: 1, n, k, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, accumulate: false, bDtype: 'f16' });
    pooled.linearGroup(xb, [wb], [null], null, [o2], { m: 1, k, n: [n], wDtype: ['f16'], epilogue: 'none' });
    const got = [get(pooled, o1, n), get(pooled, o2, n)];
    // Six rows: B is packed (widened) for the blocked kernel.
    const x6 = put(pooled, Float32Array.from({ length: 6 * k }, (_, i) => x[i % k]!));
    const o6 = put(pooled, new Float32Array(6 * n));
    pooled.matmul(x6, wb, o6, { batch: 1, m: 6, n, k, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, accumulate: false, bDtype: 'f16' });
    const rows6 = get(pooled, o6, 6 * n);
    for (let r = 0; r < 6; r++) got.push(rows6.slice(r * n, (r + 1) * n));
    for (const b of [xb, wb, o1, o2, x6, o6]) pooled.free(b);
    return got;
  }

  test('an Inf or NaN weight gives Inf or NaN, whether written with the rest or patched in later', () => {
    const withSpecials = finite.slice();
    withSpecials[3] = 0x7c00; // +Inf in row 0
    withSpecials[k + 5] = 0x7e00; // NaN in row 1
    withSpecials[2 * k] = 0xfc00; // -Inf in row 2
    for (const [label, got] of [['written', gemv(withSpecials, null)], ['patched', gemv(finite, [2, withSpecials.subarray(2, 2 * k + 2)])]] as const) {
      for (const out of got) {
        assert.equal(out[0], Infinity, `${label}: row 0`);
        assert.ok(Number.isNaN(out[1]!), `${label}: row 1`);
        assert.equal(out[2], -Infinity, `${label}: row 2`);
        assert.ok(Number.isFinite(out[3]!), `${label}: row 3`);
      }
    }
    // Largest finite values stay finite on the fast path: 65504 * x is far from f32's range.
    const big = finite.slice().fill(0x7bff);
    for (const out of gemv(big, null)) assert.deepEqual(Array.from(out), Array(n).fill(65504 * x.reduce((a, b) => a + b, 0)));
  });
});

test('decode-sized matmul with f16 weights equals the f32 weights of the same values bit for bit (m 1-6, both layouts of A, accumulate)', () => {
  for (const [m, n, k] of [[1, 9, 13], [2, 6, 40], [3, 5, 7], [4, 11, 37], [4, 2, 8], [5, 7, 9], [6, 13, 33]]) {
    for (const transA of [false, true]) {
      for (const accumulate of [false, true]) {
        const a = rng.floats(m! * k!);
        const bits = f32ArrayToF16(rng.floats(n! * k!, 0.5));
        const init = rng.floats(m! * n!);
        const run = (half: boolean): Float32Array => {
          const ab = put(pooled, a);
          const bb = put(pooled, half ? bits : f16ArrayToF32(bits));
          const ob = put(pooled, init);
          pooled.matmul(ab, bb, ob, { batch: 1, m: m!, n: n!, k: k!, transA, transB: true, aBatchStride: 0, bBatchStride: 0, accumulate,
            ...(half ? { bDtype: 'f16' as const } : {}) });
          const out = get(pooled, ob, m! * n!);
          for (const b of [ab, bb, ob]) pooled.free(b);
          return out;
        };
        assert.deepEqual(run(true), run(false), `${m}x${n}x${k} transA=${transA} accumulate=${accumulate}`);
      }
    }
  }
});
