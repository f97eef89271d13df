import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOverride, parseOverrideValue, resolveConfig } from '../../src/config/index.js';

test('Hydra primitives: null, booleans in any case, ints, floats in scientific notation', () => {
  assert.equal(parseOverrideValue('null'), null);
  assert.equal(parseOverrideValue('NULL'), null);
  for (const t of ['True', 'true', 'TRUE']) assert.equal(parseOverrideValue(t), true);
  for (const f of ['False', 'false']) assert.equal(parseOverrideValue(f), false);
  assert.equal(parseOverrideValue('256'), 256);
  assert.equal(parseOverrideValue('-1'), -1);
  assert.equal(parseOverrideValue('1_000'), 1000);
  assert.equal(parseOverrideValue('1e-6'), 1e-6);
  assert.equal(parseOverrideValue('5e-7'), 5e-7);
  assert.equal(parseOverrideValue('1.5E+3'), 1500);
  assert.equal(parseOverrideValue('0.'), 0);
  assert.equal(parseOverrideValue('.5'), 0.5);
  assert.equal(parseOverrideValue('inf'), Infinity);
  assert.equal(parseOverrideValue('-inf'), -Infinity);
  assert.ok(Number.isNaN(parseOverrideValue('nan')));
  assert.equal(parseOverrideValue(''), '');
  assert.equal(parseOverrideValue('Qwen/Qwen2.5-3B'), 'Qwen/Qwen2.5-3B');
  assert.equal(parseOverrideValue('countdown-qwen2.5-3b'), 'countdown-qwen2.5-3b');
  assert.equal(parseOverrideValue('1e'), '1e');
  assert.equal(parseOverrideValue('http://host:8000/x'), 'http://host:8000/x');
});

test('quoted strings stay strings', () => {
  assert.equal(parseOverrideValue("'True'"), 'True');
  assert.equal(parseOverrideValue('"1e-6"'), '1e-6');
  assert.equal(parseOverrideValue("'a,b'"), 'a,b');
  assert.equal(parseOverrideValue("'it\\'s'"), "it's");
  assert.equal(parseOverrideValue("'null'"), 'null');
});

test('lists and mappings, nested, with or without quotes and spaces', () => {
  assert.deepEqual(parseOverrideValue("['console','wandb']"), ['console', 'wandb']);
  assert.deepEqual(parseOverrideValue('[console, wandb]'), ['console', 'wandb']);
  assert.deepEqual(parseOverrideValue('[]'), []);
  assert.deepEqual(parseOverrideValue('[1, 2.5, null, true, [a, "b c"]]'), [1, 2.5, null, true, ['a', 'b c']]);
  assert.deepEqual(parseOverrideValue('{a: 1, b: [x, y], "c d": {e: null}}'), { a: 1, b: ['x', 'y'], 'c d': { e: null } });
  assert.deepEqual(parseOverrideValue('[0.9,0.95]'), [0.9, 0.95]);
});

test('interpolations survive as text, even with characters that end a token', () => {
  assert.equal(parseOverrideValue('${data.max_prompt_length}'), '${data.max_prompt_length}');
  assert.deepEqual(parseOverrideValue('[${trainer.project_name}, b]'), ['${trainer.project_name}', 'b']);
});

