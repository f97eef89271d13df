import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arith, computeScore, digitCompletion, gsm8k, math, multiply, selectRmScoreFn, countdown } from '../../src/tasks/index.js';
import { Prng } from '../../src/util/prng.js';

test('routing follows _select_rm_score_fn: exact names, then substrings', () => {
  assert.equal(selectRmScoreFn('openai/gsm8k'), gsm8k.computeScore);
  assert.equal(selectRmScoreFn('lighteval/MATH'), math.computeScore);
  assert.equal(selectRmScoreFn('yolo/multiply-3_digit'), multiply.computeScore);
  assert.equal(selectRmScoreFn('yolo/arithmetic-3_digit'), multiply.computeScore);
  assert.equal(computeScore('my-countdown-v2', 'Assistant: <answer>1 + 2</answer>', { target: 3, numbers: [1, 2] }), 1);
  assert.throws(() => selectRmScoreFn('openai/gsm8k-v2'), /no reward function for data_source "openai\/gsm8k-v2"/);
  assert.throws(() => selectRmScoreFn('lighteval/math'), /no reward function/);
});

test('multiply: Python int() rules, last answer anywhere after the first Assistant:', () => {
  const prompt = multiply.multiplyPrompt({ num1: 12, num2: 13 });
  assert.equal(prompt, 'A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> RESULT_NUMBER </answer>. User: Give me the answer of the following equation: 12 * 13 = Assistant: Ok let me think about it.\n<think>');
  const s = (answer: string, gt: unknown = 156): number => multiply.computeScore(`${prompt} hmm </think> <answer>${answer}</answer>`, gt);
  assert.equal(s('156'), 1);
  assert.equal(s(' +156 '), 1);
  assert.equal(s('1_56'), 1);
  assert.equal(s('0156'), 1);
  assert.equal(s('١٥٦'), 1, 'int() reads Unicode digits');
  assert.equal(s('155'), 0.1);
  assert.equal(s('-156'), 0.1);
  for (const bad of ['156.0', '1,56', '1__56', '_156', '156_', '12*13', '', '+ 156']) assert.equal(s(bad), 0, bad);
  assert.equal(s('156', '156'), 1, 'a string ground truth goes through int()');
  assert.equal(s('156', 156.7), 1, 'int(156.7) == 156');
  assert.equal(multiply.computeScore(`${prompt}\n<answer>156</answer>\nmore text`, 156), 1, 'no last-line rule');
  assert.equal(multiply.computeScore(`${prompt} <answer>156</answer> <answer>x</answer>`, 156), 0, 'the last answer must parse');
  assert.equal(multiply.computeScore('<answer>156</answer>', 156), 0, 'no Assistant: marker');
  assert.throws(() => s('156', 'abc'), /ground_truth must be an int/);
  assert.equal(computeScore('yolo/arithmetic-3_digit', `${arith.arithPrompt({ num1: 1, num2: 2, operation: '*' })} <answer>2</answer>`, 2), 1);
});

test('multiply/arith generators: operand ranges, dedupe, seeded', () => {
  const m = multiply.generateMultiply(new Prng(1), 5000);
  assert.ok(m.length > 4000 && m.length < 5000, `${m.length} distinct of 5000`);
  assert.ok(m.every((p) => p.result === p.num1 * p.num2 && p.num1 >= 0 && p.num1 < 1000));
  assert.equal(new Set(m.map((p) => `${p.num1}*${p.num2}`)).size, m.length);
  // r == 0 (< 10) is drawn a quarter of the time in multiply, never beyond what r == 1 gives in arth
  const small = m.filter((p) => p.num1 < 10).length / m.length;
  assert.ok(small > 0.2 && small < 0.35, `share of 1-digit operands ${small}`);
  assert.deepEqual(multiply.generateMultiply(new Prng(1), 100), m.slice(0, multiply.generateMultiply(new Prng(1), 100).length));
  const a = arith.generateArith(new Prng(1), 5000);
  const smallArith = a.filter((p) => p.num1 < 10).length / a.length;
  assert.ok(smallArith < 0.06, `arth draws r from 1..3: share of 1-digit operands ${smallArith}`);
  assert.ok(arith.arithPrompt({ num1: 5, num2: 7, operation: '*' }).endsWith(
    '<answer> RESULT_NUMBER </answer>. \nUser: Give me the answer of the following equation: 5 * 7.\nAssistant: Let me solve this step by step.\n<think>'));
});

