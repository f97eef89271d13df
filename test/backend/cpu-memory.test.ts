// CpuBackend memory, threading and variant behaviour: allocator reuse and growth, flat footprint
// over many alloc/free cycles, errors on misuse, the plain-SIMD fallback, 1 vs 2 threads, and a
// process that exits without destroy().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MatmulArgs } from '../../src/backend/backend.js';
import { sizeClass } from '../../src/backend/cpu/allocator.js';
import { HEAP_BASE } from '../../src/backend/cpu/control.js';
import { CpuBackend, CpuBuffer } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { Rng } from '../helpers/rng.js';
import { assertSame, runCase } from './cpu-harness.js';

let cpu: CpuBackend;
const rng = new Rng(99);

before(async () => {
  cpu = await CpuBackend.create({ threads: 2 });
});
after(() => cpu.destroy());

const ptr = (b: unknown): number => (b as CpuBuffer).ptr;

describe('allocator', () => {
  test('size classes are 64-byte multiples with at most 25% slack', () => {
    for (const n of [0, 1, 64, 65, 500, 513, 1000, 4097, 123457, 1 << 24]) {
      const c = sizeClass(n);
      assert.ok(c >= n && c % 64 === 0, `class ${c} for ${n}`);
      assert.ok(c <= Math.max(64, n * 1.25 + 64), `class ${c} for ${n} wastes too much`);
    }
  });

  test('a freed block is reused by the next request of its size class', () => {
    const a = cpu.alloc(1000);
    const p = ptr(a);
    assert.equal(p % 64, 0);
    assert.ok(p >= HEAP_BASE);
    cpu.free(a);
    const b = cpu.alloc(1000);
    assert.equal(ptr(b), p);
    cpu.free(b);
    const c = cpu.alloc(sizeClass(1000) - 10); // same class, different request
    assert.equal(ptr(c), p);
    cpu.free(c);
  });

  test('1,000 alloc/free cycles of mixed sizes keep reserved memory and peak flat', () => {
    const sizes = [4, 100, 3000, 4096, 65_536, 250_000, 1 << 20, 3 << 20];
    const base = cpu.memoryStats();
    cpu.resetPeak();
    let reservedAfterWarmup = 0;
    let peakAfterWarmup = 0;
    for (let cycle = 0; cycle < 1000; cycle++) {
      // A different mix and order each cycle, like the tensors of a training step.
      const live = [];
      for (let i = 0; i < 12; i++) live.push(cpu.alloc(sizes[(cycle * 7 + i * 3) % sizes.length]! + (i % 3)));
      for (const b of live.reverse()) cpu.free(b);
      if (cycle === 20) {
        reservedAfterWarmup = cpu.memoryStats().bytesReserved;
        peakAfterWarmup = cpu.memoryStats().peakBytesInUse;
      }
    }
    const end = cpu.memoryStats();
    assert.equal(end.bytesReserved, reservedAfterWarmup, 'reserved memory grew after warm-up');
    assert.equal(end.peakBytesInUse, peakAfterWarmup, 'peak grew after warm-up');
    assert.equal(end.bytesInUse, base.bytesInUse);
    assert.equal(end.liveBuffers, base.liveBuffers);
  });

  test('memory grows for a large buffer, whose far end is usable', () => {
    const before = cpu.memoryStats().bytesReserved;
    const n = 24 << 20; // 96 MiB of f32
    const big = cpu.alloc(n * 4);
    const reserved = cpu.memoryStats().bytesReserved;
    assert.ok(reserved > before && reserved >= ptr(big) + n * 4, `reserved ${reserved} does not cover the block`);
    cpu.fill(big, n, 0.5, 'f32');
    cpu.write(big, new Float32Array([7, 8]), n - 2);
    assert.deepEqual(Array.from(cpu.readSync(big, 'f32', n - 3, 3)), [0.5, 7, 8]);
    cpu.free(big);
  });

  test('exhausting the 4 GiB address space names the requested size', () => {
    assert.throws(() => cpu.alloc(5 * 2 ** 30), /alloc: out of memory allocating 5368709120 bytes/);
    assert.throws(() => cpu.alloc(-1), /alloc: invalid byte length -1/);
  });

  test('memoryStats counts live buffers and bytes; resetPeak restarts the peak', () => {
    const s0 = cpu.memoryStats();
    const a = cpu.alloc(400);
    const b = cpu.alloc(12);
    const s1 = cpu.memoryStats();
    assert.equal(s1.bytesInUse - s0.bytesInUse, 412);
    assert.equal(s1.liveBuffers - s0.liveBuffers, 2);
    cpu.free(a);
    cpu.resetPeak();
    assert.equal(cpu.memoryStats().peakBytesInUse, s0.bytesInUse + 12);
    cpu.free(b);
    assert.deepEqual({ ...cpu.memoryStats(), peakBytesInUse: 0 }, { ...s0, peakBytesInUse: 0, bytesReserved: cpu.memoryStats().bytesReserved });
  });
});

