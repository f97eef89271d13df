import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readParquet } from '../../src/data/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

test('tinyzero data countdown writes train/test parquet that inspect can read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-cli-'));
  const r = cli('data', 'countdown', '--out', dir, '--train-size', '12', '--test-size', '3', '--template', 'qwen-instruct', '--seed', '9');
  assert.equal(r.status, 0, r.stderr);
  const train = await readParquet(join(dir, 'train.parquet'));
  assert.equal(train.rows.length, 12);
  assert.match((train.rows[0]!.prompt as { content: string }[])[0]!.content, /^<\|im_start\|>system\n/);
  const ins = cli('data', 'inspect', join(dir, 'test.parquet'), '--limit', '2', '--json');
  assert.equal(ins.status, 0, ins.stderr);
  const parsed = JSON.parse(ins.stdout) as { numRows: number; rows: unknown[] };
  assert.equal(parsed.numRows, 3);
  assert.equal(parsed.rows.length, 2);
  const bad = cli('data', 'countdown', '--out', dir, '--template', 'chatml');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--template must be one of base, qwen-instruct, got 'chatml'/);
});

test('tinyzero data countdown --max-number draws the numbers from 1 to N, and refuses a bad N', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-cli-'));
  const r = cli('data', 'countdown', '--out', dir, '--train-size', '40', '--test-size', '2', '--numbers', '3', '--max-number', '20', '--seed', '3');
  assert.equal(r.status, 0, r.stderr);
  const train = await readParquet(join(dir, 'train.parquet'));
  const nums = train.rows.flatMap((row) => (row.nums as bigint[]).map(Number));
  assert.equal(nums.length, 120);
  assert.ok(nums.every((n) => n >= 1 && n <= 20), JSON.stringify(nums));
  assert.ok(nums.some((n) => n > 10), 'the range is used');
  const bad = cli('data', 'countdown', '--out', dir, '--max-number', '0');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--max-number must be at least 1, got 0/);
  const other = cli('data', 'multiply', '--out', dir, '--max-number', '20');
  assert.equal(other.status, 1);
  assert.match(other.stderr, /--max-number applies to countdown only/);
});

test('tinyzero score adds "score" and skips bad lines with their line numbers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-score-'));
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, [
    JSON.stringify({ data_source: 'countdown', solution_str: 'Assistant: <answer>(1 + 2) * 3</answer>', ground_truth: { target: 9, numbers: [1, 2, 3] } }),
    '{not json',
    JSON.stringify({ data_source: 'openai/gsm8k', solution_str: '#### 72', ground_truth: '72', id: 7 }),
    JSON.stringify({ data_source: 'nope', solution_str: 'x', ground_truth: 1 }),
    JSON.stringify({ data_source: 'yolo/multiply-3_digit', solution_str: 'Assistant: <answer>12</answer>', ground_truth: 13 }),
    JSON.stringify({ solution_str: 'x', ground_truth: 1 }),
    '',
  ].join('\n'));
  const output = join(dir, 'out.jsonl');
  const r = cli('score', '--input', input, '--output', output);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /in\.jsonl:2: skipped: invalid JSON/);
  assert.match(r.stderr, /in\.jsonl:4: skipped: no reward function for data_source "nope"/);
  assert.match(r.stderr, /in\.jsonl:6: skipped: "data_source" must be a string/);
  const lines = readFileSync(output, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { score: number; id?: number });
  assert.deepEqual(lines.map((l) => l.score), [1, 1, 0.1]);
  assert.equal(lines[1]!.id, 7, 'input fields are kept');
});
