// Records one real training step's batch of a run config (default: `npm start`'s
// examples/countdown-tiny.yaml, step 1) as the fixture the RL-step benchmark replays
// (src/bench/rl-step.ts): the trainer's own setup and phases generate the rollouts, score them and
// compute the GRPO advantages exactly as step 1 of the run does, then the batch is written compactly:
// unpadded prompt and response ids, each row's advantage (GRPO's token-level advantages are the row's
// scalar on every valid token: checked here before writing) and each row's summed old log-prob, which
// the bench recomputes and compares. Gzipped JSON, written atomically.
// Usage: npm run build --silent && node scripts/record-rl-batch.mjs [--config FILE] [--out FILE] [key=value ...]
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { resolveConfig } from '../dist/src/config/index.js';
import { disposeRun, setupRun } from '../dist/src/trainer/setup.js';
import { advantagePhase, generatePhase, oldLogProbPhase, scorePhase } from '../dist/src/trainer/phases.js';
import { rewardFnOf } from '../dist/src/trainer/train.js';
import { writeFileAtomic } from '../dist/src/util/atomic-file.js';

const args = process.argv.slice(2);
const take = (flag, fallback) => {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const [, value] = args.splice(i, 2);
  return value;
};
const file = take('--config', 'examples/countdown-tiny.yaml');
const out = take('--out', 'assets/bench/countdown-step1.json.gz');
const config = resolveConfig({ file, overrides: args });
const log = (line) => process.stderr.write(`${line}\n`);
const run = await setupRun(config, { log });
try {
  const ctx = { config, run, tracker: null, progress: null, rewardFn: rewardFnOf(config), runDir: '', log };
  const t0 = performance.now();
  const rollout = await generatePhase(ctx, 1);
  log(`record: generated ${rollout.rows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const oldLogProb = await oldLogProbPhase(ctx, rollout);
  const scores = scorePhase(ctx, rollout);
  const { batch } = advantagePhase(ctx, { rollout, scores, oldLogProb, refLogProb: null, values: null, kl: null });
  const { rows, promptLength: P, responseLength: R } = batch;
  const promptIds = [];
  const responseIds = [];
  const advantages = [];
  const oldLogProbSums = [];
  for (let r = 0; r < rows; r++) {
    const n = batch.responseLengths[r];
    promptIds.push(batch.prompts[r].ids);
    responseIds.push(Array.from(batch.responses.subarray(r * R, r * R + n)));
    const a = batch.advantages[r * R];
    for (let t = 0; t < R; t++) {
      const m = batch.responseMask[r * R + t];
      if (m !== (t < n ? 1 : 0)) throw new Error(`row ${r}: the response mask is not a prefix of ${n} ones`);
      if (batch.advantages[r * R + t] !== (m ? a : 0)) throw new Error(`row ${r}: the advantages are not one value on the valid tokens (estimator ${config.algorithm.adv_estimator})`);
    }
    advantages.push(n > 0 ? a : 0);
    let s = 0;
    for (let t = 0; t < n; t++) s += batch.oldLogProb[r * R + t];
    oldLogProbSums.push(Number(s.toFixed(4)));
  }
  const arr = config.actor_rollout_ref;
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch { /* not a checkout */ }
  const record = {
    schema: 'tinyzero-rl-batch/1',
    source: { config: file, overrides: args, step: 1, commit, threads: run.backend.threads ?? null, date: new Date().toISOString().slice(0, 10) },
    model: arr.model.path,
    promptLength: P,
    responseLength: R,
    padTokenId: run.padTokenId,
    temperature: arr.rollout.temperature,
    n: arr.rollout.n,
    logProbMicroBatchSize: arr.rollout.log_prob_micro_batch_size,
    actor: {
      ppoMiniBatchSize: arr.actor.ppo_mini_batch_size, ppoMicroBatchSize: arr.actor.ppo_micro_batch_size, ppoEpochs: arr.actor.ppo_epochs,
      clipRatio: arr.actor.clip_ratio, entropyCoeff: arr.actor.entropy_coeff, gradClip: arr.actor.grad_clip, lossAggMode: arr.actor.loss_agg_mode,
      lr: arr.actor.optim.lr, betas: arr.actor.optim.betas, weightDecay: arr.actor.optim.weight_decay,
    },
    rows,
    uid: batch.uid,
    taskScores: Array.from(batch.taskScores),
    advantages,
    oldLogProbSums,
    promptIds,
    responseIds,
  };
  const gz = gzipSync(JSON.stringify(record), { level: 9 });
  writeFileAtomic(out, gz);
  const lengths = batch.responseLengths;
  const valid = lengths.reduce((s, v) => s + v, 0);
  log(`record: ${rows} rows, responses ${Math.min(...lengths)}-${Math.max(...lengths)} tokens (mean ${(valid / rows).toFixed(1)}), ` +
    `${valid} response tokens of ${rows * R} padded; ${gz.length} bytes -> ${out}`);
} finally {
  disposeRun(run);
}