test('gsm8k strict: first "#### number", commas removed, string equality', () => {
  assert.equal(gsm8k.computeScore('so #### 1,234', '1234'), 1);
  assert.equal(gsm8k.computeScore('#### 72.', '72'), 0);
  assert.equal(gsm8k.computeScore('#### 5 then #### 72', '72'), 0, 'the first match counts');
  assert.equal(gsm8k.computeScore('#### -3', '-3'), 1);
  assert.equal(gsm8k.computeScore('####72', '72'), 0, 'needs the space');
  assert.equal(gsm8k.computeScore('#### $72', '72'), 0);
  assert.equal(gsm8k.computeScore('#### 72', 72), 0, 'an int ground truth never equals the string');
  assert.equal(gsm8k.gsm8kPrompt('Q?'), 'Q? Let\'s think step by step and output the final answer after "####".');
});

test('MATH: last \\boxed{} and the hendrycks normalisation', () => {
  const s = (response: string, gt: string): number => math.computeScore(response, gt);
  assert.equal(s('so \\boxed{\\frac{1}{2}}', '\\frac12'), 1);
  assert.equal(s('\\boxed{1} then \\boxed{0.5}', '\\dfrac{1}{2}'), 1, 'last box; 0.5 -> \\frac{1}{2}');
  assert.equal(s('\\boxed{1/2}', '\\frac{1}{2}'), 1, 'a/b -> \\frac{a}{b}');
  assert.equal(s('\\boxed{x = 5}', '5'), 1, 'short lhs dropped');
  assert.equal(s('\\boxed{10\\%}', '10'), 1);
  assert.equal(s('\\boxed{90^\\circ}', '90'), 1);
  assert.equal(s('\\boxed{5\\text{ cm}}', '5'), 1, 'units on the right');
  assert.equal(s('\\boxed{.5}', '\\frac{1}{2}'), 1);
  assert.equal(s('\\boxed{\\sqrt3}', '\\sqrt{3}'), 1);
  assert.equal(s('\\boxed{\\left( 1, 2 \\right)}', '(1,2)'), 1);
  assert.equal(s('\\boxed 5$ end', '5'), 1, '"\\boxed " form up to $');
  assert.equal(s('\\fbox{5}', '5'), 0, 'fbox fails remove_boxed');
  assert.equal(s('no box', '5'), 0);
  assert.equal(s('\\boxed{5', '5'), 0, 'unbalanced');
  assert.equal(s('\\boxed{6}', '5'), 0);
  // strip_string raises on int('x'): is_equiv falls back to raw equality
  assert.equal(s('\\boxed{x/2}', 'x/2'), 1);
  assert.equal(s('\\boxed{x/2}', 'x / 2'), 0);
  assert.equal(math.lastBoxedOnlyString('a \\boxed{1{2}3} b'), '\\boxed{1{2}3}');
  assert.equal(math.stripString('\\dfrac12'), '\\frac{1}{2}');
  assert.equal(math.stripString('k = 3'), '3');
  assert.equal(math.stripString('abc = 3'), 'abc=3');
});

