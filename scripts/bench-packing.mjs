// use_remove_padding's effect on one recorded GRPO step of the Countdown demo: one rollout of
// examples/countdown-tiny.yaml (overrides as arguments), then old log-probs and the actor update on
// that same batch, padded and packed in alternation (twice each). Prints JSON lines: wall seconds
// and the process's CPU seconds (user + system, all threads), which a loaded machine inflates less.
// Usage: npm run build && node scripts/bench-packing.mjs [key.path=value ...]
//        e.g. node scripts/bench-packing.mjs trainer.threads=1 trainer.default_local_dir=/tmp/bench-packing
const { resolveConfig } = await import('../dist/src/config/index.js');
const { setupRun, disposeRun, rewardFnOf } = await import('../dist/src/trainer/index.js');
const phases = await import('../dist/src/trainer/phases.js');
const { updatePolicy } = await import('../dist/src/trainer/actor.js');

const cpuSeconds = (since) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};
const round = (x) => Math.round(x * 100) / 100;

const config = resolveConfig({ file: 'examples/countdown-tiny.yaml', overrides: process.argv.slice(2) });
const run = await setupRun(config, { log: () => {} });
const ctx = { config, run, tracker: { event() {} }, progress: null, rewardFn: rewardFnOf(config), runDir: config.trainer.default_local_dir, log: () => {} };
let wall = performance.now();
const rollout = await phases.generatePhase(ctx, 1);
const valid = rollout.attentionMask.reduce((a, b) => a + b, 0);
console.log(JSON.stringify({ gen_s: round((performance.now() - wall) / 1000), rows: rollout.rows,
  padded_length: rollout.promptLength + rollout.responseLength, valid_token_share: round(valid / rollout.attentionMask.length) }));
const a = config.actor_rollout_ref.actor;
const n = config.actor_rollout_ref.rollout.n;
for (const packed of [false, true, false, true]) {
  config.actor_rollout_ref.model.use_remove_padding = packed;
  wall = performance.now();
  let cpu = process.cpuUsage();
  const oldLogProb = await phases.oldLogProbPhase(ctx, rollout);
  const old = { wall: (performance.now() - wall) / 1000, cpu: cpuSeconds(cpu) };
  const { batch } = phases.advantagePhase(ctx, { rollout, scores: phases.scorePhase(ctx, rollout), oldLogProb, refLogProb: null, values: null, kl: null });
  wall = performance.now();
  cpu = process.cpuUsage();
  await updatePolicy(run.actor.model, run.actor.optimizer, batch, {
    miniBatchRows: a.ppo_mini_batch_size * n, microBatchRows: (a.ppo_micro_batch_size ?? a.ppo_mini_batch_size) * n,
    useDynamicBsz: a.use_dynamic_bsz, maxTokenLen: a.ppo_max_token_len_per_gpu, removePadding: packed,
    epochs: a.ppo_epochs, shuffle: a.shuffle, gradClip: a.grad_clip,
    temperature: config.actor_rollout_ref.rollout.temperature, seed: 1, step: 1,
    loss: { clipRatio: a.clip_ratio, entropyCoeff: a.entropy_coeff, useKlLoss: false, klLossCoef: a.kl_loss_coef,
      klLossType: a.kl_loss_type, lossAggMode: a.loss_agg_mode, agg: {} },
  });
  console.log(JSON.stringify({ use_remove_padding: packed, old_log_prob_s: round(old.wall), update_actor_s: round((performance.now() - wall) / 1000),
    old_log_prob_cpu_s: round(old.cpu), update_actor_cpu_s: round(cpuSeconds(cpu)) }));
}
disposeRun(run);
run.backend.destroy();
