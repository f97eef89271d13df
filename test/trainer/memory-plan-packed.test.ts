// The memory plan's micro-batch figures against what a training micro-batch really allocates: the
// peak bytes of an actor forward and backward on the CPU backend, packed (use_remove_padding) and
// padded, beside the plan's estimate for that micro-batch. Packed, the plan sizes activations by the
// valid tokens and the head by the predicted tokens; with a token budget by the budget. (The
// reference backend allocates the same bytes for every shape here, 2026-12-03, at some 20 times the
// time: its float64 loops took a minute of the suite.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { parseModelConfig, type ModelConfig } from '../../src/models/config.js';
import { CausalLM, ValueModel } from '../../src/models/llama.js';
import { LoraModel } from '../../src/models/lora.js';
import * as T from '../../src/tensor/index.js';
import { assembleBatch, type RolloutBatch } from '../../src/trainer/batch.js';
import { actorForward, criticForward } from '../../src/trainer/forward.js';
import { memoryPlan, microBatchSize, updateActivationBytes, type BackendLimits } from '../../src/trainer/memory-plan.js';
import { packRows } from '../../src/trainer/packing.js';
import { Rng } from '../helpers/rng.js';

const VOCAB = 61;
const shapeOf = (hidden: number, intermediate: number, vocab: number, tied: boolean) => parseModelConfig({
  model_type: 'qwen2', vocab_size: vocab, hidden_size: hidden, intermediate_size: intermediate, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128, tie_word_embeddings: tied,
});
const model = shapeOf(32, 96, VOCAB, false);
const cpu = await CpuBackend.create({ threads: 2 });
after(() => cpu.destroy());
const P = 12, R = 36;

/** 8 rows: prompts of 2-12 tokens, responses of 3-36 (about 40% of the padded slots valid). */
function makeBatch(): RolloutBatch {
  const rng = new Rng(9);
  const promptLengths = [2, 12, 5, 7, 3, 9, 4, 6];
  const responseLengths = [3, 36, 10, 5, 20, 8, 14, 4];
  const prompts = promptLengths.map((len, index) => ({ ids: Array.from({ length: len }, () => 1 + rng.int(VOCAB - 1)), text: '', dataSource: 'test', groundTruth: null, index }));
  const responseIds = Int32Array.from({ length: prompts.length * R }, () => 1 + rng.int(VOCAB - 1));
  const responseMask = Float32Array.from({ length: prompts.length * R }, (_, k) => (k % R < responseLengths[Math.floor(k / R)]! ? 1 : 0));
  return assembleBatch({ prompts, uid: prompts.map((_, i) => i), promptLength: P, responseLength: R, responseIds, responseMask, width: R, padTokenId: 0 });
}

/** Peak bytes above the weights and gradients of one forward and backward (the second pass: the gradients exist by then). */
async function measuredPeak(removePadding: boolean, config: ModelConfig = model, loraRank = 0, checkpointing = false): Promise<number> {
  T.setBackend(cpu);
  const actor = new CausalLM(config, { seed: 1 });
  actor.model.gradientCheckpointing = checkpointing;
  if (loraRank > 0) new LoraModel(actor, { rank: loraRank, alpha: 2 * loraRank, targetModules: 'all-linear' }, 3);
  const batch = makeBatch();
  const rows = Array.from({ length: batch.rows }, (_, i) => i);
  try {
    let peak = 0;
    for (let pass = 0; pass < 2; pass++) {
      const before = cpu.memoryStats().bytesInUse;
      cpu.resetPeak();
      await T.tidyAsync(async () => {
        const a = actorForward(actor, batch, rows, 1, removePadding);
        T.add(T.sum(a.logp), T.sum(a.entropy)).backward();
        await a.logp.data();
      });
      peak = cpu.memoryStats().peakBytesInUse - before;
    }
    return peak;
  } finally {
    actor.dispose();
  }
}

