// The `tinyzero generate` command on the tiny-llama fixture, run as a user would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tinyLlamaDir } from '../helpers/assets.js';

const main = new URL('../../src/cli/main.js', import.meta.url).pathname;
const model = tinyLlamaDir;

function run(args: string[]) {
  return spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 60_000 });
}

test('generate --json prints one object per sample with ids, text and log-probs', () => {
  const r = run(['generate', '--model', model, '--prompt', '8,3:9,4', '--max-new-tokens', '6', '--n', '3', '--seed', '2', '--json', '--logprobs']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { token_ids: number[]; text: string; logprobs: number[] });
  assert.equal(lines.length, 3);
  for (const l of lines) {
    assert.ok(l.token_ids.length >= 1 && l.token_ids.length <= 6);
    assert.equal(l.logprobs.length, l.token_ids.length);
    assert.ok(l.logprobs.every((v) => v < 0 && v > -20));
    assert.equal(l.text.length, l.token_ids.length, 'one character per token');
  }
  const again = run(['generate', '--model', model, '--prompt', '8,3:9,4', '--max-new-tokens', '6', '--n', '3', '--seed', '2', '--json', '--logprobs']);
  assert.equal(again.stdout, r.stdout, 'same seed, same samples');
});

test('generate reports bad options clearly', () => {
  const r = run(['generate', '--model', model, '--prompt', '1', '--top-p', '2']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /top_p must be in \(0, 1\], got 2/);
  const r2 = run(['generate', '--model', model]);
  assert.match(r2.stderr, /give exactly one of --prompt or --prompt-ids/);
});
