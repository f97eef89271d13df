// The RL step (src/bench/rl-step.ts: a recorded `npm start` batch through old log-probs and
// update_actor) of two builds side by side in one process, in interleaved rounds: each build's own
// CPU backend, model loader, optimizer and actor, the same batch (read by the second build's code) and
// the same number of threads. The order within a round alternates (old first in odd rounds, new first
// in even ones): whichever build ran first in a round was 3-7% faster on update_actor in both orders
// (docs/benchmarks.md, "Pool chunks one unit apart in size"). Prints each build's best phase times,
// old/new of the bests and the median over rounds of old/new within a round (with its 95% confidence
// interval from 6 rounds on; fewer give the range of the ratios); --profile adds
// a per-op profile of one replay of each build (backend calls by op and shape, and the JS between).
// --mode NAME (a mode of src/bench/rl-step.ts's RL_STEP_MODES, e.g. packed) runs the new build that
// way; --old-mode NAME the old build (padded by default: builds before use_remove_padding have no other).
// Builds too old for the bench module can be the first argument: only their trainer/actor.js,
// models/load.js, nn, tensor and backend/cpu are imported.
// Usage: git worktree add /tmp/old <commit> && (cd /tmp/old && cp -al "$OLDPWD/node_modules" . && npm run build)
//        node scripts/bench-compare-rl.mjs /tmp/old/dist/src dist/src [--threads 2] [--rounds 3] [--rows N] [--batch FILE] [--mode packed] [--old-mode packed] [--profile] [--json FILE]
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const flag = (name) => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  return argv.splice(i, name === '--profile' ? 1 : 2)[1] ?? true;
};
const threads = Number(flag('--threads') ?? 2);
const rounds = Number(flag('--rounds') ?? 3);
const rowsArg = flag('--rows');
const batchFile = flag('--batch');
const profile = flag('--profile') !== undefined;
const jsonOut = flag('--json');
const modeName = flag('--mode') ?? 'padded';
const oldModeName = flag('--old-mode') ?? 'padded';
const [oldRoot, newRoot] = argv.slice(0, 2).map((p) => pathToFileURL(resolve(p)).href);
if (!oldRoot || !newRoot) {
  console.error('usage: node scripts/bench-compare-rl.mjs OLD_DIST_SRC NEW_DIST_SRC [--threads N] [--rounds N] [--rows N] [--batch FILE] [--mode NAME] [--old-mode NAME] [--profile] [--json FILE]');
  process.exit(2);
}
const { replayRlStep, DEFAULT_RL_BATCH, RL_STEP_MODES } = await import(`${newRoot}/bench/rl-step.js`);
const { readRecordedBatch, toStepBatch } = await import(`${newRoot}/bench/rl-batch.js`);
const { profileBackend } = await import(`${newRoot}/bench/op-profile.js`);
const { pairedSpeedupText } = await import(`${newRoot}/bench/timing.js`);
const recorded = readRecordedBatch(batchFile ?? DEFAULT_RL_BATCH);
const batch = toStepBatch(recorded, rowsArg === undefined ? recorded.rows : Number(rowsArg));
const findMode = (option, name) => {
  const mode = RL_STEP_MODES.find((m) => m.name === name);
  if (mode) return mode;
  console.error(`${option} ${name}: the modes are ${RL_STEP_MODES.map((m) => m.name).join(', ')}`);
  process.exit(2);
};
const newMode = findMode('--mode', modeName);
const oldMode = findMode('--old-mode', oldModeName);

