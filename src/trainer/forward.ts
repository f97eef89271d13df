/**
 * Forward passes over rows of a rollout batch: log-probs and entropies of the responses under the
 * actor (or reference), and the critic's values, each taken at the position before every response
 * token (veRL's `[:, -R-1:-1]` slice). Padded keys are masked; padded queries compute harmlessly
 * and are dropped by the response mask.
 */
import { MASKED_KEY_BIAS } from '../generation/index.js';
import type { CausalLM, DecoderModel, ValueModel } from '../models/llama.js';
import { logprobEntropy, reshape, slice, tensor, type Tensor } from '../tensor/index.js';
import { takeRows, type RolloutBatch } from './batch.js';

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

/**
 * log p(response token) and entropy at `temperature`: both [rows, R]. Temperature 0 means greedy
 * rollouts (vLLM's reading, which veRL passes through); their log-probs are taken at temperature 1,
 * as the sampler reports a greedy token's, since dividing the logits by 0 has no meaning.
 */
export function actorForward(model: CausalLM, batch: RolloutBatch, rows: readonly number[], temperature: number): { logp: Tensor; entropy: Tensor } {
  const h = responseHidden(model.model, batch, rows);
  const logits = model.logits(h);
  const ids = tensor(takeRows(batch.responses, batch.responseLength, rows), [rows.length, batch.responseLength], 'i32');
  return logprobEntropy(logits, ids, temperature > 0 ? temperature : 1);
}

/** V(state before each response token): [rows, R]. */
export function criticForward(model: ValueModel, batch: RolloutBatch, rows: readonly number[]): Tensor {
  const v = model.score.forward(responseHidden(model.model, batch, rows));
  return reshape(v, [rows.length, batch.responseLength]);
}
