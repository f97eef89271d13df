import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countdown, solveCountdown, evaluatePython } from '../../src/tasks/index.js';
import { Prng } from '../../src/util/prng.js';

const { computeScore, countdownPrompt, generateCountdown } = countdown;

test('templates are TinyZero\'s, character for character', () => {
  const p = { target: 98, nums: [44, 19, 35] };
  assert.equal(countdownPrompt(p, 'base'),
    'A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process in the mind and then provides the user with the answer.\n'
    + 'User: Using the numbers [44, 19, 35], create an equation that equals 98. You can use basic arithmetic operations (+, -, *, /) and each number can only be used once. Show your work in <think> </think> tags. And return the final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>.\n'
    + 'Assistant: Let me solve this step by step.\n<think>');
  assert.equal(countdownPrompt(p, 'qwen-instruct'),
    '<|im_start|>system\nYou are a helpful assistant. You first thinks about the reasoning process in the mind and then provides the user with the answer.<|im_end|>\n'
    + '<|im_start|>user\n Using the numbers [44, 19, 35], create an equation that equals 98. You can use basic arithmetic operations (+, -, *, /) and each number can only be used once. Show your work in <think> </think> tags. And return the final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>.<|im_end|>\n'
    + '<|im_start|>assistant\nLet me solve this step by step.\n<think>');
});

/** Scores `response` as the model's continuation of the base prompt, as the RewardManager does. */
const score = (response: string, numbers: number[], target: number, template: countdown.CountdownTemplate = 'base'): number =>
  computeScore(countdownPrompt({ target, nums: numbers }, template) + response, { target, numbers });

test('the edge cases of docs/verl-compat.md#countdown-reward', () => {
  const n = [1, 2, 3];
  assert.equal(score(' 1+2=3, 3*3=9 </think>\n<answer>(1 + 2) * 3</answer>', n, 9), 1.0);
  assert.equal(score(' x </think>\n<answer>(1 + 2) * 3</answer>\n', n, 9), 0, 'answer not on the last line');
  assert.equal(score(' x </think> <answer>(1 + 2) * 3</answer><|endoftext|>', n, 9), 1.0);
  assert.equal(score(' x </think> <answer>3 * 3</answer> <answer>(1 + 2) * 3</answer>', n, 9), 1.0, 'the last answer counts');
  assert.equal(score(' x </think> <answer>(1 + 2) * 3</answer> <answer>3 * 3</answer>', n, 9), 0.1);
  assert.equal(score(' x </think> <answer>(1 + 2)\n* 3</answer>', n, 9), 0, 'split across lines');
  assert.equal(score('<answer>3 * 3</answer>', n, 9), 0.1, 'a number unused');
  assert.equal(score('<answer>3 ** 2 * 1</answer>', n, 9), 1.0);
  assert.equal(score('<answer>(7 // 2) * 1</answer>', [7, 2, 1], 3), 1.0);
  assert.equal(score('<answer>-1 + 2 * 5</answer>', [1, 2, 5], 9), 1.0);
  assert.equal(score('<answer>5 / (2 - 2)</answer>', [5, 2, 2], 9), 0.1);
  assert.equal(score('<answer>(1 / 3) * 3 * 9</answer>', [1, 3, 3, 9], 9), 1.0);
  assert.equal(score('<answer>4.5 * 2</answer>', [4, 5, 2], 9), 1.0, '\\d+ reads 4.5 as 4 and 5');
  assert.equal(score('<answer>09 * 1</answer>', [9, 1], 9), 0.1);
  for (const bad of ['3 x 3', '3 * 3 = 9', '3,3', '(3)(3)', '']) assert.equal(score(`<answer>${bad}</answer>`, [3, 3], 9), 0.1, bad);
  assert.equal(score('<answer>(1-9) ** (1/3)</answer>', [1, 9, 1, 3], 9), 0.1);
  assert.equal(score('<answer>1/1000000 + 9</answer>', [1, 1000000, 9], 9), 1.0);
  assert.equal(computeScore('no marker <answer>(1 + 2) * 3</answer>', { target: 9, numbers: n }), 0);
});

