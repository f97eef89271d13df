// Host-side conversion to f16 bits (f16 weights on the device) against a float64 reference that
// knows nothing of bit tricks: it lists the finite f16 values in order and picks the nearest, ties
// to the even bit pattern. Covered: f32 -> f16 at every f16 midpoint and one f32 step either side,
// random values over the whole range, subnormals, overflow, ±0, ±Inf and NaN; BF16 -> F16 for all
// 65536 BF16 patterns; rawToFloat16 for F32, BF16 and F16 tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bf16ArrayToF16, f32ArrayToF16 } from '../../src/util/float16.js';
import { rawToFloat16, type RawTensor } from '../../src/models/safetensors.js';
import { Rng } from '../helpers/rng.js';

/** The value of a non-negative finite f16 pattern h (0..0x7bff), from the IEEE definition. */
function f16Value(h: number): number {
  const e = h >>> 10;
  const m = h & 0x3ff;
  return e === 0 ? m * 2 ** -24 : (1024 + m) * 2 ** (e - 25);
}

const MAX_FINITE = 0x7bff;
/** 65504 plus half its spacing (32): from here on, round-to-nearest-even gives Inf (65504's pattern is odd). */
const OVERFLOW = 65520;

/** Nearest f16 bits to x by search over the ordered finite values; ties go to the even pattern. */
function f16Reference(x: number): number {
  if (Number.isNaN(x)) return -1; // checked separately: any NaN pattern
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= OVERFLOW) return sign | 0x7c00;
  // Largest h with value <= a.
  let lo = 0;
  let hi = MAX_FINITE;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (f16Value(mid) <= a) lo = mid;
    else hi = mid - 1;
  }
  if (f16Value(lo) === a || lo === MAX_FINITE) return sign | lo;
  const below = a - f16Value(lo);
  const above = f16Value(lo + 1) - a;
  if (below < above) return sign | lo;
  if (above < below) return sign | (lo + 1);
  return sign | (lo % 2 === 0 ? lo : lo + 1);
}

const isF16NaN = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

/** f32 values one unit in the last place away from x (towards and away from zero). */
function f32Neighbours(x: number): number[] {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  const out: number[] = [];
  for (const d of [-1, 1]) {
    const v = new Uint32Array([u[0]! + d]);
    out.push(new Float32Array(v.buffer)[0]!);
  }
  return out;
}

function checkF32(values: number[], label: string): void {
  const bits = f32ArrayToF16(Float32Array.from(values));
  values.forEach((v, i) => {
    const x = Math.fround(v);
    const got = bits[i]!;
    if (Number.isNaN(x)) {
      assert.ok(isF16NaN(got), `${label}: f16(NaN) = 0x${got.toString(16)}, not a NaN`);
      return;
    }
    const want = f16Reference(x);
    assert.equal(got, want, `${label}: f16(${x}) = 0x${got.toString(16)}, want 0x${want.toString(16)}`);
  });
}

test('f32 -> f16 rounds to nearest even at every midpoint and one f32 step either side', () => {
  const values: number[] = [];
  for (let h = 0; h < MAX_FINITE; h++) {
    const mid = (f16Value(h) + f16Value(h + 1)) / 2; // 12 significant bits: exact in f32
    assert.equal(Math.fround(mid), mid);
    values.push(mid, -mid, ...f32Neighbours(mid));
  }
  checkF32(values, 'midpoints');
});

test('f32 -> f16: subnormals, the largest finite value, overflow, zeros, infinities, NaN', () => {
  checkF32([
    0, -0, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0000001, 3 * 2 ** -25, 2 ** -26, 2 ** -14, 2 ** -14 - 2 ** -24, 1e-8, -1e-8, 5.96e-8,
    65504, 65519.99, 65520, 65536, 1e6, 3.4028234663852886e38, Infinity, -Infinity, NaN, -NaN,
    1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2048 + 1, 2048 + 3, -0.1, 0.1, 1 / 3,
  ], 'specials');
  const nanPayload = new Float32Array(new Uint32Array([0x7f800001, 0xffc00123]).buffer);
  for (const h of f32ArrayToF16(nanPayload)) assert.ok(isF16NaN(h), `NaN payload narrowed to 0x${h.toString(16)}`);
});

test('f32 -> f16 on random values across the whole exponent range', () => {
  const rng = new Rng(2718);
  const values = Array.from({ length: 20000 }, () => (rng.uniform() < 0.5 ? -1 : 1) * 2 ** (rng.uniform() * 48 - 30) * (1 + rng.uniform()));
  checkF32(values, 'random');
});

test('BF16 -> F16 bits directly, for all 65536 BF16 patterns', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const got = bf16ArrayToF16(all);
  for (let b = 0; b < 65536; b++) {
    // A BF16 value is the f32 with the same top 16 bits: decode it without the code under test.
    const e = (b >>> 7) & 0xff;
    const m = b & 0x7f;
    const sign = b & 0x8000 ? -1 : 1;
    const x = e === 0xff ? (m === 0 ? sign * Infinity : NaN) : e === 0 ? sign * m * 2 ** -133 : sign * (128 + m) * 2 ** (e - 134);
    if (Number.isNaN(x)) {
      assert.ok(isF16NaN(got[b]!), `bf16 0x${b.toString(16)} (NaN) -> 0x${got[b]!.toString(16)}`);
      continue;
    }
    const want = f16Reference(Object.is(x, 0) && b & 0x8000 ? -0 : x);
    assert.equal(got[b], want, `bf16 0x${b.toString(16)} (${x}) -> 0x${got[b]!.toString(16)}, want 0x${want.toString(16)}`);
  }
});

test('rawToFloat16: F16 as stored, BF16 and F32 rounded, wrong sizes and dtypes rejected', () => {
  const raw = (dtype: RawTensor['dtype'], arr: Uint16Array | Float32Array): RawTensor =>
    ({ dtype, shape: [arr.length], data: new Uint8Array(arr.buffer.slice(0)) });
  const f16 = Uint16Array.from([0x3c00, 0x8001, 0x7bff, 0x7c00]);
  assert.deepEqual([...rawToFloat16(raw('F16', f16))], [...f16]);
  // BF16 1.0, 1 + 2^-7, 2^20 (beyond f16: Inf), 2^-30 (below f16's smallest subnormal: 0).
  const bf16 = Uint16Array.from([0x3f80, 0x3f81, 0x4980, 0x3080]);
  assert.deepEqual([...rawToFloat16(raw('BF16', bf16))], [0x3c00, 0x3c08, 0x7c00, 0x0000]);
  const f32 = Float32Array.from([1, 1 + 2 ** -11, -2.5, 1e-7]);
  assert.deepEqual([...rawToFloat16(raw('F32', f32))], [...f32].map((v) => f16Reference(v)));
  assert.throws(() => rawToFloat16({ dtype: 'F32', shape: [3], data: new Uint8Array(8) }, 'w'), /w: 8 bytes, but shape \[3\] of F32 needs 12/);
  assert.throws(() => rawToFloat16({ dtype: 'I32', shape: [1], data: new Uint8Array(4) }, 'w'), /does not convert to float16/);
});
