/**
 * Forward passes over rows of a rollout batch: log-probs and entropies of the responses under the
 * actor (or reference), and the critic's values, each taken at the position before every response
 * token (veRL's `[:, -R-1:-1]` slice). Padded path: rows as they are, padded keys masked; padded
 * queries compute harmlessly and are dropped by the response mask. Packed path
 * (`use_remove_padding`, packing.ts): the valid tokens only, in one sequence, and the heads run on
 * the positions that predict valid response tokens. Each result comes with its layout.
 */
import { MASKED_KEY_BIAS } from '../generation/index.js';
import type { CausalLM, DecoderModel, ValueModel } from '../models/llama.js';
import { embedding, reshape, slice, tensor, type Tensor } from '../tensor/index.js';
import { takeRows, type RolloutBatch } from './batch.js';
import { gridLayout, packedLayout, packRows, type PackedRows, type ResponseLayout } from './packing.js';

/** Final hidden states at the R positions that predict the response tokens: [rows, R, hidden]. */
function responseHidden(backbone: DecoderModel, batch: RolloutBatch, rows: readonly number[]): Tensor {
  const S = batch.promptLength + batch.responseLength;
  const mb = rows.length;
  const mask = takeRows(batch.attentionMask, S, rows);
  const bias = mask.map((m) => (m > 0 ? 0 : MASKED_KEY_BIAS));
  const hidden = backbone.forward(tensor(takeRows(batch.inputIds, S, rows), [mb, S], 'i32'), {
    positions: tensor(takeRows(batch.positionIds, S, rows), [mb, S], 'i32'),
    keyBias: tensor(bias, [mb, S]),
  });
  return slice(hidden, 1, batch.promptLength - 1, S - 1);
}

/** Final hidden states of the packed rows at the positions that predict valid response tokens: [M, hidden]. */
function packedResponseHidden(backbone: DecoderModel, packed: PackedRows): Tensor {
  const N = packed.tokens;
  const hidden = backbone.forward(tensor(packed.ids, [1, N], 'i32'), {
    positions: tensor(packed.positions, [1, N], 'i32'),
    keyStart: tensor(packed.keyStart, [1, N], 'i32'),
  });
  // A gather whose backward scatter-adds into the rows it picked.
  return embedding(reshape(hidden, [N, hidden.shape[2]!]), tensor(packed.predictors, [packed.predictors.length], 'i32'));
}

/**
 * Bytes of one chunk's logits with `use_fused_kernels` (the update holds a chunk's logits and their
 * gradient at once): 256 MiB, 441 rows of Qwen2.5's 151,936-token vocabulary.
 */
export const FUSED_LOGITS_CHUNK_BYTES = 256 * 2 ** 20;

/** Rows per chunk of the output layer with `use_fused_kernels` (at least one). */
export function fusedChunkRows(vocab: number): number {
  return Math.max(1, Math.floor(FUSED_LOGITS_CHUNK_BYTES / (vocab * 4)));
}

export interface ActorOutputs {
  /** log p(response token) and entropy: [rows, R] (padded) or [M] (packed), see `layout`. */
  logp: Tensor;
  entropy: Tensor;
  layout: ResponseLayout;
}

/**
 * log p(response token) and entropy at `temperature`; with logitsChunkRows > 0 the output layer
 * runs that many rows at a time (CausalLM.logprobEntropy). Temperature 0 means greedy rollouts (vLLM's
 * reading, which veRL passes through); their log-probs are taken at temperature 1, as the sampler
 * reports a greedy token's, since dividing the logits by 0 has no meaning.
 */
export function actorForward(model: CausalLM, batch: RolloutBatch, rows: readonly number[], temperature: number, removePadding = false,
  logitsChunkRows = 0): ActorOutputs {
  const T = temperature > 0 ? temperature : 1;
  if (removePadding) {
    const packed = packRows(batch, rows);
    const M = packed.targets.length;
    const layout = packedLayout(packed, rows.length, batch.responseLength);
    if (M === 0) return { logp: tensor(new Float32Array(0), [0]), entropy: tensor(new Float32Array(0), [0]), layout };
    const out = model.logprobEntropy(packedResponseHidden(model.model, packed), tensor(packed.targets, [M], 'i32'), T, logitsChunkRows);
    return { ...out, layout };
  }
  const hidden = responseHidden(model.model, batch, rows);
  const ids = tensor(takeRows(batch.responses, batch.responseLength, rows), [rows.length, batch.responseLength], 'i32');
  return { ...model.logprobEntropy(hidden, ids, T, logitsChunkRows), layout: gridLayout };
}

/** V(state before each response token): [rows, R] (padded) or [M] (packed), see `layout`. */
export function criticForward(model: ValueModel, batch: RolloutBatch, rows: readonly number[], removePadding = false): { values: Tensor; layout: ResponseLayout } {
  if (removePadding) {
    const packed = packRows(batch, rows);
    const M = packed.targets.length;
    const layout = packedLayout(packed, rows.length, batch.responseLength);
    if (M === 0) return { values: tensor(new Float32Array(0), [0]), layout };
    return { values: reshape(model.score.forward(packedResponseHidden(model.model, packed)), [M]), layout };
  }
  const v = model.score.forward(responseHidden(model.model, batch, rows));
  return { values: reshape(v, [rows.length, batch.responseLength]), layout: gridLayout };
}
