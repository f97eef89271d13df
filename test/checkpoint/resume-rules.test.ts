// Which changed keys a resume applies and which it refuses, for train and sft, and that every key
// the rules name exists in the config schema (a renamed key would otherwise fall to "refused").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changedKeys, resumeApplies } from '../../src/checkpoint/index.js';
import { resolveConfig, schemaPaths, type YamlValue } from '../../src/config/index.js';
import { SFT_RESUME_RULES } from '../../src/sft/resume-rules.js';
import { TRAIN_RESUME_RULES } from '../../src/trainer/resume-rules.js';

test('train: LR, sampling and cadence apply; data, batch sizes, model, seed and n are refused; unnamed keys are refused', () => {
  for (const key of ['actor_rollout_ref.actor.optim.lr', 'critic.optim.warmup_style', 'actor_rollout_ref.rollout.temperature',
    'actor_rollout_ref.actor.ppo_micro_batch_size', 'trainer.total_training_steps', 'trainer.logger', 'algorithm.kl_ctrl.kl_coef', 'sft.train_batch_size']) {
    assert.ok(resumeApplies(key, TRAIN_RESUME_RULES), key);
  }
  for (const key of ['data.train_files', 'data.train_batch_size', 'data.gen_batch_size', 'actor_rollout_ref.actor.ppo_mini_batch_size',
    'actor_rollout_ref.model.path', 'trainer.seed', 'actor_rollout_ref.rollout.n', 'algorithm.adv_estimator', 'algorithm.filter_groups.enable',
    'reward_model.reward_fn', 'actor_rollout_ref.model.some_key_added_later']) {
    assert.ok(!resumeApplies(key, TRAIN_RESUME_RULES), key);
  }
});

test('sft: LR, steps and eval apply; data, batch size, model and seed are refused; the RL sections do not matter', () => {
  for (const key of ['sft.optim.lr', 'sft.total_training_steps', 'sft.val_files', 'trainer.logger', 'data.train_batch_size']) assert.ok(resumeApplies(key, SFT_RESUME_RULES), key);
  for (const key of ['sft.train_files', 'sft.train_batch_size', 'sft.max_length', 'sft.model.path', 'trainer.seed']) assert.ok(!resumeApplies(key, SFT_RESUME_RULES), key);
});

test('every key the rules name is in the config schema', () => {
  const paths = new Set(schemaPaths());
  for (const rule of [...TRAIN_RESUME_RULES, ...SFT_RESUME_RULES]) {
    const key = rule.replace(/^!/, '').replace(/\.\*$/, '');
    assert.ok(paths.has(key), `${rule} names no config key`);
  }
});

test('changedKeys lists the leaves whose values differ, skipping keys the earlier config does not have', () => {
  const now = resolveConfig({ overrides: ['actor_rollout_ref.actor.optim.lr=2e-6', "trainer.logger=['console']"] });
  const earlier = JSON.parse(JSON.stringify(resolveConfig({}))) as Record<string, Record<string, YamlValue>>;
  delete earlier.trainer!.log_samples;
  earlier.trainer!.seed = 7;
  assert.deepEqual(changedKeys(earlier, now).map((c) => [c.key, c.from, c.to]), [
    ['actor_rollout_ref.actor.optim.lr', 1e-6, 2e-6],
    ['trainer.logger', ['console', 'wandb'], ['console']],
    ['trainer.seed', 7, 1],
  ]);
});