test('update activations: the packed plan tracks a packed micro-batch as closely as the padded plan a padded one', async () => {
  const batch = makeBatch();
  const rows = Array.from({ length: batch.rows }, (_, i) => i);
  const packed = packRows(batch, rows);
  const S = P + R;
  assert.ok(packed.tokens < 0.5 * rows.length * S, `${packed.tokens} valid of ${rows.length * S}`);
  const plannedPacked = updateActivationBytes(model, { tokens: packed.tokens, headRows: packed.targets.length, label: '' }, 0, 'all-linear');
  const plannedPadded = updateActivationBytes(model, microBatchSize(rows.length, rows.length, 0, false, P, R), 0, 'all-linear');
  const gotPacked = await measuredPeak(true);
  const gotPadded = await measuredPeak(false);
  // Packing does not change how well the plan tracks: the same ratio within 5%, and above 1 either
  // way (the next test bounds it on wider shapes).
  const ratioPacked = plannedPacked / gotPacked, ratioPadded = plannedPadded / gotPadded;
  const detail = `planned/allocated bytes: packed ${plannedPacked}/${gotPacked}, padded ${plannedPadded}/${gotPadded}`;
  assert.ok(Math.abs(ratioPacked / ratioPadded - 1) <= 0.05, detail);
  for (const r of [ratioPacked, ratioPadded]) assert.ok(r >= 1 && r <= 1.1, detail);
  // Sized by the padded length, the packed micro-batch would be overstated 2.4x.
  assert.ok(plannedPadded > 2 * gotPacked, detail);
});

test('update activations: the plan errs high, by at most 35%, whether the layers, the vocabulary or a tied table dominate the peak', async () => {
  const batch = makeBatch();
  const rows = Array.from({ length: batch.rows }, (_, i) => i);
  const packed = packRows(batch, rows);
  // [hidden, intermediate, vocabulary, tied, LoRA rank]: the MLP's backward holds the peak,
  // attention's (intermediate = hidden), the logits and the lm_head's weight gradient, a tied
  // table's two; LoRA on every projection (the tightest: 1.01).
  const shapes: [number, number, number, boolean, number][] = [[32, 96, VOCAB, false, 0], [128, 384, VOCAB, false, 0], [128, 128, VOCAB, false, 0],
    [32, 96, 3000, false, 0], [128, 128, 3000, false, 0], [128, 128, 3000, true, 0], [128, 384, VOCAB, false, 16], [128, 128, 3000, true, 16]];
  for (const [hidden, intermediate, vocab, tied, rank] of shapes) {
    const config = shapeOf(hidden, intermediate, vocab, tied);
    for (const removePadding of [true, false]) {
      const planned = updateActivationBytes(config, removePadding ? { tokens: packed.tokens, headRows: packed.targets.length, label: '' }
        : microBatchSize(rows.length, rows.length, 0, false, P, R), rank, 'all-linear');
      const got = await measuredPeak(removePadding, config, rank);
      const detail = `h ${hidden}, i ${intermediate}, V ${vocab}${tied ? ' tied' : ''}${rank ? `, LoRA r ${rank}` : ''}, ${removePadding ? 'packed' : 'padded'}: planned ${planned}, allocated ${got} (${(planned / got).toFixed(3)})`;
      assert.ok(planned >= got, detail);
      assert.ok(planned <= 1.35 * got, detail);
    }
  }
});

test('enable_gradient_checkpointing: the plan errs high by at most 35% again, and both plan and peak fall', async () => {
  const batch = makeBatch();
  const rows = Array.from({ length: batch.rows }, (_, i) => i);
  const packed = packRows(batch, rows);
  const mb = { tokens: packed.tokens, headRows: packed.targets.length, label: '' };
  // Four layers, so that the kept layer outputs and the one recomputed layer both show.
  const deep = parseModelConfig({ model_type: 'qwen2', vocab_size: VOCAB, hidden_size: 128, intermediate_size: 384, num_hidden_layers: 4,
    num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128, tie_word_embeddings: false });
  for (const rank of [0, 16]) {
    const planned = updateActivationBytes(deep, mb, rank, 'all-linear', true);
    const got = await measuredPeak(true, deep, rank, true);
    const plain = await measuredPeak(true, deep, rank, false);
    const detail = `LoRA r ${rank}: planned ${planned}, allocated ${got} (${(planned / got).toFixed(3)}), without checkpointing ${plain}`;
    assert.ok(planned >= got && planned <= 1.35 * got, detail);
    assert.ok(got < 0.6 * plain, detail);
    assert.ok(planned < updateActivationBytes(deep, mb, rank, 'all-linear', false), detail);
  }
});