describe('misuse', () => {
  test('using or freeing a freed buffer throws an error naming the op', () => {
    const x = cpu.alloc(16);
    const y = cpu.alloc(16);
    cpu.free(x);
    assert.throws(() => cpu.unary('exp', x, y, 4, 0, 0), /exp: buffer used after it was freed/);
    assert.throws(() => cpu.free(x), /free: buffer used after it was freed/);
    assert.throws(() => cpu.readSync(x, 'f32', 0, 1), /read: buffer used after it was freed/);
    assert.throws(() => cpu.write(x, new Float32Array(1)), /write: buffer used after it was freed/);
    assert.throws(() => cpu.matmul(y, x, y, { batch: 1, m: 2, n: 2, k: 1, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: false }),
      /matmul: buffer used after it was freed/);
    cpu.free(y);
  });

  test('buffers of another backend and undersized buffers are rejected', () => {
    const foreign = new ReferenceBackend().alloc(16);
    const y = cpu.alloc(16);
    assert.throws(() => cpu.unary('neg', foreign, y, 4, 0, 0), /neg: buffer does not belong to this CPU backend/);
    assert.throws(() => cpu.unary('neg', y, y, 5, 0, 0), /neg: x needs 5 elements but its buffer holds 16 bytes/);
    assert.throws(() => cpu.write(y, new Float32Array(5)), /write: 5 elements at offset 0 overflow a 16-byte buffer/);
    cpu.free(y);
  });

  test('read returns a copy that later writes and frees do not change', async () => {
    const x = cpu.alloc(16);
    cpu.write(x, new Float32Array([1, 2, 3, 4]));
    const sync = cpu.readSync(x, 'f32', 1, 2);
    const viaPromise = await cpu.read(x, 'f32', 0, 4);
    cpu.write(x, new Float32Array([9, 9, 9, 9]));
    cpu.free(x);
    const y = cpu.alloc(16); // reuses the block
    cpu.fill(y, 4, -1, 'f32');
    assert.deepEqual(Array.from(sync), [2, 3]);
    assert.deepEqual(Array.from(viaPromise), [1, 2, 3, 4]);
    cpu.free(y);
  });

  test('a destroyed backend refuses work', async () => {
    const be = await CpuBackend.create({ threads: 2 });
    const x = be.alloc(16);
    be.destroy();
    be.destroy();
    assert.throws(() => be.fill(x, 4, 0, 'f32'), /fill: the CPU backend was destroyed/);
    assert.throws(() => be.alloc(4), /alloc: the CPU backend was destroyed/);
  });
});

