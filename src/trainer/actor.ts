/**
 * The actor's work (veRL dp_actor): old/ref log-prob recomputation without gradients, and the PPO
 * policy update over mini- and micro-batches with gradient accumulation, clipping and AdamW.
 * The loss and its gradient with respect to the per-token log-probs and entropies come from src/rl;
 * they enter the autograd graph through the surrogate Σ logp·dLogp + Σ H·dH.
 */
import type { CausalLM } from '../models/llama.js';
import type { AdamW } from '../nn/index.js';
import { computeActorLoss, type ActorLossConfig } from '../rl/index.js';
import { add, mul, noGrad, sum, tensor, tidyAsync } from '../tensor/index.js';
import { takeRows, type RolloutBatch, type StepBatch } from './batch.js';
import { actorForward, fusedChunkRows } from './forward.js';
import { NonFiniteError } from './metrics-accumulator.js';
import { runPpoUpdate, splitMicro, type BatchingOptions, type MicroBatching } from './ppo-update.js';

/**
 * log-probs and entropies of the responses, no gradient: [rows, R] each (zero off the response
 * mask with `removePadding`).
 */
export async function computeLogProbs(model: CausalLM, batch: RolloutBatch, micro: MicroBatching, temperature: number): Promise<{ logp: Float32Array; entropy: Float32Array }> {
  const R = batch.responseLength;
  const logp = new Float32Array(batch.rows * R);
  const entropy = new Float32Array(batch.rows * R);
  const all = Array.from({ length: batch.rows }, (_, i) => i);
  const chunkRows = micro.fusedKernels ? fusedChunkRows(model.config.vocab_size) : 0;
  for (const rows of splitMicro(batch, all, micro)) {
    await tidyAsync(async () => {
      const out = noGrad(() => actorForward(model, batch, rows, temperature, micro.removePadding, chunkRows));
      const lp = out.layout.toGrid((await out.logp.data()) as Float32Array);
      const ent = out.layout.toGrid((await out.entropy.data()) as Float32Array);
      rows.forEach((r, i) => {
        logp.set(lp.subarray(i * R, (i + 1) * R), r * R);
        entropy.set(ent.subarray(i * R, (i + 1) * R), r * R);
      });
    });
  }
  return { logp, entropy };
}

export interface ActorUpdateOptions extends BatchingOptions {
  temperature: number;
  loss: ActorLossConfig;
  seed: number;
  step: number;
}

const additive = new Set(['actor/pg_loss', 'actor/entropy_loss', 'actor/kl_loss']);

/** One training step's policy update. Returns the averaged actor/* metrics. */
export async function updatePolicy(model: CausalLM, optimizer: AdamW, batch: StepBatch, options: ActorUpdateOptions): Promise<Record<string, number>> {
  const R = batch.responseLength;
  const { oldLogProb, advantages } = batch;
  if (options.loss.useKlLoss && !batch.refLogProb) throw new Error('updatePolicy: use_kl_loss needs reference log-probs');
  const chunkRows = options.fusedKernels ? fusedChunkRows(model.config.vocab_size) : 0;
  return runPpoUpdate({
    role: 'actor', model, optimizer, batch, options, additive,
    micro: (micro, agg) => tidyAsync(async () => {
      const { logp, entropy, layout } = actorForward(model, batch, micro, options.temperature, options.removePadding, chunkRows);
      const result = computeActorLoss({
        oldLogProb: takeRows(oldLogProb, R, micro),
        logProb: layout.toGrid((await logp.data()) as Float32Array),
        advantages: takeRows(advantages, R, micro),
        responseMask: takeRows(batch.responseMask, R, micro),
        responseLength: R,
        entropy: layout.toGrid((await entropy.data()) as Float32Array),
        refLogProb: batch.refLogProb ? takeRows(batch.refLogProb, R, micro) : undefined,
      }, { ...options.loss, agg: { ...options.loss.agg, ...agg } });
      if (!Number.isFinite(result.loss)) throw new NonFiniteError('the actor loss', result.loss, options.step);
      // A micro-batch without a valid response token (packed: no outputs) contributes no gradient.
      if (logp.size === 0) return result.metrics;
      let surrogate = sum(mul(logp, tensor(layout.fromGrid(result.dLogProb), logp.shape)));
      if (result.dEntropy) surrogate = add(surrogate, sum(mul(entropy, tensor(layout.fromGrid(result.dEntropy), entropy.shape))));
      surrogate.backward();
      return result.metrics;
    }),
  });
}