test('the critic\'s update: the plan (one value a token, the embedding its only table) errs high, by at most 35% where the layers set the peak', async () => {
  const batch = makeBatch();
  const rows = Array.from({ length: batch.rows }, (_, i) => i);
  const packed = packRows(batch, rows);
  const mb = { tokens: packed.tokens, headRows: packed.targets.length, label: '' };
  // [hidden, intermediate, vocabulary, the bound]: where the embedding's gradient (3000 x 64 floats)
  // outweighs checkpointed activations, the plan counts it on top of them although it is formed
  // after the last recomputed layer is gone: 2x.
  for (const [hidden, intermediate, vocab, bound] of [[128, 384, VOCAB, 1.35], [64, 128, 3000, 2]] as const) {
    const config = shapeOf(hidden, intermediate, vocab, false);
    for (const checkpointing of [false, true]) {
      T.setBackend(cpu);
      const critic = new ValueModel(config, { seed: 2 });
      critic.model.gradientCheckpointing = checkpointing;
      let got = 0;
      try {
        for (let pass = 0; pass < 2; pass++) {
          const before = cpu.memoryStats().bytesInUse;
          cpu.resetPeak();
          await T.tidyAsync(async () => {
            const { values } = criticForward(critic, batch, rows, true);
            T.sum(T.mul(values, values)).backward();
            await values.data();
          });
          got = cpu.memoryStats().peakBytesInUse - before;
        }
      } finally {
        critic.dispose();
      }
      const planned = updateActivationBytes(config, mb, 0, 'all-linear', checkpointing, 'value');
      const detail = `h ${hidden}, V ${vocab}${checkpointing ? ', checkpointed' : ''}: planned ${planned}, allocated ${got} (${(planned / got).toFixed(3)})`;
      assert.ok(planned >= got && planned <= (checkpointing ? bound : 1.35) * got, detail);
      // The actor's figure for the same micro-batch counts logits the critic never forms.
      assert.ok(updateActivationBytes(config, mb, 0, 'all-linear', checkpointing) > planned, detail);
    }
  }
});

test('with use_remove_padding and a token budget the plan sizes micro-batches by the budget, not by the padded length', () => {
  const root = new URL('../../../', import.meta.url).pathname;
  const limits: BackendLimits = { name: 'cpu', capacityBytes: 2 ** 32, weightDtype: 'f32' };
  const plan = (extra: string[]) => {
    process.chdir(root);
    const config = resolveConfig({ file: `${root}examples/countdown-tiny.yaml`, overrides: ['actor_rollout_ref.actor.use_dynamic_bsz=true',
      'actor_rollout_ref.actor.ppo_max_token_len_per_gpu=2048', 'actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=4096', ...extra] });
    const rowOf = (p: string) => memoryPlan(model, null, config, limits).rows.find((r) => r.item.startsWith(p))!;
    return { update: rowOf('update activations'), logProb: rowOf('log-prob forward') };
  };
  const S = 16 + 192;
  const packed = plan(['actor_rollout_ref.model.use_remove_padding=true']);
  assert.equal(packed.update.item, 'update activations (micro-batch of <= 2048 packed tokens)');
  assert.equal(packed.update.bytes, updateActivationBytes(model, { tokens: 2048, headRows: 2048, label: '' }, 0, 'all-linear'));
  assert.equal(packed.logProb.item, 'log-prob forward (<= 4096 packed tokens)');
  // Longer responses change nothing: the budget caps a micro-batch's tokens.
  assert.equal(plan(['actor_rollout_ref.model.use_remove_padding=true', 'data.max_response_length=400']).update.bytes, packed.update.bytes);
  // Padded, rows are balanced by valid tokens but run padded: up to the whole mini-batch (16 prompts x 16).
  const padded = plan(['actor_rollout_ref.model.use_remove_padding=false']);
  assert.equal(padded.update.item, 'update activations (micro-batch of <= 256 rows)');
  assert.equal(padded.update.bytes, updateActivationBytes(model, { tokens: 256 * S, headRows: 256 * 192, label: '' }, 0, 'all-linear'));
});
