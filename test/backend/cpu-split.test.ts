// The pool's split policy (src/backend/cpu/split-policy.ts) on synthetic timings, and splitting
// itself: every kernel split into uneven chunks over 3 threads gives bit-identical results to one
// thread, because units own disjoint outputs and the per-block sums (RMSNorm's dw) do not depend
// on the thread count.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, DeviceBuffer } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { SplitPolicy } from '../../src/backend/cpu/split-policy.js';
import { Rng } from '../helpers/rng.js';
import { runCase, type Case } from './cpu-harness.js';

describe('SplitPolicy', () => {
  const slot = SplitPolicy.slot(3, 1 << 20);

  test('size classes are per kernel and per power of two of work', () => {
    assert.equal(SplitPolicy.slot(3, (1 << 20) + 5), slot);
    assert.notEqual(SplitPolicy.slot(3, 1 << 21), slot);
    assert.notEqual(SplitPolicy.slot(4, 1 << 20), slot);
    assert.ok(SplitPolicy.slot(0, 2 ** 40) > SplitPolicy.slot(0, 2 ** 31));
  });

  test('warms up each way, then keeps to the faster and explores the other once in a while', () => {
    const p = new SplitPolicy(8);
    // Alone and split in turn, three each, whatever the times.
    for (const want of [false, true, false, true, false, true]) {
      const split = p.choose(slot, 1 << 20);
      assert.equal(split, want);
      p.record(slot, split, split ? 1e-3 : 2e-3, 1 << 20);
    }
    assert.equal(p.splits(slot), true);
    const ways: boolean[] = [];
    for (let i = 0; i < 130; i++) ways.push(p.choose(slot, 1 << 20));
    // Splitting takes 1 ms and alone 2 ms: alone runs again once 32 * 2 ms went into splitting,
    // about every 64th call.
    const explored = ways.flatMap((w, i) => (w ? [] : [i]));
    assert.equal(explored.length, 2, JSON.stringify(explored));
    assert.ok(Math.abs(explored[0]! - 63) <= 1 && Math.abs(explored[1]! - explored[0]! - 64) <= 1, JSON.stringify(explored));
  });

  test('follows a change: splitting turns slow, and the next samples move it back to alone', () => {
    const p = new SplitPolicy(8);
    for (let i = 0; i < 6; i++) {
      const split = p.choose(slot, 1 << 20);
      p.record(slot, split, split ? 1e-3 : 2e-3, 1 << 20);
    }
    assert.equal(p.splits(slot), true);
    // The worker loses its core: split jobs now take 3 ms. The running mean needs a few.
    let n = 0;
    while (p.splits(slot) && n < 20) {
      p.record(slot, true, 3e-3, 1 << 20);
      n++;
    }
    assert.equal(p.splits(slot), false);
    assert.ok(n > 1 && n < 20, `switched after ${n} slow splits`);
    assert.equal(p.choose(slot, 1 << 20), false);
  });

  test("'always' and 'never' ignore the timings", () => {
    const always = new SplitPolicy(8, 'always'), never = new SplitPolicy(8, 'never');
    for (let i = 0; i < 10; i++) {
      assert.equal(always.choose(slot, 1 << 20), true);
      assert.equal(never.choose(slot, 1 << 20), false);
      assert.equal(always.wantsTime(slot, true), false);
    }
  });
});

describe('split into uneven chunks = one thread, bit for bit', () => {
  let one: CpuBackend;
  let three: CpuBackend;
  const rng = new Rng(77);
  before(async () => {
    one = await CpuBackend.create({ threads: 1 });
    three = await CpuBackend.create({ threads: 3, split: 'always' });
  });
  after(() => {
    one.destroy();
    three.destroy();
  });

  const same = (label: string, c: Case): void => {
    const a = runCase(one, c), b = runCase(three, c);
    for (const name of c.compare) assert.deepEqual(b[name], a[name], `${label}: ${name}`);
  };
  type Bufs = Record<string, DeviceBuffer>;

  test('row kernels: softmax, log-prob and entropy, RMSNorm (37 rows: chunks of 4 over 3 threads)', () => {
    const [rows, cols] = [37, 2001];
    const n = rows * cols;
    same('softmax', {
      inputs: { x: rng.floats(n, 3), dy: rng.floats(n) }, outputs: { y: n, dx: n }, compare: ['y', 'dx'],
      call: (be: Backend, b: Bufs) => {
        be.softmax(b.x!, b.y!, rows, cols);
        be.softmaxBackward(b.y!, b.dy!, b.dx!, rows, cols);
      },
    });
    same('logprobEntropy', {
      inputs: { z: rng.floats(n, 3), ids: Int32Array.from({ length: rows }, (_, i) => (i * 131) % cols), dl: rng.floats(rows), de: rng.floats(rows) },
      outputs: { lp: rows, ent: rows, lse: rows, dz: n }, compare: ['lp', 'ent', 'lse', 'dz'],
      call: (be: Backend, b: Bufs) => {
        be.logprobEntropy(b.z!, b.ids!, b.lp!, b.ent!, b.lse!, rows, cols, 0.9);
        be.logprobEntropyBackward(b.z!, b.ids!, b.lse!, b.ent!, b.dl!, b.de!, b.dz!, rows, cols, 0.9);
      },
    });
    // 1000 rows: 32 blocks of dw partial sums, 193 columns: 4 column blocks for the dw kernel.
    const [r2, d2] = [1000, 193];
    same('rmsnorm', {
      inputs: { x: rng.floats(r2 * d2), w: rng.floats(d2), dy: rng.floats(r2 * d2), dw: rng.floats(d2) },
      outputs: { y: r2 * d2, rstd: r2, dx: r2 * d2 }, compare: ['y', 'rstd', 'dx', 'dw'],
      call: (be: Backend, b: Bufs) => {
        be.rmsnorm(b.x!, b.w!, b.y!, b.rstd!, r2, d2, 1e-6);
        be.rmsnormBackward(b.dy!, b.x!, b.w!, b.rstd!, b.dx!, b.dw!, r2, d2);
      },
    });
  });

  test('matmul split by row blocks and by column panels (wide B), every layout', () => {
    // 130x70x90: rows; 24x2000x300: few rows per chunk against a wide B, so by panels.
    for (const [m, n, k] of [[130, 70, 90], [24, 2000, 300], [6, 3001, 40]]) {
      for (const [transA, transB] of [[false, false], [false, true], [true, false]]) {
        same(`matmul ${m}x${n}x${k} tA=${transA} tB=${transB}`, {
          inputs: { a: rng.floats(m! * k!), b: rng.floats(k! * n!) }, outputs: { out: m! * n! }, compare: ['out'],
          call: (be: Backend, b: Bufs) => be.matmul(b.a!, b.b!, b.out!, {
            batch: 1, m: m!, n: n!, k: k!, transA: transA!, transB: transB!, aBatchStride: 0, bBatchStride: 0, accumulate: false,
          }),
        });
      }
    }
  });
});
