import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closestKey, ConfigError, LOGGER_BACKENDS, configWarnings, resolveConfig, schemaPaths, type ConfigProblem } from '../../src/config/index.js';

function problems(overrides: string[], yaml?: string): readonly ConfigProblem[] {
  try {
    resolveConfig({ overrides, ...(yaml === undefined ? {} : { yaml }) });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

test('a typo names the key, the value and the closest valid key', () => {
  const [p] = problems(['actor_rollout_ref.actor.ppo_mini_batchsize=64']);
  assert.deepEqual(p, {
    key: 'actor_rollout_ref.actor.ppo_mini_batchsize',
    value: 64,
    message: "unknown key; did you mean 'actor_rollout_ref.actor.ppo_mini_batch_size'?",
    source: "override 'actor_rollout_ref.actor.ppo_mini_batchsize=64'",
  });
  assert.match(problems(['trainer.total_epoch=3'])[0]!.message, /'trainer\.total_epochs'/);
  assert.match(problems(['algorithm.adv_estimater=grpo'])[0]!.message, /'algorithm\.adv_estimator'/);
  assert.match(problems(['data.train_batchsize=8'])[0]!.message, /'data\.train_batch_size'/);
  assert.match(problems(['actor_rollout_ref.rollout.temprature=0.7'])[0]!.message, /'actor_rollout_ref\.rollout\.temperature'/);
});

test("veRL docs' abbreviated paths suggest the full key they abbreviate", () => {
  assert.match(problems(['actor.ppo_epochs=2'])[0]!.message, /'actor_rollout_ref\.actor\.ppo_epochs'/);
  assert.equal(closestKey('rollout.n', schemaPaths()), 'actor_rollout_ref.rollout.n');
});

test('the error message lists every problem with key, value and source', () => {
  let err: ConfigError | undefined;
  try {
    resolveConfig({ overrides: ['trainer.total_epoch=3', 'data.train_batch_size=abc', 'algorithm.adv_estimator=ppo'] });
  } catch (e) {
    err = e as ConfigError;
  }
  assert.ok(err instanceof ConfigError);
  assert.equal(err.problems.length, 3);
  assert.match(err.message, /invalid config \(3 problems\)/);
  assert.match(err.message, /trainer\.total_epoch = 3: unknown key; did you mean 'trainer\.total_epochs'\?/);
  assert.match(err.message, /data\.train_batch_size = "abc": expected an integer ≥ 1 \(override 'data\.train_batch_size=abc'\)/);
  assert.match(err.message, /algorithm\.adv_estimator = "ppo": expected one of 'gae' \| 'grpo' \| 'rloo' \| 'reinforce_plus_plus' \| 'reinforce_plus_plus_baseline' \| 'remax'/);
});

test('type errors name key, value and what is expected: type, range, literals', () => {
  const cases: [string, string, string][] = [
    ['data.train_batch_size=0', 'data.train_batch_size', 'expected an integer ≥ 1'],
    ['data.train_batch_size=2.5', 'data.train_batch_size', 'expected an integer ≥ 1'],
    ['actor_rollout_ref.actor.optim.lr=-1e-6', 'actor_rollout_ref.actor.optim.lr', 'expected a number ≥ 0'],
    ['actor_rollout_ref.actor.optim.lr=inf', 'actor_rollout_ref.actor.optim.lr', 'expected a number ≥ 0 (a finite value: infinity and NaN are not accepted here)'],
    ['actor_rollout_ref.rollout.temperature=nan', 'actor_rollout_ref.rollout.temperature', 'expected a number ≥ 0 (a finite value: infinity and NaN are not accepted here)'],
    ['actor_rollout_ref.rollout.top_p=0', 'actor_rollout_ref.rollout.top_p', 'expected a number > 0 and ≤ 1'],
    ['algorithm.gamma=1.5', 'algorithm.gamma', 'expected a number ≥ 0 and ≤ 1'],
    ['actor_rollout_ref.actor.use_kl_loss=yes', 'actor_rollout_ref.actor.use_kl_loss', 'expected a boolean (true/false)'],
    ['actor_rollout_ref.actor.use_kl_loss=1', 'actor_rollout_ref.actor.use_kl_loss', 'expected a boolean (true/false)'],
    ['algorithm.kl_penalty=full', 'algorithm.kl_penalty', "expected one of 'kl' | 'k1' | 'abs' | 'mse' | 'k2' | 'low_var_kl' | 'k3' | 'k1+' | 'k3+'"],
    ["trainer.logger=['console','tensorbord']", 'trainer.logger', `expected a list, each one of ${LOGGER_BACKENDS.map((b) => `'${b}'`).join(' | ')}`],
    ['trainer.device=cuda', 'trainer.device', "expected one of 'cpu' | 'webgpu' | 'reference'"],
    ['trainer.resume_mode=resume_path', 'trainer.resume_mode', "expected one of 'auto' | 'disable'"],
    ['trainer.threads=0', 'trainer.threads', 'expected an integer ≥ 1 or null'],
    ['actor_rollout_ref.actor.clip_ratio_c=1', 'actor_rollout_ref.actor.clip_ratio_c', 'expected a number > 1 or null'],
    ['actor_rollout_ref.actor.optim.betas=[0.9]', 'actor_rollout_ref.actor.optim.betas', 'expected a list of two values, each a number ≥ 0 and ≤ 1'],
    ['actor_rollout_ref.actor.loss_agg_mode=mean', 'actor_rollout_ref.actor.loss_agg_mode', "expected one of 'token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-mean' | 'seq-mean-token-sum-norm'"],
    ['trainer.project_name=null', 'trainer.project_name', 'expected a string'],
    ['actor_rollout_ref.model.override_config=3', 'actor_rollout_ref.model.override_config', 'expected a mapping'],
  ];
  for (const [arg, key, message] of cases) {
    const ps = problems([arg]);
    assert.equal(ps.length, 1, arg);
    assert.equal(ps[0]!.key, key, arg);
    assert.equal(ps[0]!.message, message, arg);
    assert.equal(ps[0]!.source, `override '${arg}'`, arg);
  }
  assert.deepEqual(problems(['data.train_batch_size=abc'])[0]!.value, 'abc');
});

test("'+' on a key veRL already has is refused like Hydra; new keys only in open maps", () => {
  assert.match(problems(['+trainer.save_freq=10'])[0]!.message, /could not append: an item is already at 'trainer\.save_freq'; use trainer\.save_freq=/);
  const [p] = problems(['+trainer.my_flag=1']);
  assert.equal(p!.key, 'trainer.my_flag');
  assert.match(p!.message, /unknown key; did you mean '.*'\? \(new keys go only in open maps/);
  assert.match(problems(['actor_rollout_ref.model.override_config.rope_theta=1e6'])[0]!.message, /no such entry; add it with \+actor_rollout_ref/);
});

test('override syntax errors are reported as problems with the rest', () => {
  const ps = problems(['trainer.logger=[console', 'data.train_batch_sizes=1']);
  assert.equal(ps.length, 2);
  assert.match(ps[0]!.message, /missing '\]'/);
});

test("cross-field checks veRL asserts fail before any work", () => {
  const m = (args: string[]): string => problems(args).map((p) => `${p.key}: ${p.message}`).join('\n');
  assert.match(m(['data.train_batch_size=100', 'actor_rollout_ref.actor.ppo_mini_batch_size=64']),
    /actor_rollout_ref\.actor\.ppo_mini_batch_size: data\.train_batch_size × rollout\.n \(100 × 1\) must be divisible by ppo_mini_batch_size × rollout\.n \(64 × 1\)/);
  assert.match(m(['actor_rollout_ref.actor.ppo_micro_batch_size=48']), /actor_rollout_ref\.actor\.ppo_micro_batch_size: must divide actor_rollout_ref\.actor\.ppo_mini_batch_size \(256\)/);
  assert.match(m(['critic.ppo_micro_batch_size=100']), /critic\.ppo_micro_batch_size: must divide critic\.ppo_mini_batch_size \(256\)/);
  assert.match(m(['actor_rollout_ref.actor.ppo_micro_batch_size=null']), /actor_rollout_ref\.actor\.ppo_micro_batch_size: needs a micro-batch size unless/);
  assert.match(m(['actor_rollout_ref.actor.use_dynamic_bsz=True', 'actor_rollout_ref.actor.ppo_max_token_len_per_gpu=1000']),
    /actor_rollout_ref\.actor\.ppo_max_token_len_per_gpu: must be ≥ prompt_length \+ response_length \(1024\)/);
  assert.match(m(['algorithm.adv_estimator=rloo']), /actor_rollout_ref\.rollout\.n: adv_estimator 'rloo' needs rollout\.n ≥ 2/);
  assert.match(m(['algorithm.filter_groups.enable=True', 'actor_rollout_ref.rollout.n=4']), /algorithm\.filter_groups\.metric: filter_groups\.enable needs a metric/);
  assert.match(m(['reward_model.overlong_buffer.enable=True']), /reward_model\.overlong_buffer\.len: must be in 1\.\.rollout\.response_length \(512\)/);
  assert.match(m(['reward_model.enable=True']), /reward_model\.enable: model-based reward models are not supported/);
});

test('DAPO dynamic sampling is accepted with a metric; gen_batch_size below train_batch_size is refused', () => {
  const dapo = ['algorithm.adv_estimator=grpo', 'actor_rollout_ref.rollout.n=4', 'algorithm.filter_groups.enable=True', 'algorithm.filter_groups.metric=acc'];
  const c = resolveConfig({ overrides: [...dapo, 'data.gen_batch_size=3072'] });
  assert.equal(c.algorithm.filter_groups.enable, true);
  assert.equal(c.data.gen_batch_size, 3072);
  const [p] = problems([...dapo, 'data.gen_batch_size=512']);
  assert.equal(p!.key, 'data.gen_batch_size');
  assert.match(p!.message, /must be ≥ data\.train_batch_size \(1024\) with filter_groups/);
});

test('critic checks apply only when there is a critic (gae)', () => {
  assert.doesNotThrow(() => resolveConfig({ overrides: ['algorithm.adv_estimator=grpo', 'actor_rollout_ref.rollout.n=5', 'critic.ppo_micro_batch_size=100'] }));
});

test('the ratio of mini-batches is in prompts, whatever rollout.n is', () => {
  assert.doesNotThrow(() => resolveConfig({ overrides: ['data.train_batch_size=8', 'actor_rollout_ref.actor.ppo_mini_batch_size=4',
    'actor_rollout_ref.actor.ppo_micro_batch_size=2', 'critic.ppo_micro_batch_size=2', 'actor_rollout_ref.rollout.n=5'] }));
});

test('links to unknown keys and link cycles are reported with the key holding the link', () => {
  const [p] = problems(['trainer.default_local_dir=ckpt/${trainer.project}']);
  assert.equal(p!.key, 'trainer.default_local_dir');
  assert.match(p!.message, /links to unknown key '\$\{trainer\.project\}'; did you mean 'trainer\.project_name'\?/);
  const cyc = problems(['data.max_prompt_length=${actor_rollout_ref.rollout.prompt_length}']);
  assert.ok(cyc.some((x) => /link cycle/.test(x.message)));
});

test('warnings: GRPO KL in the score, double KL, ignored keys, greedy n>1', () => {
  const w = (args: string[]): string => configWarnings(resolveConfig({ overrides: args })).join('\n');
  assert.match(w(['algorithm.adv_estimator=grpo']), /grpo with rollout\.n=1/);
  assert.match(w(['algorithm.adv_estimator=grpo', 'actor_rollout_ref.rollout.n=5']), /#grpo-kl-in-score/);
  assert.doesNotMatch(w(['algorithm.adv_estimator=grpo', 'actor_rollout_ref.rollout.n=5', 'actor_rollout_ref.actor.use_kl_loss=True']), /#grpo-kl-in-score/);
  assert.match(w(['actor_rollout_ref.actor.use_kl_loss=True', 'algorithm.use_kl_in_reward=True']), /penalised twice/);
  assert.match(w(['actor_rollout_ref.rollout.tensor_model_parallel_size=4']), /tensor_model_parallel_size=4 is ignored: no tensor parallelism/);
  assert.match(w(['actor_rollout_ref.actor.fsdp_config.param_offload=True']), /fsdp_config\.param_offload=true is ignored: one process holds the whole model/);
  assert.match(w(['actor_rollout_ref.rollout.n=4', 'actor_rollout_ref.rollout.do_sample=False']), /identical/);
  assert.equal(w([]), '');
});

test("YAML's .inf/.nan and overrides' inf print as such, not as JSON's null", () => {
  const message = (args: string[], yaml?: string): string => {
    try {
      resolveConfig({ overrides: args, ...(yaml === undefined ? {} : { yaml }) });
    } catch (e) {
      return (e as Error).message;
    }
    assert.fail('expected a ConfigError');
  };
  assert.match(message([], 'actor_rollout_ref:\n  actor:\n    grad_clip: .inf\n'),
    /actor_rollout_ref\.actor\.grad_clip = inf: expected a number > 0 \(a finite value: infinity and NaN are not accepted here\) \(yaml text\)/);
  assert.match(message(['data.max_response_length=-inf']), /data\.max_response_length = -inf: expected an integer ≥ 1 \(a finite value/);
  assert.match(message([], 'algorithm:\n  gamma: .nan\n'), /algorithm\.gamma = nan: /);
  assert.doesNotMatch(message(['data.max_response_length=inf']), /null/);
  // One line for the cause: rollout.response_length follows it through its default link.
  assert.deepEqual(problems(['data.max_response_length=inf']).map((p) => p.key), ['data.max_response_length']);
  assert.deepEqual(problems(['data.max_response_length=inf', 'actor_rollout_ref.rollout.response_length=0']).map((p) => p.key),
    ['data.max_response_length', 'actor_rollout_ref.rollout.response_length']);
});

test('an ignored key whose default links to another key warns only when the user set it', () => {
  const w = (args: string[]): string => configWarnings(resolveConfig({ overrides: args })).join('\n');
  // default_hdfs_dir's default pastes the experiment name, so a renamed experiment moves it.
  assert.equal(w(['trainer.experiment_name=countdown-tiny']), '');
  assert.match(w(['trainer.default_hdfs_dir=hdfs://x/y']), /default_hdfs_dir="hdfs:\/\/x\/y" is ignored: no HDFS copy/);
  assert.match(w(['trainer.experiment_name=a', 'trainer.default_hdfs_dir=~/experiments/gsm8k/ppo/b']), /default_hdfs_dir.*is ignored/);
});
