/**
 * Entropy bonus. The engine computes per-token entropy from the logits; this file aggregates it
 * and hands back ∂loss/∂entropy so the trainer can seed the backward pass from the entropy tensor.
 */
import { aggWeights, weightedSum, type AggOptions } from './agg.js';
import { assertLength, rowsOf, type FloatArray, type LossAggMode } from './types.js';

/**
 * entropy, responseMask: `[batch, responseLength]` -> `entropyLoss = agg(H)` (logged as
 * `actor/entropy_loss`) and dEntropy = ∂entropyLoss/∂H = the aggregation weights. The actor loss
 * subtracts `entropy_coeff·entropyLoss`, so its gradient is `−entropy_coeff·dEntropy`.
 */
export function computeEntropyLoss(
  args: { entropy: FloatArray; responseMask: FloatArray; responseLength: number },
  lossAggMode: LossAggMode = 'token-mean',
  agg?: AggOptions,
): { entropyLoss: number; dEntropy: Float32Array } {
  rowsOf('entropy', args.entropy, args.responseLength);
  assertLength(args.entropy.length, { responseMask: args.responseMask });
  const w = aggWeights(args.responseMask, args.responseLength, lossAggMode, agg);
  return { entropyLoss: weightedSum(args.entropy, w), dEntropy: Float32Array.from(w) };
}

/**
 * Reference per-row entropy, `H = logsumexp(z) − Σ softmax(z)·z` with z = logits/temperature
 * (veRL `entropy_from_logits`). logits: `[rows, vocabSize]` -> `[rows]`. For checking the engine's
 * fused kernel, not for the training path.
 */
export function entropyFromLogits(logits: ArrayLike<number>, vocabSize: number, temperature = 1): Float64Array {
  const rows = rowsOf('logits', logits, vocabSize);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let max = -Infinity;
    for (let j = 0; j < vocabSize; j++) max = Math.max(max, logits[i * vocabSize + j]! / temperature);
    let sumExp = 0;
    let sumExpZ = 0;
    for (let j = 0; j < vocabSize; j++) {
      const z = logits[i * vocabSize + j]! / temperature;
      const e = Math.exp(z - max);
      sumExp += e;
      sumExpZ += e * z;
    }
    out[i] = max + Math.log(sumExp) - sumExpZ / sumExp;
  }
  return out;
}
