// Countdown's behaviour metrics read from hand-written responses: tries, arithmetic, checks (both
// ways of writing one), the final answer after a passed check; malformed text, divisions, no answer
// and several answers; and the per-data-source aggregation the trainer logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { behaviorMetrics, selectBehaviorTermsFn } from '../../src/tasks/behavior.js';
import { countdownPrompt } from '../../src/tasks/countdown.js';
import { corpusResponse } from '../../src/tasks/countdown-corpus.js';
import { countdownBehavior, countdownBehaviorTerms, parseSteps } from '../../src/tasks/countdown-behavior.js';
import { generateCountdown } from '../../src/tasks/countdown.js';
import { Prng } from '../../src/util/prng.js';

const prompt = (nums: number[], target: number): string => countdownPrompt({ nums, target }, 'base');

/** The parts a test compares: steps as `a op b = c` with right/wrong, tries as `verdict value right?`. */
function summary(nums: number[], target: number, response: string) {
  const b = countdownBehavior(prompt(nums, target), response, { target, numbers: nums });
  return {
    steps: b.steps.map((s) => `${s.a}${s.op}${s.b}=${s.c}${s.right ? '' : ' wrong'}`),
    tries: b.tries.map((t) => `${t.verdict} ${t.value}${t.verdictRight ? '' : ' wrong verdict'}`),
    answer: b.answer,
    afterPassedCheck: b.answerAfterPassedCheck,
  };
}

test('the corpus style: tries that end in a verdict, the answer after a passed check', () => {
  assert.deepEqual(summary([44, 19, 35], 40, ' 44+19=63, 63-35=28 no. 35*19=665, 665-44=621 no. </think>\n<answer>(35*19)-44</answer>'), {
    steps: ['44+19=63', '63-35=28', '35*19=665', '665-44=621'],
    tries: ['no 28', 'no 621'],
    answer: '(35*19)-44',
    afterPassedCheck: false,
  });
  assert.deepEqual(summary([44, 19, 35], 28, ' 35*19=665, 665-44=621 no. 44+19=63, 63-35=28 yes. </think>\n<answer>(44+19)-35</answer><|endoftext|>'), {
    steps: ['35*19=665', '665-44=621', '44+19=63', '63-35=28'],
    tries: ['no 621', 'yes 28'],
    answer: '(44+19)-35',
    afterPassedCheck: true,
  });
  // Spaces around operators and `=`, a capitalised verdict, a semicolon between steps.
  assert.deepEqual(summary([44, 19, 35], 28, ' 44 + 19 = 63; 63 - 35 = 28 Yes.</think> <answer> (44 + 19) - 35 </answer>').tries, ['yes 28']);
});

test('the distance style: the last step subtracts the value from the target (or the target from it), the try reaches the value', () => {
  const r = summary([19, 7, 4], 28, ' 19+7=26, 28-26=2 no. 19+7=26, 26+4=30, 30-28=2 no. 7*4=28, 28-28=0 yes. </think>\n<answer>7*4</answer>');
  assert.deepEqual(r.tries, ['no 26', 'no 30', 'yes 28']);
  assert.equal(r.afterPassedCheck, true);
  // The target is one of the numbers: the step that uses it is the try's own while the try has not used it yet...
  assert.deepEqual(summary([63, 13, 25], 25, ' 63-13=50, 50-25=25 yes. </think>\n<answer>(63-13)-25</answer>').tries, ['yes 25']);
  // ...and the distance check once the try has used every number.
  assert.deepEqual(summary([19, 9, 28], 28, ' 19+9=28, 28*28=784, 784-28=756 no. 28-19=9, 9*9=81 no.').tries, ['no 784', 'no 81']);
  // A `yes` on a distance that is not 0 is a wrong verdict (and its arithmetic is wrong too).
  const wrong = summary([19, 7, 4], 28, ' 19+7=26, 28-26=0 yes. </think>\n<answer>19+7</answer>');
  assert.deepEqual(wrong, { steps: ['19+7=26', '28-26=0 wrong'], tries: ['yes 26 wrong verdict'], answer: '19+7', afterPassedCheck: true });
});

