// The RL-step bench: the recorded batch read back into the trainer's layout, a replay that reproduces
// the recording's old log-probs, the per-op profile's counts, and the section's report (PyTorch's
// log-probs checked the same way where python3 with torch is installed). Timings are never asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CpuBackend } from '../../src/backend/index.js';
import { profileBackend } from '../../src/bench/op-profile.js';
import { readRecordedBatch, RECORDED_ROW_KEYS, toStepBatch, type RecordedBatch } from '../../src/bench/rl-batch.js';
import { benchRlStep, DEFAULT_RL_BATCH, logProbMicro, replayBatching, replayRlStep, RL_STEP_MODES, THIS_ENGINE } from '../../src/bench/rl-step.js';
import { formatRlStep } from '../../src/bench/rl-step-table.js';

const recorded = readRecordedBatch(DEFAULT_RL_BATCH);

test('the recorded batch is npm start\'s step: 32 prompts x 16 samples, and reads back into the padded layout', () => {
  assert.equal(recorded.rows, 512);
  assert.equal(recorded.n, 16);
  assert.deepEqual([recorded.promptLength, recorded.responseLength], [16, 192]);
  assert.deepEqual(replayBatching(recorded, recorded.rows), { miniRows: 256, microRows: 64, logProbRows: 32 });
  const b = toStepBatch(recorded);
  const { promptLength: P, responseLength: R } = b;
  const S = P + R;
  for (const i of [0, 17, 511]) {
    const p = recorded.promptIds[i]!;
    const s = recorded.responseIds[i]!;
    assert.equal(b.responseLengths[i], s.length);
    assert.deepEqual(Array.from(b.inputIds.subarray(i * S + P - p.length, i * S + P)), p, `row ${i}: the prompt, left-padded`);
    assert.deepEqual(Array.from(b.inputIds.subarray(i * S + P, i * S + P + s.length)), s, `row ${i}: the response after it`);
    assert.equal(b.attentionMask.subarray(i * S, (i + 1) * S).reduce((x, y) => x + y, 0), p.length + s.length);
    const adv = b.advantages.subarray(i * R, (i + 1) * R);
    assert.ok(adv.subarray(0, s.length).every((a) => a === Math.fround(recorded.advantages[i]!)), `row ${i}: its advantage on every valid token`);
    assert.ok(adv.subarray(s.length).every((a) => a === 0), `row ${i}: none on padding`);
  }
  // GRPO: each group of 16 has advantages of mean ~0 (normalised by the group's std).
  const group = recorded.advantages.slice(0, 16);
  assert.ok(Math.abs(group.reduce((x, y) => x + y, 0) / 16) < 1e-4);
  assert.equal(toStepBatch(recorded, 16).rows, 16);
  assert.throws(() => toStepBatch(recorded, 513), /rows must be 1\.\.512, got 513/);
});

