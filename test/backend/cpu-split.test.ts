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

  /**
   * Jobs driven through the policy as ThreadPool.run drives them, on synthetic times (seconds): the
   * workers sleep unless the last split left them spinning; a wake makes them ready `wakeCalls`
   * calls later (never: Infinity), and the first call of each wake loses `wakeLoss` (a woken worker
   * that takes the main thread's core). A split with sleeping workers takes `cold`.
   */
  interface Machine { alone: number; split: number; cold: number; wakeCalls: number; wakeLoss: number; stall?: (call: number) => number }
  const W = 1 << 20;
  const drive = (p: SplitPolicy, calls: number, m: Machine): { ways: string; seconds: number } => {
    let ways = '', seconds = 0, awake = false, wokenAt = -1;
    for (let i = 0; i < calls; i++) {
      if (wokenAt >= 0 && i - wokenAt >= m.wakeCalls) awake = true;
      const split = p.choose(slot, W, awake);
      let s: number;
      if (!split && p.waking(slot)) {
        s = m.alone + (wokenAt < 0 ? m.wakeLoss : 0);
        if (wokenAt < 0) wokenAt = i;
        p.recordWake(slot, s, W);
        ways += 'w';
      } else {
        const timed = p.wantsTime(slot, split);
        if (!split && timed && p.splits(slot)) awake = false;
        s = split ? (awake ? m.split : m.cold) + (m.stall?.(i) ?? 0) : m.alone;
        if (timed) p.record(slot, split, s, W);
        else p.skip(slot, split);
        if (split) awake = p.keepSpinning(slot);
        if (!awake) wokenAt = -1;
        ways += split ? 'S' : 'a';
      }
      seconds += s;
    }
    return { ways, seconds };
  };

  test('an idle machine: splitting 1.8x faster is found although a split from sleeping workers is slower than alone', () => {
    // A fill of 1M floats: 73 us alone, 41 us split with spinning workers, 180 us with sleeping ones.
    const idle: Machine = { alone: 73e-6, split: 41e-6, cold: 180e-6, wakeCalls: 3, wakeLoss: 0 };
    const p = new SplitPolicy(8);
    const { ways } = drive(p, 300, idle);
    assert.equal(p.splits(slot), true, ways);
    // The warm-up waits for the workers before each timed split, then splits from there on, exploring alone now and then.
    assert.ok(ways.indexOf('S') > 0 && ways.slice(0, ways.indexOf('S')).includes('w'), ways);
    assert.ok((ways.slice(100).match(/S/g) ?? []).length >= 195, ways);
  });

  test('an idle machine: one stall of a split sample moves the policy to alone, and it comes back within a bounded number of calls', () => {
    const p = new SplitPolicy(8);
    const idle: Machine = { alone: 73e-6, split: 41e-6, cold: 180e-6, wakeCalls: 3, wakeLoss: 0, stall: (i) => (i >= 100 && i < 104 ? 4e-3 : 0) };
    const { ways } = drive(p, 1000, idle);
    const back = ways.indexOf('SSSSSSSSSS', 104);
    // 4 ms of stall: alone until it has spent 32 times the inflated split mean (~450 calls), then
    // the exploration wins and repeats until the split mean is back below alone (~12 calls).
    assert.ok(ways.slice(104, 120).includes('a') && back > 0 && back < 700, ways);
    assert.equal(p.splits(slot), true, ways);
    assert.ok(!ways.slice(back).includes('aa'), ways);
  });

  test('a loaded machine: waking the workers costs ms, splitting is slower, and auto stays within a few % of alone', () => {
    // No core to spare: the woken worker takes the main thread's core for 8 ms and is never ready
    // in time; a split takes 80 us against 73 us alone, and now and then stalls for 10 ms.
    const busy: Machine = { alone: 73e-6, split: 80e-6, cold: 180e-6, wakeCalls: Infinity, wakeLoss: 8e-3, stall: (i) => (i % 7 === 0 ? 10e-3 : 0) };
    const p = new SplitPolicy(8);
    const calls = 20_000;
    const { ways, seconds } = drive(p, calls, busy);
    assert.equal(p.splits(slot), false);
    const over = seconds / (calls * busy.alone);
    assert.ok(over < 1.07, `auto took ${over.toFixed(3)} times alone; ${(ways.match(/[wS]/g) ?? []).length} calls woke or split`);
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
    // 130x70x90: rows; 24x2000x300: few rows per chunk against a wide B, so by panels. TN 6x17000:
    // one thread packs B a 16-step slice of 2048 panels at a time (kernels/matmul.ts SLICE_PANELS).
    for (const [m, n, k] of [[130, 70, 90], [24, 2000, 300], [6, 3001, 40], [6, 17000, 20]]) {
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