test('digit completion: ground truth, dense reward, token rewards', () => {
  assert.equal(digitCompletion.groundTruthResponse('8,3:9,4'), '7,2,6,1');
  assert.equal(digitCompletion.groundTruthResponse('7,8:20,0'), '');
  assert.equal(digitCompletion.groundTruthResponse('9,10:20,2'), '11,12');
  const r = digitCompletion.computeReward('9,10:20,2', '11,13');
  const per = Math.fround(1 / 6);
  assert.deepEqual(Array.from(r), [per, per, per, per, 0]);
  assert.deepEqual(Array.from(digitCompletion.computeReward('7,8:20,0', 'E000')), [0, 0, 0, 0]);
  const full = digitCompletion.digitCompletionTokenRewards('8,3:9,4', '7,2,6,1', [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  const p = Math.fround(1 / 8);
  assert.deepEqual(Array.from(full), [p, p, p, p, p, p, p, p, 0, 0]);
  assert.ok(Math.abs(full.reduce((a, b) => a + b, 0) - 1) < 1e-6, 'full match + EOS sums to 1');
  assert.deepEqual(Array.from(digitCompletion.digitCompletionTokenRewards('7,8:20,0', '', [1, 0])), [1, 0]);
  // A response that never stops, of removed characters or the answer followed by them, earns at most 1.0.
  const sum = (a: Float32Array): number => a.reduce((x, y) => x + y, 0);
  const never = new Array<number>(32).fill(1);
  assert.equal(sum(digitCompletion.digitCompletionTokenRewards('7,8:20,0', '', never)), 1);
  assert.ok(Math.abs(sum(digitCompletion.digitCompletionTokenRewards('8,3:9,4', '7,2,6,1', never)) - 1) < 1e-6);
  assert.ok(Math.abs(sum(digitCompletion.digitCompletionTokenRewards('8,3:9,4', '7,2', never)) - 4 * p) < 1e-6, 'three matching characters and the token after them');
  // veRL's e2e reward on decoded text removes the separator from the prompt and only the EOS from
  // the response: a separator inside the response mismatches the ground truth (rows worked by hand).
  const fromText = digitCompletion.digitCompletionRewardsFromText;
  assert.deepEqual(Array.from(fromText('8,3:9,4S', '7,2,6,1E', [1, 1, 1, 1, 1, 1, 1, 1, 0])), [p, p, p, p, p, p, p, p, 0]);
  assert.deepEqual(Array.from(fromText('8,3:9,4', '7,2,6,1E', [1, 1, 1, 1, 1, 1, 1, 1, 0])), [p, p, p, p, p, p, p, p, 0]);
  assert.deepEqual(Array.from(fromText('8,3:9,4S', '7S,2E', [1, 1, 1, 1, 1, 0])), [p, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(fromText('8,3:9,4S', '7,2E', [1, 1, 1, 1, 0])), [p, p, p, p, 0], 'stopping early: the EOS earns the last value');
  assert.deepEqual(Array.from(fromText('7,8:20,0S', 'E', [1, 0])), [1, 0]);
  assert.deepEqual(Array.from(fromText('7,8:20,0S', 'SE', [1, 1, 0])), [0, 0, 0]);
  assert.equal(sum(fromText('8,3:9,4S', 'S'.repeat(32), never)), 0, 'separators earn nothing');
  assert.equal(sum(fromText('8,3:9,4S', `7,2,6,1${'S'.repeat(25)}`, never)), 7 * p, 'the answer without its EOS');
  const all = digitCompletion.allDigitCompletionPrompts();
  assert.equal(all.length, 1000);
  // diff 0 and diff 9 give the same second number mod 9, so veRL's 1000 prompts hold 900 distinct ones
  assert.equal(new Set(all).size, 900);
  assert.equal(all[0], '0,0:9,0');
  const split = digitCompletion.splitDigitCompletion(new Prng(0));
  assert.equal(split.train.length, 800);
  assert.equal(split.test.length, 200);
  assert.deepEqual([...split.train, ...split.test].sort(), [...all].sort());
  assert.deepEqual(digitCompletion.splitDigitCompletion(new Prng(0)), split);
  assert.throws(() => digitCompletion.groundTruthResponse('8,3'), /"a,b:M,N"/);
});

test('countdown ground truth that is malformed fails with a clear message', () => {
  assert.throws(() => countdown.computeScore('Assistant: x', { target: 'nine', numbers: [1] } as never), /ground_truth.target must be a number, got nine/);
});