const builds = [];
for (const [tag, root] of [['old', oldRoot], ['new', newRoot]]) {
  const { CpuBackend } = await import(`${root}/backend/cpu/index.js`);
  const { setBackend } = await import(`${root}/tensor/index.js`);
  const { loadCausalLM } = await import(`${root}/models/load.js`);
  const { AdamW } = await import(`${root}/nn/index.js`);
  const { computeLogProbs, updatePolicy } = await import(`${root}/trainer/actor.js`);
  builds.push({ tag, root, mode: tag === 'new' ? newMode : oldMode, be: await CpuBackend.create({ threads }), engine: { setBackend, loadCausalLM, AdamW, computeLogProbs, updatePolicy } });
}
const best = builds.map(() => ({ old: Infinity, update: Infinity, diff: 0 }));
// Per phase, per build, its time in each round (for the within-round ratios).
const perRound = { old: builds.map(() => []), update: builds.map(() => []), step: builds.map(() => []) };
const log = (line) => process.stderr.write(`${line}\n`);
log(`rl step: ${batch.rows} rows, ${threads} thread(s), ${rounds} rounds after a warm-up; old build ${oldMode.name}, new build ${newMode.name}`);
for (let r = 0; r <= rounds; r++) {
  const order = r % 2 === 1 || r === 0 ? [0, 1] : [1, 0];
  for (const i of order) {
    const b = builds[i];
    const t = await replayRlStep(b.engine, b.be, recorded, batch, b.mode);
    log(`  ${r === 0 ? 'warm-up' : `round ${r}`} ${b.tag}: old_log_prob ${t.oldLogProbSeconds.toFixed(3)} s, update_actor ${t.updateSeconds.toFixed(3)} s, pg_loss ${t.metrics['actor/pg_loss']}`);
    best[i].diff = Math.max(best[i].diff, t.oldLogProbMaxAbsDiff);
    if (r === 0) continue;
    perRound.old[i].push(t.oldLogProbSeconds);
    perRound.update[i].push(t.updateSeconds);
    perRound.step[i].push(t.oldLogProbSeconds + t.updateSeconds);
    best[i].old = Math.min(best[i].old, t.oldLogProbSeconds);
    best[i].update = Math.min(best[i].update, t.updateSeconds);
  }
}
const result = { rows: batch.rows, threads, rounds, builds: builds.map((b, i) => ({
  build: b.root, mode: builds[i].mode.name, oldLogProbSeconds: best[i].old, updateSeconds: best[i].update, stepSeconds: best[i].old + best[i].update, oldLogProbMaxAbsDiff: best[i].diff,
  roundSeconds: { oldLogProb: perRound.old[i], update: perRound.update[i] },
})) };
const [o, n] = result.builds;
result.oldOverNew = { oldLogProb: o.oldLogProbSeconds / n.oldLogProbSeconds, update: o.updateSeconds / n.updateSeconds, step: o.stepSeconds / n.stepSeconds };
for (const [i, b] of result.builds.entries()) {
  console.log(`${builds[i].tag} (${b.mode}): old_log_prob ${b.oldLogProbSeconds.toFixed(3)} s  update_actor ${b.updateSeconds.toFixed(3)} s  step ${b.stepSeconds.toFixed(3)} s  (logp diff ${b.oldLogProbMaxAbsDiff.toExponential(1)})  ${b.build}`);
}
console.log(`old/new: old_log_prob ${result.oldOverNew.oldLogProb.toFixed(3)}x  update_actor ${result.oldOverNew.update.toFixed(3)}x  step ${result.oldOverNew.step.toFixed(3)}x`);
if (rounds >= 2) {
  const paired = (phase) => pairedSpeedupText(perRound[phase], 1, 0);
  console.log(`old/new within a round, median over ${rounds}: old_log_prob ${paired('old')}  update_actor ${paired('update')}  step ${paired('step')}`);
}
if (profile) {
  result.profiles = [];
  for (const b of builds) {
    const stop = profileBackend(b.be);
    await replayRlStep(b.engine, b.be, recorded, batch, b.mode);
    const p = stop();
    result.profiles.push({ build: b.tag, ...p });
    console.log(`\n${b.tag} per-op profile: ${p.wallMs} ms wall, ${p.backendMs} ms in ${p.calls} backend calls, ${p.betweenMs} ms JS between`);
    for (const op of p.ops.slice(0, 25)) console.log(`  ${op.op.padEnd(32)} ${String(op.calls).padStart(6)} calls ${op.ms.toFixed(1).padStart(9)} ms ${op.usPerCall.toFixed(1).padStart(10)} us/call`);
  }
}
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
for (const b of builds) b.be.destroy();
