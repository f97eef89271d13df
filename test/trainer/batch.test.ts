// The step batch: sizes checked on construction with errors that name the field, response lengths
// counted once by the rollout's assembly, and row selection / concatenation driven by the one
// field-to-width table, so every per-row field moves with its row and an unknown one is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assembleBatch, checkBatch, responseIdsOf, ROW_FIELD_WIDTHS, widthOf, type RowField, type StepBatch,
} from '../../src/trainer/batch.js';
import { concatBatches, selectRows } from '../../src/trainer/batch-rows.js';
import type { PromptRow } from '../../src/trainer/dataset.js';

const P = 3;
const R = 4;

function prompt(i: number): PromptRow {
  return { ids: Array.from({ length: 1 + (i % P) }, (_, j) => 10 + j), text: `p${i}`, dataSource: 'x', groundTruth: null, index: i };
}

/** A rollout of `lengths.length` rows whose row r has lengths[r] valid response tokens (ids 100·r + t). */
function rollout(lengths: number[]) {
  const rows = lengths.length;
  const responseMask = new Float32Array(rows * R);
  lengths.forEach((len, r) => responseMask.fill(1, r * R, r * R + len));
  return assembleBatch({
    prompts: lengths.map((_, r) => prompt(r)), uid: lengths.map((_, r) => Math.floor(r / 2)), promptLength: P, responseLength: R,
    responseIds: Int32Array.from(responseMask, (m, i) => m * (100 * Math.floor(i / R) + (i % R))), responseMask, width: R, padTokenId: 0,
  });
}

/**
 * A step batch with every per-row field of the table set, each value tagging its row and field:
 * row r of field number f holds 1000·f + 10·r + j at column j.
 */
function fullBatch(rows: number, tag = 0): StepBatch {
  const base = rollout(Array.from({ length: rows }, (_, r) => r % (R + 1)));
  const fields = Object.keys(ROW_FIELD_WIDTHS) as RowField[];
  const out: Record<string, unknown> = { ...base };
  fields.forEach((field, f) => {
    const width = widthOf(field, base);
    const values = Array.from({ length: rows * width }, (_, i) => tag + 1000 * f + 10 * Math.floor(i / width) + (i % width));
    const kind = (base as unknown as Record<string, unknown>)[field];
    const float64 = field === 'taskScores' || field === 'overlongPenalties' || field === 'rowKl';
    out[field] = kind instanceof Int32Array ? Int32Array.from(values) : float64 ? Float64Array.from(values) : Float32Array.from(values);
  });
  return checkBatch(out as unknown as StepBatch, 'test batch');
}

test('assembleBatch counts each response length once, from the mask, and lays out the padded rows', () => {
  const b = rollout([4, 0, 2]);
  assert.deepEqual(Array.from(b.responseLengths), [4, 0, 2]);
  assert.deepEqual(responseIdsOf(b, 2), [200, 201]);
  assert.deepEqual(responseIdsOf(b, 1), []);
  assert.equal(b.rewardBaselines, null);
  // Row 2's prompt (3 ids) fills P; its response follows at P.
  assert.deepEqual(Array.from(b.inputIds.subarray(2 * (P + R), 3 * (P + R))), [10, 11, 12, 200, 201, 0, 0]);
  assert.deepEqual(Array.from(b.attentionMask.subarray(2 * (P + R), 3 * (P + R))), [1, 1, 1, 1, 1, 0, 0]);
});

test('a size mismatch on construction is an error naming the field, the rows and the width', () => {
  const good = fullBatch(3);
  assert.equal(checkBatch(good, 'step batch'), good);
  assert.throws(() => checkBatch({ ...good, advantages: new Float32Array(3 * R + 1) }, 'step batch'),
    /^RangeError: step batch: advantages has 13 values, expected 3 rows × R = 4 = 12$/);
  assert.throws(() => checkBatch({ ...good, inputIds: new Int32Array(3 * R) }, 'step batch'),
    /step batch: inputIds has 12 values, expected 3 rows × P \+ R = 3 \+ 4 = 21/);
  assert.throws(() => checkBatch({ ...good, promptMask: new Float32Array(2 * P) }, 'step batch'),
    /promptMask has 6 values, expected 3 rows × P = 3 = 9/);
  assert.throws(() => checkBatch({ ...good, rewardBaselines: new Float32Array(4) }, 'rollout batch'),
    /rollout batch: rewardBaselines has 4 values, expected 3 rows × 1 = 3/);
  assert.throws(() => checkBatch({ ...good, uid: [0, 0] }, 'step batch'), /step batch: uid has 2 entries, expected one per row \(3\)/);
  assert.throws(() => checkBatch({ ...good, prompts: [] }, 'step batch'), /prompts has 0 entries/);
  // A field that is not set (null) is not checked.
  assert.doesNotThrow(() => checkBatch({ ...good, values: null, refLogProb: null, rowKl: null }, 'step batch'));
});

test('an array under a key without a width is refused, by the check and by row selection', () => {
  const withExtra = { ...fullBatch(2), entropy: new Float32Array(2 * R) };
  assert.throws(() => checkBatch(withExtra, 'step batch'), /step batch: per-row array 'entropy' has no width in ROW_FIELD_WIDTHS/);
  assert.throws(() => selectRows(withExtra, [1]), /selectRows: per-row array 'entropy' has no width/);
  assert.throws(() => concatBatches([withExtra, withExtra]), /concatBatches: per-row array 'entropy' has no width/);
});

test('selectRows moves every field of the table with its row', () => {
  const b = fullBatch(4);
  const index = [3, 0, 3];
  const s = selectRows(b, index);
  assert.equal(s.rows, 3);
  assert.deepEqual(s.prompts.map((p) => p.text), ['p3', 'p0', 'p3']);
  assert.deepEqual(s.uid, [1, 0, 1]);
  for (const field of Object.keys(ROW_FIELD_WIDTHS) as RowField[]) {
    const width = widthOf(field, b);
    const src = b[field]!;
    const got = s[field]!;
    assert.equal(got.constructor, src.constructor, `${field} keeps its array type`);
    assert.notEqual(got, src, `${field} is a new array`);
    const want = index.flatMap((r) => Array.from(src.subarray(r * width, (r + 1) * width)));
    assert.deepEqual(Array.from(got), want, `${field}: rows ${index.join(', ')}`);
  }
  // Fields that are not set stay unset.
  const partial = selectRows({ ...b, values: null, rowKl: null }, [1]);
  assert.equal(partial.values, null);
  assert.equal(partial.rowKl, null);
  assert.deepEqual(Array.from(partial.responseLengths), [b.responseLengths[1]]);
});

test('concatBatches joins every field of the table and refuses batches that set different fields', () => {
  const a = fullBatch(2);
  const b = fullBatch(3, 0.5);
  const j = concatBatches([a, b]);
  assert.equal(j.rows, 5);
  for (const field of Object.keys(ROW_FIELD_WIDTHS) as RowField[]) {
    assert.deepEqual(Array.from(j[field]!), [...Array.from(a[field]!), ...Array.from(b[field]!)], field);
  }
  assert.throws(() => concatBatches([a, { ...b, values: null }]), /concatBatches: batches set different fields/);
  assert.throws(() => concatBatches([a, { ...b, responseLength: R + 1 }]), /batch shapes differ/);
});
