/**
 * Row selection and concatenation of batches, for DAPO dynamic sampling: the kept groups of several
 * generation batches are cut out and joined into the one batch a step trains on. Every per-row
 * array moves with its row, by its width in ROW_FIELD_WIDTHS (batch.ts): a field without a width
 * there is an error, never silently left behind.
 */
import { checkBatch, isRowField, takeRows, widthOf, type BatchShape, type RowArray } from './batch.js';

/** The batch's per-row arrays that are set (not null), with their widths; throws on an array without a width. */
function rowArrays(b: BatchShape, what: string): [string, RowArray, number][] {
  const out: [string, RowArray, number][] = [];
  for (const [key, value] of Object.entries(b)) {
    if (!ArrayBuffer.isView(value)) continue;
    if (!isRowField(key)) throw new TypeError(`${what}: per-row array '${key}' has no width in ROW_FIELD_WIDTHS (src/trainer/batch.ts)`);
    out.push([key, value as RowArray, widthOf(key, b)]);
  }
  return out;
}

/** Rows `index` of `batch` (in that order), every per-row field included. */
export function selectRows<B extends BatchShape>(batch: B, index: readonly number[]): B {
  const out: Record<string, unknown> = {
    ...(batch as unknown as Record<string, unknown>),
    rows: index.length,
    prompts: index.map((r) => batch.prompts[r]!),
    uid: index.map((r) => batch.uid[r]!),
  };
  for (const [key, a, width] of rowArrays(batch, 'selectRows')) out[key] = takeRows(a, width, index);
  return checkBatch(out as unknown as B, 'selectRows');
}

/** The batches' rows one after another. They must share P, R and the set of fields that are set. */
export function concatBatches<B extends BatchShape>(batches: readonly B[]): B {
  const first = batches[0];
  if (!first) throw new Error('concatBatches: no batches');
  const fields = rowArrays(first, 'concatBatches');
  const keys = fields.map(([k]) => k).sort().join(',');
  for (const b of batches) {
    if (b.promptLength !== first.promptLength || b.responseLength !== first.responseLength) {
      throw new Error(`concatBatches: batch shapes differ (P ${b.promptLength} vs ${first.promptLength}, R ${b.responseLength} vs ${first.responseLength})`);
    }
    const bKeys = rowArrays(b, 'concatBatches').map(([k]) => k).sort().join(',');
    if (bKeys !== keys) throw new Error(`concatBatches: batches set different fields (${bKeys} vs ${keys})`);
  }
  const rows = batches.reduce((s, b) => s + b.rows, 0);
  const out: Record<string, unknown> = {
    ...(first as unknown as Record<string, unknown>),
    rows,
    prompts: batches.flatMap((b) => b.prompts),
    uid: batches.flatMap((b) => b.uid),
  };
  for (const [key, a0, width] of fields) {
    const joined = new (a0.constructor as new (n: number) => RowArray)(rows * width);
    let at = 0;
    for (const b of batches) {
      joined.set((b as unknown as Record<string, RowArray>)[key]!, at);
      at += b.rows * width;
    }
    out[key] = joined;
  }
  return checkBatch(out as unknown as B, 'concatBatches');
}
