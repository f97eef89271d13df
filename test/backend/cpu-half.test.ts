// The CPU backend's f16 weights (kernels/half.ts): matmul with an f16 B and the f16 embedding
// gather against the reference backend run on the same values widened to f32 on the host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceBuffer, MatmulArgs } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/models/dtype.js';
import { Rng } from '../helpers/rng.js';
import { relError } from './cpu-harness.js';

let cpu: CpuBackend;
const ref = new ReferenceBackend();
const rng = new Rng(4321);

before(async () => {
  cpu = await CpuBackend.create({ threads: 2, split: 'always', weightDtype: 'f16' });
});
after(() => cpu.destroy());

/** Random f16 bits: mostly normal values, with a sprinkle of subnormals, zeros of both signs and large values. */
function halfBits(n: number): Uint16Array {
  const f = rng.floats(n);
  const h = f32ArrayToF16(f);
  for (let i = 0; i < n; i += 7) h[i] = [0x0001, 0x83ff, 0x0000, 0x8000, 0x7bff, 0x0400][(i / 7) % 6]!;
  return h;
}

function halfBuffer(be: CpuBackend, bits: Uint16Array): DeviceBuffer {
  const buf = be.alloc(Math.ceil(Math.max(bits.length, 1) / 2) * 4);
  be.write(buf, bits);
  return buf;
}

function f32Buffer(be: CpuBackend | ReferenceBackend, data: Float32Array): DeviceBuffer {
  const buf = be.alloc(Math.max(data.length, 1) * 4);
  if (data.length > 0) be.write(buf, data);
  return buf;
}

/** CPU matmul with B in f16 against the reference with B widened; returns the relative error. */
function matmulError(args: MatmulArgs, aLen: number, bLen: number): number {
  const a = rng.floats(aLen);
  const bBits = halfBits(bLen);
  const outLen = args.batch * args.m * args.n;
  const init = rng.floats(outLen);
  const run = (be: CpuBackend | ReferenceBackend, half: boolean): Float32Array => {
    const ab = f32Buffer(be, a);
    const bb = half ? halfBuffer(be as CpuBackend, bBits) : f32Buffer(be, f16ArrayToF32(bBits));
    const ob = f32Buffer(be, init);
    be.matmul(ab, bb, ob, { ...args, ...(half ? { bDtype: 'f16' as const } : {}) });
    const out = be.readSync!(ob, 'f32', 0, outLen) as Float32Array;
    for (const x of [ab, bb, ob]) be.free(x);
    return out;
  };
  return relError(run(cpu, true), run(ref, false));
}

