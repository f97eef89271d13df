// Every shipped example config resolves, and the Countdown one holds train_tiny_zero.sh's settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';

const examples = new URL('../../../examples/', import.meta.url).pathname;

test('every examples/*.yaml resolves without problems', () => {
  const files = readdirSync(examples).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 3, files.join(', '));
  for (const f of files) resolveConfig({ file: join(examples, f) });
});

test("countdown-qwen2.5-3b.yaml carries TinyZero's train_tiny_zero.sh values", () => {
  const c = resolveConfig({ file: join(examples, 'countdown-qwen2.5-3b.yaml') });
  assert.equal(c.data.train_batch_size, 256);
  assert.equal(c.data.max_response_length, 1024);
  assert.equal(c.actor_rollout_ref.actor.optim.lr, 1e-6);
  assert.equal(c.actor_rollout_ref.actor.ppo_mini_batch_size, 64);
  assert.equal(c.actor_rollout_ref.actor.use_dynamic_bsz, true);
  assert.equal(c.critic.optim.lr, 1e-5);
  assert.equal(c.algorithm.kl_ctrl.kl_coef, 0.001);
  assert.equal(c.algorithm.adv_estimator, 'gae');
  assert.equal(c.trainer.total_epochs, 15);
  assert.equal(c.trainer.val_before_train, false);
});

test('the digit-completion examples follow veRL e2e settings (docs/verl-compat.md#e2e-digit-completion)', () => {
  const c = resolveConfig({ file: join(examples, 'digit-completion.yaml') });
  assert.equal(c.data.train_batch_size, 800);
  assert.equal(c.data.max_response_length, 32);
  assert.equal(c.actor_rollout_ref.actor.ppo_mini_batch_size, 200);
  assert.equal(c.actor_rollout_ref.actor.optim.lr, 1e-4);
  assert.equal(c.critic.optim.lr, 1e-3);
  assert.equal(c.algorithm.gamma, 1);
  assert.equal(c.algorithm.lam, 1);
  assert.equal(c.reward_model.reward_fn, 'digit_completion');
  assert.equal(c.actor_rollout_ref.model.use_remove_padding, true);
  assert.equal(c.critic.model.use_remove_padding, true);
  assert.equal(c.data.apply_chat_template, true);
  const g = resolveConfig({ file: join(examples, 'digit-completion-grpo.yaml') });
  assert.equal(g.algorithm.adv_estimator, 'grpo');
  assert.equal(g.actor_rollout_ref.rollout.n, 5);
  assert.equal(g.actor_rollout_ref.actor.ppo_epochs, 2);
  assert.equal(g.actor_rollout_ref.model.use_remove_padding, true);
  assert.equal(g.data.apply_chat_template, true);
});
