// `tinyzero bench --quick --json`: the report's shape, never its timings (speed is shown by running
// the bench, not asserted in tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const main = new URL('../../src/cli/main.js', import.meta.url).pathname;

const isNum = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0;

test('bench --quick --json prints and writes the full report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-bench-'));
  try {
    const out = join(dir, 'report.json');
    const r = spawnSync(process.execPath, [main, 'bench', '--quick', '--json', '--no-qwen', '--no-rl-step', '--threads', '2', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), report, 'the file holds what was printed');
    assert.equal(report['schema'], 'tinyzero-bench/1');
    assert.equal(report['device'], 'cpu');
    assert.equal(report['threads'], 2);
    assert.equal(report['quick'], true);
    const peak = report['peak'] as { gflopsPerCore: number; instruction: string };
    assert.ok(isNum(peak.gflopsPerCore) && ['relaxed_madd', 'mul+add'].includes(peak.instruction));

    // Peers are either measured or say why not; both are fine here.
    const peers = report['peers'] as Record<string, string>[];
    assert.deepEqual(peers.map((p) => p['name']), ['onnxruntime', 'tfjs-wasm']);
    for (const p of peers) assert.ok(typeof p['version'] === 'string' || typeof p['unavailable'] === 'string');

    const matmul = report['matmul'] as { shape: string; layout: string; gflops: Record<string, number>; ratios: Record<string, number | null> }[];
    assert.deepEqual([...new Set(matmul.map((m) => m.shape))], ['8x896x896', '200x128x344', '800x128x16']);
    assert.deepEqual([...new Set(matmul.map((m) => m.layout))], ['NN', 'NT', 'TN']);
    for (const m of matmul) {
      assert.ok(isNum(m.gflops['ours_1t']) && isNum(m.gflops['ours_pool']), JSON.stringify(m));
      assert.ok('ours_pool/ours_1t' in m.ratios && 'ours_1t/peak' in m.ratios);
    }

    // f16 weights beside f32 on the CPU: a decode and a training shape.
    const half = report['halfMatmul'] as { kind: string; shape: string; msF32: number; msF16: number; speedup: number }[];
    assert.deepEqual(half.map((h) => h.kind), ['decode', 'training']);
    for (const h of half) assert.ok(isNum(h.msF32) && isNum(h.msF16) && isNum(h.speedup), JSON.stringify(h));

    const fused = report['fused'] as { kernel: string; gbs: Record<string, number>; ofCopy: Record<string, number> }[];
    assert.deepEqual(fused.map((f) => f.kernel), ['copy', 'rmsnorm fwd', 'rmsnorm bwd', 'softmax fwd', 'softmax bwd',
      'logprobEntropy fwd', 'logprobEntropy bwd']);
    for (const f of fused) assert.ok(isNum(f.gbs['1t']) && isNum(f.gbs['pool']) && isNum(f.ofCopy['pool']));

    const pool = report['pool'] as { threads: number; minWork: number; noop: Record<string, number>; fill: Record<string, number>[] };
    assert.ok(pool.threads > 1 && isNum(pool.minWork) && isNum(pool.noop['splitUs']) && isNum(pool.noop['aloneUs']));
    assert.deepEqual(pool.fill.map((f) => f['floats']), [1 << 16]);
    for (const f of pool.fill) assert.ok(isNum(f['aloneUs']) && isNum(f['splitUs']) && isNum(f['autoUs']));

    const attention = report['attention'] as { dir: string; gflops: Record<string, number> }[];
    assert.deepEqual(attention.map((a) => a.dir), ['fwd', 'bwd']);
    for (const a of attention) assert.ok(isNum(a.gflops['1t']) && isNum(a.gflops['pool']));

    const step = report['trainStep'] as Record<string, number>;
    for (const key of ['tokensPerSecond', 'gflops', 'gflopPerStep', 'seconds']) assert.ok(isNum(step[key]), key);
    // Only the token ids go in and the loss comes out: no other copies between JS and wasm memory.
    assert.equal(step['hostBytesWritten'], 2 * step['batch']! * step['seqLen']! * 4);
    assert.equal(step['hostBytesRead'], 4);

    const decode = report['decode'] as { batch: number; tokensPerSecond: number }[];
    assert.deepEqual(decode.map((d) => d.batch), [1, 64, 800]);
    for (const d of decode) assert.ok(isNum(d.tokensPerSecond));
    assert.equal(report['qwen'], null, '--no-qwen skips the Qwen section (test/bench/torch-qwen.test.ts covers it)');
    assert.equal(report['rlStep'], null, '--no-rl-step skips the RL step (below, and test/bench/rl-step.test.ts)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --only rl-step --quick --json runs the RL step alone on the recorded batch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-bench-'));
  try {
    const out = join(dir, 'report.json');
    const r = spawnSync(process.execPath, [main, 'bench', '--only', 'rl-step', '--quick', '--rl-rows', '8', '--json', '--threads', '1', '--out', out], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), report);
    assert.equal(report['schema'], 'tinyzero-bench-rl-step/1');
    assert.ok(!('matmul' in report), 'no other section ran');
    const step = report['rlStep'] as { rows: number; model: string; ours: Record<string, number | string>[]; torch: { available: boolean } };
    assert.equal(step.rows, 8, '--rl-rows');
    assert.equal(step.model, 'assets/models/countdown-base');
    assert.deepEqual(step.ours.map((o) => o['mode']), ['padded', 'packed']);
    for (const mode of step.ours) {
      for (const key of ['oldLogProbSeconds', 'updateSeconds', 'seconds', 'validTokensPerSecond']) assert.ok(isNum(mode[key]), `${mode['mode']} ${key}`);
    }
    assert.equal(typeof step.torch.available, 'boolean');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --only names the sections it knows', () => {
  const r = spawnSync(process.execPath, [main, 'bench', '--only', 'matmul'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--only takes rl-step, got 'matmul'/);
});

test('bench rejects unknown options', () => {
  const r = spawnSync(process.execPath, [main, 'bench', '--fast'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown option '--fast'/);
});