test('malformed values are SyntaxErrors naming the argument', () => {
  assert.throws(() => parseOverride("trainer.logger=['console'"), (e: Error) => e instanceof SyntaxError && e.message.includes("trainer.logger=['console'") && /missing '\]'/.test(e.message));
  assert.throws(() => parseOverride("a.b='open"), /unterminated ' quote/);
  assert.throws(() => parseOverride('trainer.logger=console,wandb'), /Hydra sweep/);
  assert.throws(() => parseOverride('{a:1}=2'), /not a dotted key/);
  assert.throws(() => parseOverride('trainer.seed'), /missing '='/);
  assert.throws(() => parseOverride('x=[a] b'), /unexpected/);
});

test('prefixes: + adds, ++ forces, ~ deletes; the text of the value is kept', () => {
  assert.deepEqual(parseOverride('+trainer.val_before_train=False'), {
    op: 'add', key: 'trainer.val_before_train', path: ['trainer', 'val_before_train'], value: false, text: 'False', arg: '+trainer.val_before_train=False',
  });
  assert.equal(parseOverride('++trainer.test_freq=-1').op, 'force');
  const del = parseOverride('~actor_rollout_ref.model.override_config.rope_theta');
  assert.equal(del.op, 'delete');
  assert.equal(del.value, undefined);
  assert.equal(parseOverride('trainer.experiment_name=007').text, '007');
});

test('an unquoted number given to a string key keeps its text (Hydra would read 007 as 7)', () => {
  const c = resolveConfig({ overrides: ['trainer.experiment_name=007', 'trainer.project_name=1e-6', 'data.prompt_key=True'] });
  assert.equal(c.trainer.experiment_name, '007');
  assert.equal(c.trainer.project_name, '1e-6');
  assert.equal(c.data.prompt_key, 'True');
});

test('overrides set typed values: lists, null, scientific notation, later wins', () => {
  const c = resolveConfig({
    overrides: [
      "trainer.logger=['console','wandb']",
      'trainer.logger=[console]',
      'actor_rollout_ref.actor.optim.lr=5e-7',
      'actor_rollout_ref.actor.optim.betas=[0.9,0.95]',
      'data.val_batch_size=null',
      'trainer.total_training_steps=100',
      'data.train_files=[/d/a.parquet,/d/b.parquet]',
      'trainer.threads=2',
    ],
  });
  assert.deepEqual(c.trainer.logger, ['console']);
  assert.equal(c.actor_rollout_ref.actor.optim.lr, 5e-7);
  assert.deepEqual(c.actor_rollout_ref.actor.optim.betas, [0.9, 0.95]);
  assert.equal(c.data.val_batch_size, null);
  assert.equal(c.trainer.total_training_steps, 100);
  assert.deepEqual(c.data.train_files, ['/d/a.parquet', '/d/b.parquet']);
  assert.equal(c.trainer.threads, 2);
});

test("'+' works for keys veRL lacked (read with .get) and for open maps; '++' anywhere", () => {
  const c = resolveConfig({
    overrides: [
      '+trainer.val_only=True',
      '+algorithm.kl_ctrl.horizon=500',
      '+algorithm.kl_ctrl.target_kl=0.05',
      'algorithm.kl_ctrl.type=adaptive',
      '+actor_rollout_ref.model.override_config.attention_dropout=0.1',
      '+actor_rollout_ref.model.override_config.rope_scaling={type: linear, factor: 2}',
      '++trainer.test_freq=5',
      '++critic.model.override_config.x=1',
    ],
  });
  assert.equal(c.trainer.val_only, true);
  assert.equal(c.algorithm.kl_ctrl.horizon, 500);
  assert.equal(c.algorithm.kl_ctrl.target_kl, 0.05);
  assert.deepEqual(c.actor_rollout_ref.model.override_config, { attention_dropout: 0.1, rope_scaling: { type: 'linear', factor: 2 } });
  assert.equal(c.trainer.test_freq, 5);
  assert.deepEqual(c.critic.model.override_config, { x: 1 });
});

test("'~' deletes an open-map entry; a matching value may be given", () => {
  const base = ['+actor_rollout_ref.model.override_config.a=1', '+actor_rollout_ref.model.override_config.b=2'];
  const c = resolveConfig({ overrides: [...base, '~actor_rollout_ref.model.override_config.a', '~actor_rollout_ref.model.override_config.b=2'] });
  assert.deepEqual(c.actor_rollout_ref.model.override_config, {});
  assert.throws(() => resolveConfig({ overrides: [...base, '~actor_rollout_ref.model.override_config.b=3'] }), /could not delete: the value is not 3/);
  assert.throws(() => resolveConfig({ overrides: ['~actor_rollout_ref.model.override_config.zzz'] }), /could not delete: no such entry/);
  assert.throws(() => resolveConfig({ overrides: ['~trainer.seed'] }), /trainer\.seed: schema keys cannot be deleted/);
});

test('a section can be set with a mapping, checked key by key', () => {
  const c = resolveConfig({ overrides: ['algorithm.kl_ctrl={type: fixed, kl_coef: 0.01}'] });
  assert.equal(c.algorithm.kl_ctrl.kl_coef, 0.01);
  assert.throws(() => resolveConfig({ overrides: ['algorithm.kl_ctrl={kl_coeff: 0.01}'] }), /algorithm\.kl_ctrl\.kl_coeff = 0\.01: unknown key; did you mean 'algorithm\.kl_ctrl\.kl_coef'/);
  assert.throws(() => resolveConfig({ overrides: ['algorithm.kl_ctrl=0.01'] }), /algorithm\.kl_ctrl = 0\.01: is a section/);
});

test('an override may link to another key, resolved after all layers', () => {
  const c = resolveConfig({ overrides: ['critic.ppo_micro_batch_size=${actor_rollout_ref.actor.ppo_micro_batch_size}', 'actor_rollout_ref.actor.ppo_micro_batch_size=32'] });
  assert.equal(c.critic.ppo_micro_batch_size, 32);
  assert.equal(c.critic.forward_micro_batch_size, 32);
});