test('arithmetic and verdicts are judged separately: a verdict is right about the value as written', () => {
  // Wrong sums but a true check of the written 29: the answer evaluates to 28, not the 29 that passed.
  assert.deepEqual(summary([44, 19, 35], 29, ' 44+19=64, 64-35=29 yes. </think>\n<answer>(44+19)-35</answer>'), {
    steps: ['44+19=64 wrong', '64-35=29'], tries: ['yes 29'], answer: '(44+19)-35', afterPassedCheck: false,
  });
  // Right sums, wrong verdict: 28 is not the target 30.
  assert.deepEqual(summary([44, 19, 35], 30, ' 44+19=63, 63-35=28 yes. </think>\n<answer>(44+19)-35</answer>').tries, ['yes 28 wrong verdict']);
  assert.deepEqual(summary([44, 19, 35], 28, ' 44+19=63, 63-35=28 no.').tries, ['no 28 wrong verdict']);
});

test('divisions are right only when exact; negative results, huge numbers', () => {
  const steps = (text: string): string[] => parseSteps(text).map((s) => `${s.a}${s.op}${s.b}=${s.c}${s.right ? '' : ' wrong'}`);
  assert.deepEqual(steps('84/4=21, 7/2=3, 5/0=0, 0/0=0, 35-63=-28, 63-35=-28'), ['84/4=21', '7/2=3 wrong', '5/0=0 wrong', '0/0=0 wrong', '35-63=-28', '63-35=-28 wrong']);
  assert.deepEqual(steps('123456789012345678901234567890*2=246913578024691357802469135780'), ['123456789012345678901234567890*2=246913578024691357802469135780']);
  // Not steps: a decimal result, a step inside a longer expression, a decimal operand, a chain.
  assert.deepEqual(steps('9/2=4.5, 12*5-3=57, 1.5*2=3, 44+19=63-35=28, 3+4=7*2'), []);
});

test('malformed text: no crash, nothing read that is not a step or a try', () => {
  for (const text of ['', 'yes. no.', '====', '<answer></answer>', '+-*/=', 'no 44+19=63', '\u0000\uffff 1+1=2 yes'.repeat(3), '44+19=', '=63 yes']) {
    const b = countdownBehavior(prompt([44, 19, 35], 28), text, { target: 28, numbers: [44, 19, 35] });
    for (const t of b.tries) assert.ok(t.steps.length > 0);
  }
  // Steps without a verdict are counted as steps but make no try; a `.` ends the run.
  assert.deepEqual(summary([44, 19, 35], 28, ' 44+19=63, 63-35=28. yes. 1+1=2 maybe no.'), {
    steps: ['44+19=63', '63-35=28', '1+1=2'], tries: [], answer: null, afterPassedCheck: false,
  });
  // A verdict must be a word: `not`, `nothing` and `yesterday` are not verdicts.
  assert.deepEqual(summary([44, 19, 35], 28, ' 44+19=63 nothing. 63-35=28 yesterday.').tries, []);
});

test('the final answer is the one the reward reads: the last <answer> on the last line; steps inside answers do not count', () => {
  const r = summary([44, 19, 35], 28, ' <answer>44+19=63</answer> 44+19=63, 63-35=28 yes. <answer>35+19</answer> <answer>(44+19)-35</answer>');
  assert.deepEqual(r, { steps: ['44+19=63', '63-35=28'], tries: ['yes 28'], answer: '(44+19)-35', afterPassedCheck: false });
  // `right after`: no other answer or step between the passed check and the final answer.
  assert.equal(summary([44, 19, 35], 28, ' 44+19=63, 63-35=28 yes. 1+1=2. <answer>(44+19)-35</answer>').afterPassedCheck, false);
  assert.equal(summary([44, 19, 35], 28, ' 44+19=63, 63-35=28 yes. </think>\n<answer>(44+19)-35</answer>').afterPassedCheck, true);
  // An answer on an earlier line is not read (TinyZero reads the last line), so there is none.
  assert.deepEqual(summary([44, 19, 35], 28, ' 44+19=63, 63-35=28 yes. </think>\n<answer>(44+19)-35</answer>\nthanks'), {
    steps: ['44+19=63', '63-35=28'], tries: ['yes 28'], answer: null, afterPassedCheck: false,
  });
  // An answer the reward's evaluator refuses (letters) is not after a passed check; a float value is.
  assert.equal(summary([44, 19, 35], 28, ' 44+19=63, 63-35=28 yes. <answer>x</answer>').afterPassedCheck, false);
  assert.equal(summary([56, 2, 0], 28, ' 56/2=28, 28-0=28 yes. <answer>56/2-0</answer>').afterPassedCheck, true);
  // The example in the prompt is not the response's answer.
  assert.equal(countdownBehavior(prompt([1, 2, 3], 1), ' 1+2=3, 3/3=1 yes.', { target: 1, numbers: [1, 2, 3] }).answer, null);
});

