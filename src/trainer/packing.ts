/**
 * `use_remove_padding`: the valid tokens of a micro-batch's rows (attention mask 1; prompts are
 * left-padded, responses right-padded) concatenated into one sequence, each token keeping its own
 * position id and attending only to its own row's tokens (attention's `keyStart` = where the row
 * begins in the packed sequence), as veRL packs them for flash-attention's variable-length kernel.
 * Only the hidden states that predict a valid response token go on to the vocabulary-wide head.
 * Rows without a valid response token are left out: nothing of theirs is read.
 */
import type { RolloutBatch } from './batch.js';

export interface PackedRows {
  /** Packed sequence length N: the valid tokens of the rows that have a response. */
  tokens: number;
  /** [N] token ids, position ids and each token's first visible key (its row's start in the sequence). */
  ids: Int32Array;
  positions: Int32Array;
  keyStart: Int32Array;
  /** [M] packed index of the hidden state predicting each valid response token. */
  predictors: Int32Array;
  /** [M] where each valid response token sits in the micro-batch's [rows, R] grid (i * R + t). */
  slots: Int32Array;
  /** [M] the response token ids at `slots`. */
  targets: Int32Array;
}

/** Packs rows `rows` of `batch` (a micro-batch, in that order). */
export function packRows(batch: RolloutBatch, rows: readonly number[]): PackedRows {
  const P = batch.promptLength, R = batch.responseLength, S = P + R;
  const ids: number[] = [], positions: number[] = [], keyStart: number[] = [];
  const predictors: number[] = [], slots: number[] = [], targets: number[] = [];
  const packedAt = new Int32Array(S);
  rows.forEach((r, i) => {
    if (batch.responseLengths[r] === 0) return;
    const start = ids.length;
    for (let j = 0; j < S; j++) {
      if (batch.attentionMask[r * S + j]! > 0) {
        packedAt[j] = ids.length;
        ids.push(batch.inputIds[r * S + j]!);
        positions.push(batch.positionIds[r * S + j]!);
        keyStart.push(start);
      } else {
        packedAt[j] = -1;
      }
    }
    for (let t = 0; t < R; t++) {
      if (!(batch.responseMask[r * R + t]! > 0)) continue;
      // Response token t is predicted at the position before it: the last prompt token for t = 0.
      const at = P + t - 1 >= 0 ? packedAt[P + t - 1]! : -1;
      if (at < 0) throw new Error(`packRows: row ${r}: response token ${t} follows a padded position (attention mask 0), so no valid token predicts it`);
      predictors.push(at);
      slots.push(i * R + t);
      targets.push(batch.responses[r * R + t]!);
    }
  });
  return {
    tokens: ids.length,
    ids: Int32Array.from(ids), positions: Int32Array.from(positions), keyStart: Int32Array.from(keyStart),
    predictors: Int32Array.from(predictors), slots: Int32Array.from(slots), targets: Int32Array.from(targets),
  };
}

/**
 * Where a forward pass's per-token outputs sit in the micro-batch's [rows, R] response grid: the
 * grid itself (padded path) or the packed valid tokens. The JS side (losses, stored log-probs)
 * works on grids; gradients go back in the outputs' own layout.
 */
export interface ResponseLayout {
  /** Grid values [rows * R] from outputs in this layout; zeros off the response mask when packed. */
  toGrid(values: Float32Array): Float32Array;
  /** Outputs-layout values from a grid (e.g. the loss gradient with respect to the log-probs). */
  fromGrid(grid: Float32Array): Float32Array;
}

export const gridLayout: ResponseLayout = { toGrid: (v) => v, fromGrid: (g) => g };

export function packedLayout(packed: PackedRows, rows: number, R: number): ResponseLayout {
  const { slots } = packed;
  return {
    toGrid(values) {
      const grid = new Float32Array(rows * R);
      for (let m = 0; m < slots.length; m++) grid[slots[m]!] = values[m]!;
      return grid;
    },
    fromGrid(grid) {
      return Float32Array.from(slots, (s) => grid[s]!);
    },
  };
}
