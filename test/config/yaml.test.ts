import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ConfigError,
  configDiff,
  defaultConfig,
  formatConfigDiff,
  resolveConfig,
  saveConfig,
  toYaml,
  ADV_ESTIMATORS,
  KL_PENALTY_TYPES,
  LOSS_AGG_MODES,
} from '../../src/config/index.js';
import { klPenaltyTypes, lossAggModes, type AdvEstimator as RlAdvEstimator } from '../../src/rl/index.js';
import type { AdvEstimator } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tinyzero-config-'));

/** veRL's e2e digit-completion settings (docs/verl-compat.md#e2e-digit-completion), written the way a user's YAML would be. */
const digitCompletion = `
data:
  train_files: assets/data/digit-completion/train.parquet
  val_files: assets/data/digit-completion/test.parquet
  max_prompt_length: 16
  max_response_length: 32
  train_batch_size: 800
  val_batch_size: 200
actor_rollout_ref:
  model: {path: assets/models/tiny-llama}
  actor:
    ppo_mini_batch_size: 200
    ppo_micro_batch_size: 200
    entropy_coeff: 0.0
    clip_ratio: 0.2
    grad_clip: 1.0
    use_kl_loss: False
    optim: {lr: 1e-4}
  rollout:
    name: hf
    temperature: 1.0
    top_k: -1
    top_p: 1
    do_sample: True
    micro_batch_size: 200
    n: 1
critic:
  optim: {lr: 1e-3}
  model: {path: assets/models/tiny-llama}
  ppo_micro_batch_size: 200
  cliprange_value: 0.5
algorithm:
  adv_estimator: gae
  gamma: 1.0
  lam: 1.0
  kl_penalty: kl
  kl_ctrl: {type: fixed, kl_coef: 0.0}
trainer:
  total_epochs: 200
  n_gpus_per_node: 1
  logger: ['console']
  test_freq: 1
  save_freq: -1
  critic_warmup: 0
`;

test('a partial YAML file merges over the defaults (veRL e2e settings)', () => {
  const file = join(dir, 'digit.yaml');
  writeFileSync(file, digitCompletion);
  const c = resolveConfig({ file });
  assert.equal(c.data.train_batch_size, 800);
  assert.equal(c.data.max_response_length, 32);
  assert.equal(c.actor_rollout_ref.rollout.response_length, 32, 'link follows the file');
  assert.equal(c.actor_rollout_ref.actor.optim.lr, 1e-4);
  assert.equal(c.actor_rollout_ref.actor.optim.warmup_style, 'constant', 'untouched sibling keeps its default');
  assert.equal(c.critic.optim.lr, 1e-3);
  assert.equal(c.critic.ppo_mini_batch_size, 200);
  assert.equal(c.actor_rollout_ref.actor.entropy_coeff, 0);
  assert.equal(c.actor_rollout_ref.rollout.name, 'hf');
  assert.equal(c.actor_rollout_ref.rollout.micro_batch_size, 200);
  assert.equal(c.algorithm.kl_ctrl.kl_coef, 0);
  assert.deepEqual(c.trainer.logger, ['console']);
  assert.equal(c.trainer.total_epochs, 200);
  assert.equal(c.data.prompt_key, 'prompt');
});

test('precedence: defaults < file < overrides, and links resolve after all layers', () => {
  const file = join(dir, 'prec.yaml');
  writeFileSync(file, 'data:\n  max_response_length: 64\n  train_batch_size: 16\nactor_rollout_ref:\n  actor: {ppo_mini_batch_size: 8, ppo_micro_batch_size: 4}\ncritic: {ppo_micro_batch_size: 4}\n');
  const c = resolveConfig({ file, overrides: ['data.max_response_length=128', 'actor_rollout_ref.actor.ppo_micro_batch_size=2'] });
  assert.equal(c.data.max_response_length, 128);
  assert.equal(c.actor_rollout_ref.rollout.response_length, 128);
  assert.equal(c.data.train_batch_size, 16);
  assert.equal(c.actor_rollout_ref.actor.ppo_micro_batch_size, 2);
  assert.equal(c.critic.ppo_mini_batch_size, 8);
  // an explicit value in the file beats the link
  writeFileSync(file, 'actor_rollout_ref:\n  rollout: {response_length: 100}\n');
  const d = resolveConfig({ file, overrides: ['data.max_response_length=128'] });
  assert.equal(d.actor_rollout_ref.rollout.response_length, 100);
});

