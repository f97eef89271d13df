// KVCache.keepRows on every backend: the kept rows' keys and values, moved to the front within the
// same buffers, equal what was written to them, and the cache then takes writes of the new batch.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { KVCache } from '../../src/models/kv-cache.js';
import * as T from '../../src/tensor/index.js';
import { openWebGpu } from '../backend/webgpu-harness.js';
import { Rng } from '../helpers/rng.js';

const { gpu, skip } = await openWebGpu();
const cpu = await CpuBackend.create({ threads: 2 });
after(() => {
  gpu?.destroy();
  cpu.destroy();
});

const [LAYERS, ROWS, MAX_LEN, HEADS, DIM] = [2, 40, 9, 2, 3];

function values(rows: number, len: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: rows * len * HEADS * DIM }, () => rng.normal());
}

/** Positions [0, len) of row `row` of a [rows, maxLen, H, D] array. */
function rowOf(all: Float32Array, maxLen: number, row: number, len: number): number[] {
  const per = HEADS * DIM;
  return Array.from(all.subarray(row * maxLen * per, row * maxLen * per + len * per));
}

const backends: [string, () => Backend | null, string | false][] = [
  ['reference', () => new ReferenceBackend(), false],
  ['cpu', () => cpu, false],
  ['webgpu', () => gpu, skip],
];

describe('KVCache.keepRows', () => {
  for (const [name, make, skipReason] of backends) {
    test(`${name}: kept rows move to the front unchanged; later writes are of the kept batch`, { skip: skipReason }, async () => {
      const backend = make()!;
      const rng = new Rng(3);
      const cache = new KVCache(LAYERS, ROWS, MAX_LEN, HEADS, DIM, backend);
      try {
        // Four positions written in two calls, as a prefill and a decoding step would.
        const written: Float32Array[][] = [];
        for (const len of [3, 1]) {
          const step: Float32Array[] = [];
          for (let layer = 0; layer < LAYERS; layer++) {
            const k = values(ROWS, len, rng);
            const v = values(ROWS, len, rng);
            const kt = T.tensor(k, [ROWS, len, HEADS, DIM], 'f32', backend);
            const vt = T.tensor(v, [ROWS, len, HEADS, DIM], 'f32', backend);
            cache.write(layer, kt, vt);
            kt.dispose();
            vt.dispose();
            step.push(k, v);
          }
          cache.length += len;
          written.push(step);
        }
        // Row 0 stays in place, a run of 14 shifts by 4, a run of 21 (more than one scratch) by 5.
        const keep = [0, ...Array.from({ length: 14 }, (_, i) => 5 + i), ...Array.from({ length: 21 }, (_, i) => 19 + i)];
        cache.keepRows(keep);
        assert.equal(cache.batch, keep.length);
        assert.equal(cache.length, 4);
        for (let layer = 0; layer < LAYERS; layer++) {
          for (const [which, tensors] of [[0, cache.keys], [1, cache.values]] as const) {
            assert.deepEqual(tensors[layer]!.shape, [keep.length, MAX_LEN, HEADS, DIM]);
            const got = (await tensors[layer]!.data()) as Float32Array;
            keep.forEach((row, slot) => {
              const expected = [
                ...rowOf(written[0]![layer * 2 + which]!, 3, row, 3),
                ...rowOf(written[1]![layer * 2 + which]!, 1, row, 1),
              ];
              assert.deepEqual(rowOf(got, MAX_LEN, slot, 4), expected, `layer ${layer} ${which ? 'values' : 'keys'}: slot ${slot} holds row ${row}`);
            });
          }
        }
        const k = T.tensor(values(keep.length, 1, rng), [keep.length, 1, HEADS, DIM], 'f32', backend);
        cache.write(0, k, k);
        const wrong = T.tensor(values(ROWS, 1, rng), [ROWS, 1, HEADS, DIM], 'f32', backend);
        assert.throws(() => cache.write(0, wrong, wrong), /do not fit a cache of \[36, 9, 2, 3\]/);
        k.dispose();
        wrong.dispose();
      } finally {
        cache.dispose();
      }
    });
  }

  test('rows out of order, repeated, out of range or none are refused, naming the rows', () => {
    const cache = new KVCache(1, 4, 2, 1, 1, new ReferenceBackend());
    for (const bad of [[2, 1], [1, 1], [0, 4], [-1, 2]]) {
      assert.throws(() => cache.keepRows(bad), new RegExp(`ascending and distinct in \\[0, 4\\), got ${bad.join(', ')}`));
    }
    assert.throws(() => cache.keepRows([]), /at least one row must stay/);
    cache.dispose();
  });
});
