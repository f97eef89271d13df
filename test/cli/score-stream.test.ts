import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROW = (n: number): string => JSON.stringify({ data_source: 'openai/gsm8k', solution_str: `#### ${n}`, ground_truth: String(n), id: n });

/** Resolves once `read()` holds something that matches; rejects after 10 s with what it holds. */
async function until(read: () => string, pattern: RegExp, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`${what}: no match for ${pattern} in ${JSON.stringify(read())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The input is a FIFO: its end comes only when the test closes it, so output that arrives before
// that was written while the input was still open, i.e. line by line.
test('score streams: a line is scored and written before the input ends', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tz-score-stream-'));
  const fifo = join(dir, 'in.fifo');
  try {
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const child = spawn(process.execPath, [MAIN, 'score', '--input', fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const input = createWriteStream(fifo);
    input.write(`${ROW(1)}\n`);
    await until(() => stdout, /\n/, 'first scored line');
    assert.deepEqual(JSON.parse(stdout) as unknown, { data_source: 'openai/gsm8k', solution_str: '#### 1', ground_truth: '1', id: 1, score: 1 });
    input.write('{broken\n');
    await until(() => stderr, /in\.fifo:2: skipped: invalid JSON/, 'bad line named by file and number');
    input.end(`${ROW(3)}\n`);
    assert.equal(await exited, 0, stderr);
    assert.deepEqual(stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: number }).id), [1, 3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('score --output replaces the file only at the end, through a temp file', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tz-score-out-'));
  const fifo = join(dir, 'in.fifo');
  const output = join(dir, 'out.jsonl');
  try {
    writeFileSync(output, 'previous results\n');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const child = spawn(process.execPath, [MAIN, 'score', '--input', fifo, '--output', output], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const input = createWriteStream(fifo);
    input.write(`${ROW(5)}\n[1]\n`);
    await until(() => stderr, /in\.fifo:2: skipped: expected a JSON object, got an array/, 'line 2 reported');
    // Line 1 is scored by now, but the output is still the old file until the input ends.
    assert.equal(readFileSync(output, 'utf8'), 'previous results\n');
    input.end(`${ROW(6)}\n`);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /wrote .*out\.jsonl: 2 scored, 1 skipped/);
    assert.deepEqual(readFileSync(output, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { score: number }).score), [1, 1]);
    assert.deepEqual(readdirSync(dir).sort(), ['in.fifo', 'out.jsonl'], 'no temp file left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('score with a missing input fails naming it and writes nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tz-score-missing-'));
  try {
    const output = join(dir, 'out.jsonl');
    const r = spawnSync(process.execPath, [MAIN, 'score', '--input', join(dir, 'nope.jsonl'), '--output', output], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read --input '.*nope\.jsonl'/);
    assert.equal(existsSync(output), false);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