test('responses written like the bundled base model\'s corpus read as it wrote them: all steps and checks right, answer = last try', () => {
  const rng = new Prng(3);
  for (let i = 0; i < 200; i++) {
    const problem = generateCountdown(rng, { minNumbers: 3, maxNumbers: 3 });
    const { response, answerValue } = corpusResponse(rng, problem);
    const b = countdownBehavior(prompt(problem.nums, problem.target), response, { target: problem.target, numbers: problem.nums });
    assert.ok(b.tries.length >= 1, response);
    assert.ok(b.steps.every((s) => s.right) && b.tries.every((t) => t.verdictRight), response);
    assert.equal(b.tries.reduce((n, t) => n + t.steps.length, 0), b.steps.length, response);
    assert.equal(b.tries.at(-1)!.value, BigInt(answerValue), response);
    assert.equal(b.answerAfterPassedCheck, b.tries.at(-1)!.verdict === 'yes', response);
  }
});

test('the behaviour terms and their means: over responses, over steps, over verdicts; other tasks log none', () => {
  const p = prompt([44, 19, 35], 28);
  assert.deepEqual(countdownBehaviorTerms(p, ' 44+19=63, 63-35=29 yes. </think>\n<answer>(44+19)-35</answer>', { target: 28, numbers: [44, 19, 35] }, 20), {
    tries_per_response: [1, 1], arith_correct: [1, 2], answer_after_passed_check: [0, 1], verdict_correct: [0, 1], response_length: [20, 1],
  });
  const gt = { target: 28, numbers: [44, 19, 35] };
  const metrics = behaviorMetrics([
    { dataSource: 'countdown', prompt: p, response: ' 44+19=63, 63-35=28 yes. </think>\n<answer>(44+19)-35</answer>', responseLength: 30, groundTruth: gt },
    { dataSource: 'countdown', prompt: p, response: ' 44+19=63, 63-35=28 no. 35*19=665, 665-44=620 no. </think>\n<answer>35</answer>', responseLength: 50, groundTruth: gt },
    { dataSource: 'countdown', prompt: p, response: 'nothing', responseLength: 4, groundTruth: { target: 28n, numbers: [44n, 19n, 35n] } },
    { dataSource: 'openai/gsm8k', prompt: 'q', response: '1+1=2 yes', responseLength: 9, groundTruth: '2' },
  ], (name, source) => `val/behavior/${name}/${source}`);
  assert.deepEqual(metrics, {
    'val/behavior/tries_per_response/countdown': 1,
    'val/behavior/arith_correct/countdown': 5 / 6,
    'val/behavior/answer_after_passed_check/countdown': 1 / 3,
    'val/behavior/verdict_correct/countdown': 2 / 3,
    'val/behavior/response_length/countdown': 28,
  });
  // No steps and no verdicts: those means are left out, not NaN.
  assert.deepEqual(behaviorMetrics([{ dataSource: 'countdown', prompt: p, response: '', responseLength: 0, groundTruth: gt }], (n) => n), {
    tries_per_response: 0, answer_after_passed_check: 0, response_length: 0,
  });
  assert.deepEqual(behaviorMetrics([{ dataSource: 'lighteval/MATH', prompt: 'q', response: '1+1=2 yes.', responseLength: 3, groundTruth: '2' }], (n) => n), {});
  assert.equal(selectBehaviorTermsFn('openai/gsm8k'), null);
  assert.throws(() => selectBehaviorTermsFn('countdown')!({ prompt: p, response: '', responseLength: 0, groundTruth: { numbers: [1] } }), /ground_truth must be \{target, numbers\} with integers, got \{"numbers":\[1\]\}/);
});