describe('f16 weights on the CPU backend', () => {
  test('the backend advertises f16 storage and the weight dtype it was asked for', () => {
    assert.equal(cpu.halfStorage, true);
    assert.equal(cpu.weightDtype, 'f16');
  });

  test('every one of the 65,536 f16 values widens exactly (embedding gather), NaN and Inf included', () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const dim = 8;
    const table = halfBuffer(cpu, bits);
    const rows = 65536 / dim;
    const ids = cpu.alloc(rows * 4);
    cpu.write(ids, Int32Array.from({ length: rows }, (_, i) => rows - 1 - i));
    const out = cpu.alloc(65536 * 4);
    cpu.embedding(table, ids, out, rows, dim, 'f16');
    const got = cpu.readSync(out, 'f32', 0, 65536) as Float32Array;
    const want = f16ArrayToF32(bits);
    const gotBits = new Uint32Array(got.buffer), wantBits = new Uint32Array(want.buffer);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < dim; c++) {
        const g = r * dim + c, w = (rows - 1 - r) * dim + c;
        // NaNs: the kernel keeps the payload, the host table may not; both must be NaN.
        if (Number.isNaN(want[w]!)) { assert.ok(Number.isNaN(got[g]!), `f16 0x${w.toString(16)} is a NaN`); continue; }
        assert.equal(gotBits[g], wantBits[w], `f16 0x${w.toString(16)} widened to 0x${gotBits[g]!.toString(16)}`);
      }
    }
    for (const b of [table, ids, out]) cpu.free(b);
  });

  test('embedding with a ragged row length reads whole rows of halves', () => {
    for (const dim of [1, 3, 5, 13]) {
      const vocab = 11, rows = 9;
      const bits = halfBits(vocab * dim);
      const table = halfBuffer(cpu, bits);
      const idData = Int32Array.from({ length: rows }, () => rng.int(vocab));
      const ids = cpu.alloc(rows * 4);
      cpu.write(ids, idData);
      const out = cpu.alloc(rows * dim * 4);
      cpu.embedding(table, ids, out, rows, dim, 'f16');
      const got = cpu.readSync(out, 'f32', 0, rows * dim);
      const wide = f16ArrayToF32(bits);
      const want = new Float32Array(rows * dim);
      idData.forEach((id, r) => want.set(wide.subarray(id * dim, (id + 1) * dim), r * dim));
      assert.deepEqual(got, want, `dim ${dim}`);
      cpu.write(ids, new Int32Array([1000]), 3);
      assert.throws(() => cpu.embedding(table, ids, out, rows, dim, 'f16'), /embedding: token id 1000 at row 3 is outside/);
      for (const b of [table, ids, out]) cpu.free(b);
    }
  });

  test('matmul with an f16 B: gemv (decoding) and packed paths, both layouts of B, odd sizes', () => {
    for (const [m, n, k] of [[1, 1, 1], [1, 7, 5], [2, 33, 17], [4, 40, 3], [3, 500, 70], [5, 7, 31], [17, 33, 9], [130, 67, 129], [64, 300, 40]]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const args: MatmulArgs = { batch: 1, m: m!, n: n!, k: k!, transA, transB, aBatchStride: m! * k!, bBatchStride: k! * n!, accumulate: false };
          const err = matmulError(args, m! * k!, k! * n!);
          assert.ok(err <= 1e-5, `${m}x${n}x${k} tA=${transA} tB=${transB}: error ${err.toExponential(2)}`);
        }
      }
    }
  });

  test('matmul with an f16 B: batches, a broadcast B, a B offset (in 2-byte elements) and accumulate', () => {
    for (const [batch, m, n, k] of [[3, 1, 13, 6], [3, 5, 7, 9], [2, 33, 17, 40]]) {
      for (const transB of [false, true]) {
        for (const [bBatchStride, bOffset] of [[0, 6], [k! * n!, 0], [k! * n! + 2, 4]]) {
          const args: MatmulArgs = { batch: batch!, m: m!, n: n!, k: k!, transA: false, transB, aBatchStride: m! * k!,
            bBatchStride: bBatchStride!, bOffset, accumulate: true };
          const err = matmulError(args, batch! * m! * k!, bOffset! + (batch! - 1) * bBatchStride! + k! * n!);
          assert.ok(err <= 1e-5, `batched ${batch}x${m}x${n}x${k} tB=${transB} stride ${bBatchStride} offset ${bOffset}: ${err.toExponential(2)}`);
        }
      }
    }
  });

  test('a B too wide to pack at once (over 64 MB of f32 panels, a vocabulary-sized lm_head) is packed a range of panels at a time', () => {
    // 8 x 270,001 x 64: 69 MB of packed panels, so at least two ranges, the last one ragged.
    for (const transB of [true, false]) {
      const args: MatmulArgs = { batch: 1, m: 8, n: 270001, k: 64, transA: false, transB, aBatchStride: 0, bBatchStride: 0, accumulate: false };
      const err = matmulError(args, 8 * 64, 64 * 270001);
      assert.ok(err <= 1e-5, `f16 tB=${transB}: ${err.toExponential(2)}`);
    }
    const n = 270001, k = 64, m = 8;
    const a = rng.floats(m * k), b = rng.floats(k * n);
    const run = (be: CpuBackend | ReferenceBackend): Float32Array => {
      const [ab, bb, ob] = [f32Buffer(be, a), f32Buffer(be, b), be.alloc(m * n * 4)];
      be.matmul(ab, bb, ob, { batch: 1, m, n, k, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, accumulate: false });
      const out = be.readSync!(ob, 'f32', 0, m * n) as Float32Array;
      for (const x of [ab, bb, ob]) be.free(x);
      return out;
    };
    const err = relError(run(cpu), run(ref));
    assert.ok(err <= 1e-5, `f32: ${err.toExponential(2)}`);
  });

  test('f16 buffers: reads widen, bounds count 2-byte elements, fill is refused', () => {
    const bits = halfBits(10);
    const buf = halfBuffer(cpu, bits);
    assert.deepEqual(cpu.readSync(buf, 'f16', 2, 6), f16ArrayToF32(bits.subarray(2, 8)));
    assert.throws(() => cpu.readSync(buf, 'f16', 0, 13), /read: 13 elements at offset 0 exceed a 64-byte buffer|exceed/);
    assert.throws(() => cpu.fill(buf, 4, 0, 'f16'), /fill: f16 buffers hold weights/);
    const out = cpu.alloc(4 * 4);
    const a = f32Buffer(cpu, rng.floats(5 * 2));
    // 5 x 2 @ 2 x 20 needs 40 halves: more than the buffer's 32.
    assert.throws(() => cpu.matmul(a, buf, out, { batch: 1, m: 1, n: 20, k: 2, transA: false, transB: false, aBatchStride: 0,
      bBatchStride: 0, accumulate: false, bDtype: 'f16' }), /matmul: b needs 40 elements/);
    for (const b of [buf, out, a]) cpu.free(b);
  });
});