test('a recorded batch of the wrong kind is refused naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-rl-batch-'));
  try {
    const bad = join(dir, 'bad.json.gz');
    writeFileSync(bad, gzipSync(JSON.stringify({ ...recorded, schema: 'other/1' })));
    assert.throws(() => readRecordedBatch(bad), (e: Error) => e.message.includes(bad) && /schema is "other\/1", expected "tinyzero-rl-batch\/1"/.test(e.message));
    writeFileSync(bad, gzipSync(JSON.stringify({ ...recorded, advantages: [1] })));
    assert.throws(() => readRecordedBatch(bad), /'advantages' must have one entry per row \(512\)/);
    writeFileSync(bad, 'not gzip');
    assert.throws(() => readRecordedBatch(bad), /expected a gzipped JSON recorded batch/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The first group of n samples whose advantages are not all zero (a group whose rewards all tie trains nothing). */
function firstLearningGroup(r: RecordedBatch): RecordedBatch {
  for (let g = 0; g * r.n < r.rows; g++) {
    const [from, to] = [g * r.n, (g + 1) * r.n];
    if (!r.advantages.slice(from, to).some((a) => a !== 0)) continue;
    return { ...r, rows: r.n, ...Object.fromEntries(RECORDED_ROW_KEYS.map((key) => [key, r[key].slice(from, to)])) };
  }
  throw new Error('the recorded batch has no group with a non-zero advantage');
}

test('a replay recomputes the recording\'s old log-probs and trains on them', async () => {
  const be = await CpuBackend.create({ threads: 1 });
  try {
    const group = firstLearningGroup(recorded);
    const batch = toStepBatch(group);
    const t = await replayRlStep(THIS_ENGINE, be, group, batch, RL_STEP_MODES[0]!);
    assert.ok(t.oldLogProbMaxAbsDiff < 1e-3, `row sums of log-probs within 1e-3 of the recording, got ${t.oldLogProbMaxAbsDiff}`);
    // On-policy: the ratio is 1 on the first mini-batch, so nothing is clipped and the loss is −mean(A) over tokens.
    assert.equal(t.metrics['actor/pg_clipfrac'], 0);
    let num = 0;
    let den = 0;
    for (let i = 0; i < 16; i++) {
      num += group.advantages[i]! * group.responseIds[i]!.length;
      den += group.responseIds[i]!.length;
    }
    assert.ok(Math.abs(t.metrics['actor/pg_loss']! + num / den) < 1e-5, `pg_loss ${t.metrics['actor/pg_loss']} vs ${-num / den}`);
    assert.ok(t.metrics['actor/grad_norm']! > 0);
    // Each replay starts from the loaded model: a second one computes the same.
    const again = await replayRlStep(THIS_ENGINE, be, group, batch, RL_STEP_MODES[0]!);
    assert.deepEqual(again.metrics, t.metrics);
  } finally {
    be.destroy();
  }
});

test('computeLogProbs gets rows per forward from builds before packed sequences, a MicroBatching from later ones', () => {
  // Stand-ins with the two signatures (tsc keeps parameter names in the compiled source).
  const before = async function computeLogProbs(model: unknown, batch: unknown, microRows: number, temperature: number): Promise<unknown> {
    return [model, batch, microRows, temperature];
  };
  const after = async function computeLogProbs(model: unknown, batch: unknown, micro: object, temperature: number): Promise<unknown> {
    return [model, batch, micro, temperature];
  };
  assert.equal(logProbMicro(before, 32, false), 32);
  assert.throws(() => logProbMicro(before, 32, true), /no packed sequences/);
  assert.deepEqual(logProbMicro(after, 32, true), { microBatchRows: 32, useDynamicBsz: false, maxTokenLen: 0, removePadding: true });
});

test('profileBackend counts each backend call once, by op, and puts the methods back', async () => {
  const be = await CpuBackend.create({ threads: 1 });
  try {
    const fill = be.fill;
    const x = be.alloc(64 * 4);
    const y = be.alloc(64 * 4);
    const stop = profileBackend(be);
    assert.notEqual(be.fill, fill);
    be.fill(x, 64, 2, 'f32');
    be.fill(x, 64, 3, 'f32');
    be.unary('exp', x, y, 64, 0, 0);
    be.matmul(x, x, y, { batch: 1, m: 8, n: 8, k: 8, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, accumulate: false });
    await be.read(y, 'f32', 0, 4); // served by readSync on the CPU: counted once, as read
    const p = stop();
    assert.equal(be.fill, fill, 'the prototype method is back');
    assert.ok(!Object.hasOwn(be, 'fill'));
    const calls = Object.fromEntries(p.ops.map((o) => [o.op, o.calls]));
    assert.deepEqual(calls, { fill: 2, 'unary:exp': 1, 'matmul 8x8x8 NT': 1, read: 1 });
    assert.equal(p.calls, 5);
    assert.ok(p.wallMs >= p.backendMs && Math.abs(p.betweenMs - (p.wallMs - p.backendMs)) < 0.2);
    be.free(x);
    be.free(y);
  } finally {
    be.destroy();
  }
});

test('benchRlStep reports each mode, a profile, and PyTorch beside where it is installed', async () => {
  const be = await CpuBackend.create({ threads: 1 });
  try {
    const r = await benchRlStep(be, { rows: 16, rounds: 1, threads: 1, profile: true });
    assert.deepEqual(r.ours.map((o) => o.mode), RL_STEP_MODES.map((m) => m.name));
    assert.equal(r.rows, 16);
    assert.equal(r.paddedTokens, 16 * 208);
    assert.equal(r.validTokens, recorded.promptIds.slice(0, 16).concat(recorded.responseIds.slice(0, 16)).reduce((s, ids) => s + ids.length, 0));
    for (const o of r.ours) {
      assert.ok(o.oldLogProbSeconds > 0 && o.updateSeconds > 0 && o.validTokensPerSecond > 0, JSON.stringify(o));
      assert.ok(o.oldLogProbMaxAbsDiff < 1e-3);
    }
    assert.ok(r.profile && r.profile.calls > 0 && r.profile.ops.some((o) => o.op.startsWith('matmul ')));
    if (r.torch.available) {
      assert.ok(r.torch.seconds > 0 && r.torch.oldLogProbMaxAbsDiff < 1e-3, `PyTorch's log-probs agree with the recording: ${r.torch.oldLogProbMaxAbsDiff}`);
      assert.ok((r.oursOverTorch['padded'] ?? 0) > 0);
      assert.match(formatRlStep(r), /pytorch .* \(padded\)/);
    } else {
      assert.match(r.torch.reason, /no python3 with torch/);
      assert.equal(r.oursOverTorch['padded'], null);
      assert.match(formatRlStep(r), /PyTorch unavailable/);
    }
  } finally {
    be.destroy();
  }
});