test('YAML scalars as veRL writes them: True/False, 1e-6, null, ~, lists', () => {
  const c = resolveConfig({
    yaml: 'actor_rollout_ref:\n  actor:\n    use_kl_loss: True\n    optim: {lr: 5e-7, min_lr_ratio: ~}\n  rollout: {n: 4}\ndata: {val_batch_size: null, train_files: [a.parquet, b.parquet]}\ntrainer: {logger: [console, wandb]}\n',
  });
  assert.equal(c.actor_rollout_ref.actor.use_kl_loss, true);
  assert.equal(c.actor_rollout_ref.actor.optim.lr, 5e-7);
  assert.equal(c.actor_rollout_ref.actor.optim.min_lr_ratio, null);
  assert.equal(c.data.val_batch_size, null);
  assert.deepEqual(c.data.train_files, ['a.parquet', 'b.parquet']);
  assert.deepEqual(c.trainer.logger, ['console', 'wandb']);
});

test('file errors: unknown keys with suggestions and source, bad YAML, non-mapping, wrong types', () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'actor_rollout_ref:\n  actor:\n    ppo_mini_batchsize: 64\ntrainer:\n  save_freq: often\n');
  assert.throws(() => resolveConfig({ file }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.problems.map((p) => [p.key, p.source]), [
      ['actor_rollout_ref.actor.ppo_mini_batchsize', `file ${file}`],
      ['trainer.save_freq', `file ${file}`],
    ]);
    assert.match(e.problems[0]!.message, /did you mean 'actor_rollout_ref\.actor\.ppo_mini_batch_size'/);
    assert.equal(e.problems[1]!.message, 'expected an integer');
    return true;
  });
  assert.throws(() => resolveConfig({ yaml: 'data: [1, 2' }), /yaml text/);
  assert.throws(() => resolveConfig({ yaml: 'data:\n  a: 1\n  a: 2\n' }), /unique|duplicate/i);
  assert.throws(() => resolveConfig({ yaml: '- 1\n- 2\n' }), /must be a YAML mapping/);
  assert.throws(() => resolveConfig({ yaml: 'critic: 3\n' }), /critic = 3: is a section/);
  assert.throws(() => resolveConfig({ file: join(dir, 'missing.yaml') }), /ENOENT/);
});

test('an empty file and empty sections change nothing', () => {
  assert.deepEqual(resolveConfig({ yaml: '' }), defaultConfig());
  assert.deepEqual(resolveConfig({ yaml: 'critic:\n' }), defaultConfig());
});

test('round trip: toYaml -> resolveConfig gives the same config', () => {
  const c = resolveConfig({
    yaml: digitCompletion,
    overrides: [
      'trainer.experiment_name=007',
      'trainer.project_name=True',
      '+actor_rollout_ref.model.override_config.rope_scaling={type: linear, factor: 2.0}',
      'actor_rollout_ref.actor.optim.lr=5e-7',
      'trainer.default_hdfs_dir=null',
      "data.prompt_key='key: with, [odd] chars #'",
    ],
  });
  const text = toYaml(c, ['resolved by a test']);
  assert.ok(text.startsWith('# resolved by a test\n'));
  const back = resolveConfig({ yaml: text });
  assert.deepEqual(back, c);
  assert.equal(back.trainer.experiment_name, '007');
  assert.equal(back.trainer.project_name, 'True');
});

test('saveConfig writes atomically and the saved file resolves to the same config', () => {
  const c = resolveConfig({ yaml: digitCompletion });
  const out = join(dir, 'run', 'config.yaml');
  saveConfig(c, out, ['tinyzero train --config digit.yaml']);
  saveConfig(c, out); // overwrite in place
  assert.deepEqual(readdirSync(join(dir, 'run')), ['config.yaml'], 'no temp file left behind');
  assert.deepEqual(resolveConfig({ file: out }), c);
  assert.ok(!readFileSync(out, 'utf8').includes('${'), 'links are saved resolved');
});

test("configDiff's printout is override syntax that rebuilds the same config", () => {
  const c = resolveConfig({
    yaml: digitCompletion,
    overrides: ['trainer.experiment_name=007', "trainer.project_name='a b, c'", '+critic.model.override_config.x=[1,2]'],
  });
  const lines = formatConfigDiff(configDiff(c));
  assert.ok(lines.includes('data.train_batch_size=800'));
  assert.ok(lines.includes("trainer.experiment_name='007'"));
  assert.ok(lines.includes('trainer.logger=[console]'));
  // open maps print whole, and a plain key=value on a map replaces it
  const rebuilt = resolveConfig({ overrides: lines });
  assert.deepEqual(rebuilt, c);
  assert.deepEqual(configDiff(defaultConfig()), []);
});

test("the config's enumerations are exactly the ones src/rl implements", () => {
  assert.deepEqual([...KL_PENALTY_TYPES].sort(), [...klPenaltyTypes].sort());
  assert.deepEqual([...LOSS_AGG_MODES].sort(), [...lossAggModes].sort());
  // compile-time: the two AdvEstimator unions are the same set
  const same: [AdvEstimator] extends [RlAdvEstimator] ? ([RlAdvEstimator] extends [AdvEstimator] ? true : false) : false = true;
  assert.ok(same);
  assert.equal(ADV_ESTIMATORS.length, 6);
});