describe('variants and threads', () => {
  const mm = (m: number, n: number, k: number, transA: boolean, transB: boolean): MatmulArgs =>
    ({ batch: 1, m, n, k, transA, transB, aBatchStride: 0, bBatchStride: 0, accumulate: false });

  test('the kernels static data fits below the first buffer', () => {
    // Instantiating a module rewrites its data segments in the shared memory (from 65536, the
    // --memoryBase), so they must end below HEAP_BASE. The data section's size bounds them.
    for (const variant of ['simd', 'relaxed']) {
      const bytes = readFileSync(new URL(`../../kernels/${variant}.wasm`, import.meta.url));
      let pos = 8;
      let dataSize = 0;
      while (pos < bytes.length) {
        const id = bytes[pos++]!;
        let size = 0;
        for (let shift = 0; ; shift += 7) {
          const byte = bytes[pos++]!;
          size += (byte & 0x7f) * 2 ** shift;
          if (byte < 0x80) break;
        }
        if (id === 11) dataSize = size;
        pos += size;
      }
      assert.ok(65536 + dataSize <= HEAP_BASE, `${variant}: ${dataSize} bytes of data overlap the heap`);
    }
  });

  test('auto picks relaxed SIMD where the runtime validates it; simd can be forced', async () => {
    assert.ok(cpu.kernelVariant === 'relaxed' || cpu.kernelVariant === 'simd');
    const plain = await CpuBackend.create({ threads: 2, variant: 'simd' });
    try {
      assert.equal(plain.kernelVariant, 'simd');
      const ref = new ReferenceBackend();
      for (const [m, n, k] of [[1, 9, 7], [37, 45, 53], [130, 70, 90]]) {
        assertSame(plain, ref, `simd matmul ${m}x${n}x${k}`, {
          inputs: { a: rng.floats(m! * k!), b: rng.floats(k! * n!) }, outputs: { out: m! * n! }, compare: ['out'],
          call: (be, b) => be.matmul(b.a!, b.b!, b.out!, mm(m!, n!, k!, false, true)),
        }, 1e-4);
      }
      assertSame(plain, ref, 'simd softmax', {
        inputs: { x: rng.floats(50 * 999, 3) }, outputs: { y: 50 * 999 }, compare: ['y'],
        call: (be, b) => be.softmax(b.x!, b.y!, 50, 999),
      });
      // The exp of the row kernels without fused multiply-add (kernels/simd.ts expNeg).
      const [rows, vocab] = [5, 1003];
      assertSame(plain, ref, 'simd logprobEntropy', {
        inputs: { z: rng.floats(rows * vocab, 3), ids: Int32Array.from({ length: rows }, (_, i) => i * 7), dl: rng.floats(rows), de: rng.floats(rows) },
        outputs: { lp: rows, ent: rows, lse: rows, dz: rows * vocab }, compare: ['lp', 'ent', 'lse', 'dz'],
        call: (be, b) => {
          be.logprobEntropy(b.z!, b.ids!, b.lp!, b.ent!, b.lse!, rows, vocab, 0.8);
          be.logprobEntropyBackward(b.z!, b.ids!, b.lse!, b.ent!, b.dl!, b.de!, b.dz!, rows, vocab, 0.8);
        },
      });
    } finally {
      plain.destroy();
    }
  });

  test('1 thread and 2 threads give the same matmul and attention results', async () => {
    const one = await CpuBackend.create({ threads: 1 });
    try {
      assert.equal(one.threads, 1);
      assert.equal(cpu.threads, 2);
      for (const [m, n, k, tA, tB] of [[256, 200, 96, false, false], [9, 700, 64, true, false], [3, 513, 100, false, true]] as const) {
        const c = {
          inputs: { a: rng.floats(m * k), b: rng.floats(k * n) }, outputs: { out: m * n }, compare: ['out'],
          call: (be: CpuBackend | typeof one, b: Record<string, import('../../src/backend/backend.js').DeviceBuffer>) =>
            be.matmul(b.a!, b.b!, b.out!, mm(m, n, k, tA, tB)),
        };
        const r1 = runCase(one, c as never).out!;
        const r2 = runCase(cpu, c as never).out!;
        let diff = 0;
        for (let i = 0; i < r1.length; i++) diff = Math.max(diff, Math.abs(r1[i]! - r2[i]!));
        assert.ok(diff <= 1e-6, `matmul ${m}x${n}x${k}: 1 vs 2 threads differ by ${diff}`);
      }
    } finally {
      one.destroy();
    }
  });

  test('idle workers stop spinning and sleep', async () => {
    const x = cpu.alloc(4 * 200_000);
    // Large enough to split; the split policy runs each way twice before it compares them.
    for (let i = 0; i < 6; i++) cpu.fill(x, 200_000, 1, 'f32');
    await new Promise((r) => setTimeout(r, 100)); // past the spin window
    const t0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 300));
    const used = process.cpuUsage(t0);
    // A worker still spinning would burn about 300 ms of CPU in this window.
    assert.ok((used.user + used.system) / 1000 < 100, `idle process used ${(used.user + used.system) / 1000} ms of CPU`);
    cpu.free(x);
  });

  test('a process that never calls destroy() still exits', () => {
    const url = new URL('../../src/backend/cpu/index.js', import.meta.url).href;
    const script = `import { CpuBackend } from '${url}';
      const be = await CpuBackend.create({ threads: 2 });
      const a = be.alloc(4 * 300 * 300);
      be.fill(a, 300 * 300, 1, 'f32');
      be.matmul(a, a, be.alloc(4 * 300 * 300), { batch: 1, m: 300, n: 300, k: 300, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: false });
      console.log('done');`;
    const file = join(mkdtempSync(join(tmpdir(), 'cpu-exit-')), 'exit.mjs');
    writeFileSync(file, script);
    const res = spawnSync(process.execPath, [file], { timeout: 20_000, encoding: 'utf8' });
    assert.equal(res.signal, null, 'the process had to be killed: workers kept it alive');
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout.trim(), 'done');
  });
});