test('more edge cases: im_start marker, first "Assistant:", spaces, unicode, complex, huge powers', () => {
  const qwen = countdownPrompt({ target: 9, nums: [1, 2, 3] }, 'qwen-instruct');
  assert.equal(computeScore(`${qwen} ok </think>\n<answer> (1 + 2) * 3 </answer><|im_end|>`, { target: 9, numbers: [1, 2, 3] }), 1.0);
  // qwen prompt has no "Assistant:"; a response that writes one moves the split point, harmlessly
  assert.equal(computeScore(`${qwen} Assistant: <answer>(1 + 2) * 3</answer>`, { target: 9, numbers: [1, 2, 3] }), 1.0);
  // \r is not a line break for the last-line rule, but `.` in the answer regex does match it
  assert.equal(score('<answer>(1 +\r2) * 3</answer>', [1, 2, 3], 9), 1.0);
  assert.equal(score('<answer>1 +\r2 * 4</answer>', [1, 2, 4], 9), 0.1, 'a bare line break is a SyntaxError');
  assert.equal(score('<answer>\u00a0(1 + 2) * 3\u00a0</answer>', [1, 2, 3], 9), 1.0, 'strip() removes NBSP');
  assert.equal(score('<answer>(1 + 2) *\u00a03</answer>', [1, 2, 3], 9), 0.1, 'eval rejects an inner NBSP');
  assert.equal(score('<answer>(١ + 2) * 3</answer>', [1, 2, 3], 9), 0.1, 'Arabic-Indic digits count for \\d, but eval fails');
  assert.equal(score('<answer>((1-2)**0.5)*0 + 3*3</answer>', [1, 2, 0, 5, 0, 3, 3], 9), 1.0, 'complex 9+0j is within 1e-5');
  assert.equal(score('<answer>9**9**9 - 9**9**9 + 9</answer>', [9, 9, 9, 9, 9, 9, 9], 9), 0.1, 'not evaluable: format score only');
  assert.equal(score('<answer>' + '-'.repeat(5000) + '9</answer>', [9], 9), 0.1, 'too deep for the compiler');
  assert.equal(score('<answer>' + '- -'.repeat(400) + '9</answer>', [9], 9), 1.0, 'an even number of minuses');
  assert.equal(score('<answer>+9</answer>', [9], 9.000001), 1.0, 'float target within 1e-5');
  assert.throws(() => computeScore('Assistant: <answer>1</answer>', { target: 1 } as never), /numbers/);
});

test('the solver finds valid equations that score 1.0, and reports unsolvable ones', () => {
  assert.equal(solveCountdown([2, 3], 7), null);
  const eq = solveCountdown([1, 2, 3, 4], 24);
  assert.ok(eq);
  const v = evaluatePython(eq);
  assert.ok(v.k !== 'complex' && Math.abs(Number(v.v) - 24) < 1e-9, eq);
  // needs a fraction on the way: 8 / (3 - 8/3) = 24
  const frac = solveCountdown([8, 3, 8, 3], 24);
  assert.ok(frac);
  assert.equal(score(`<answer>${frac}</answer>`, [8, 3, 8, 3], 24), 1.0);
});

test('every generated problem is solvable, scored 1.0 with its solution, and generation is seeded', () => {
  const rng = new Prng(123);
  const problems = Array.from({ length: 300 }, () => generateCountdown(rng));
  for (const p of problems) {
    assert.ok(p.nums.length === 3 || p.nums.length === 4);
    assert.ok(p.nums.every((x) => Number.isInteger(x) && x >= 1 && x <= 100));
    assert.ok(p.target >= 1 && p.target <= 100);
    assert.ok(solveCountdown(p.nums, p.target) !== null);
    assert.equal(score(` ... </think>\n<answer>${p.solution}</answer>`, p.nums, p.target), 1.0, p.solution);
  }
  assert.ok(problems.some((p) => p.nums.length === 3) && problems.some((p) => p.nums.length === 4));
  const again = Array.from({ length: 300 }, ((r) => () => generateCountdown(r))(new Prng(123)));
  assert.deepEqual(again, problems);
  const other = Array.from({ length: 300 }, ((r) => () => generateCountdown(r))(new Prng(124)));
  assert.notDeepEqual(other, problems);
});

test('scoring adversarial responses stays within the time bound', () => {
  const prefix = countdownPrompt({ target: 9, nums: [1, 2, 3] }, 'base');
  const M = 1 << 20;
  const responses = [
    '<answer>'.repeat(M / 8), '<answer>' + '('.repeat(M) + '</answer>', '<answer>' + '1'.repeat(M) + '</answer>',
    '<answer>1' + ' '.repeat(M) + '+2</answer>', '\n'.repeat(M) + '<answer>1+2</answer>', '<answer>9**9**9**9</answer>',
    ('<answer>' + '-'.repeat(2000) + '1+2*3</answer>').repeat(100), '<answer></answer>'.repeat(M / 17),
    '<answer>' + '1*'.repeat(M / 2) + '1</answer>', '<answer>1 + 2 * 3' + '</answer'.repeat(M / 9),
  ];
  computeScore(prefix + '<answer>1+2*3</answer>', { target: 9, numbers: [1, 2, 3] });
  let worst = 0;
  for (const r of responses) {
    let best = Infinity; // best of 3: a GC pause or a busy machine does not count against the scorer
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now();
      const s = computeScore(prefix + r, { target: 9, numbers: [1, 2, 3] });
      best = Math.min(best, performance.now() - t0);
      assert.ok(s === 0 || s === 0.1 || s === 1);
    }
    worst = Math.max(worst, best);
  }
  assert.ok(worst < 100, `slowest took ${worst.toFixed(1)} ms`); // target 10 ms; loose for busy CI machines
});
