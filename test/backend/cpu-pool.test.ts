// The pool's chunk-claim protocol (control.ts): chunks are handed out once each, in order, and a
// word that says the job is exhausted gives nothing, so a late worker cannot run a stale job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkStart, claimChunk, CTRL_WORDS, NEXT } from '../../src/backend/cpu/control.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';

test('claimChunk hands out each chunk of the current job once', () => {
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
  ctrl[NEXT] = 5 << 16;
  const got: number[] = [];
  for (let c = claimChunk(ctrl); c >= 0; c = claimChunk(ctrl)) got.push(c);
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  assert.equal(claimChunk(ctrl), -1, 'an exhausted job stays exhausted');
  ctrl[NEXT] = 2 << 16; // the next job
  assert.deepEqual([claimChunk(ctrl), claimChunk(ctrl), claimChunk(ctrl)], [0, 1, -1]);
});

test('chunkStart cuts the units into chunks one unit apart in size, the larger first', () => {
  for (let units = 1; units <= 70; units++) {
    for (let chunks = 1; chunks <= Math.min(units, 16); chunks++) {
      const sizes = Array.from({ length: chunks }, (_, c) => chunkStart(units, chunks, c + 1) - chunkStart(units, chunks, c));
      assert.equal(chunkStart(units, chunks, 0), 0);
      assert.equal(chunkStart(units, chunks, chunks), units, `${units} units in ${chunks} chunks end at ${units}`);
      const q = Math.floor(units / chunks);
      assert.ok(sizes.every((s, c) => s === (c < units % chunks ? q + 1 : q)), `${units} in ${chunks}: ${sizes}`);
    }
  }
  // In place, Qwen2.5-0.5B's 896-row weight gradients are 14 units: at 2 threads 8 chunks, so that
  // claiming them two at a time leaves each thread 7 units.
  assert.deepEqual(Array.from({ length: 9 }, (_, c) => chunkStart(14, 8, c)), [0, 2, 4, 6, 8, 10, 12, 13, 14]);
});

test('many small and large pooled jobs in a row give the single-thread results', async () => {
  // Small jobs run alone or split depending on how the workers keep up; the results must not care.
  const one = await CpuBackend.create({ threads: 1 });
  const pool = await CpuBackend.create({ threads: 2 });
  try {
    const results = [one, pool].map((be) => {
      const n = 1 << 16;
      const x = be.alloc(n * 4), y = be.alloc(n * 4);
      be.write(x, Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
      for (let r = 0; r < 300; r++) {
        const len = r % 3 === 0 ? n : 40_000 + r;
        be.unary('affine', x, y, len, 1.0001, r * 1e-3);
        be.unary('affine', y, x, len, 0.9999, -r * 1e-3);
      }
      const out = be.readSync(x, 'f32', 0, n);
      be.free(x);
      be.free(y);
      return out;
    });
    assert.deepEqual(results[1], results[0]);
  } finally {
    one.destroy();
    pool.destroy();
  }
});
