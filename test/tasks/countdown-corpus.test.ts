// The synthetic corpus of the bundled base model: deterministic, arithmetic that is right, checks
// that are honest, tries in one fixed order, a stopping point that ignores the checks, answers that are valid expressions over
// the given numbers but rarely reach the target, and a tokenizer that round-trips TinyZero's prompt
// in few tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeScore, countdownPrompt, evaluateEquation, generateCountdown } from '../../src/tasks/countdown.js';
import {
  COUNTDOWN_BASE_PROBLEMS, DEFAULT_MAX_TRIES, MAX_STEP_VALUE, corpusResponse, countdownCorpus, countdownTokenizerSpec, tryCount, tryCycle,
} from '../../src/tasks/countdown-corpus.js';
import { savePhraseTokenizer } from '../../src/tokenizer/phrase-tokenizer.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { Prng } from '../../src/util/prng.js';

/** The value under TinyZero's evaluator (Python semantics), as a JS number; NaN when not real. */
function valueOf(expression: string): number {
  const v = evaluateEquation(expression);
  return v === null || v.k === 'complex' ? NaN : Number(v.v);
}

const STEP = /^(\d+)([-+*/])(\d+)=(\d+)$/;

/** `a op b=c` is right arithmetic over non-negative integers of at most MAX_STEP_VALUE. */
function assertStep(step: string): { x: number; op: string; y: number; v: number } {
  const m = STEP.exec(step);
  assert.ok(m, step);
  const [x, y, v] = [Number(m[1]), Number(m[3]), Number(m[4])];
  assert.equal(valueOf(`${x}${m[2]}${y}`), v, step);
  for (const n of [x, y, v]) assert.ok(n >= 0 && n <= MAX_STEP_VALUE, `${step}: a value above ${MAX_STEP_VALUE}`);
  return { x, op: m[2]!, y, v };
}

test('the corpus is a function of its seed and mixes arithmetic text with Countdown pairs over numbers in [1, 20]', () => {
  const a = countdownCorpus(200, 7);
  assert.deepEqual(a, countdownCorpus(200, 7));
  assert.notDeepEqual(a, countdownCorpus(200, 8));
  const text = a.filter((r) => 'text' in r).length;
  assert.ok(text > 40 && text < 80, `${text} arithmetic rows of 200`);
  for (const r of a) {
    if ('text' in r) {
      for (const line of r.text.split('\n')) assertStep(line);
    } else {
      assert.ok(r.prompt.endsWith('Assistant: Let me solve this step by step.\n<think>'));
      const nums = /Using the numbers \[(\d+), (\d+), (\d+)\]/.exec(r.prompt);
      assert.ok(nums, r.prompt);
      for (const n of nums.slice(1).map(Number)) assert.ok(n >= 1 && n <= COUNTDOWN_BASE_PROBLEMS.maxNumber, r.prompt);
    }
  }
});

test('every try is right arithmetic checked by its distance to the target, and the answer is the last try', () => {
  const rng = new Prng(3);
  let yes = 0;
  let tried = 0;
  for (let i = 0; i < 300; i++) {
    const p = generateCountdown(rng, COUNTDOWN_BASE_PROBLEMS);
    for (const t of tryCycle(p.nums, p.target)) {
      tried++;
      assert.equal(valueOf(t.expression), t.value, t.expression);
      const m = /^(.*), (.*), (.*) (yes|no)$/.exec(t.text);
      assert.ok(m, t.text);
      const [first, second, distance] = [assertStep(m[1]!), assertStep(m[2]!), assertStep(m[3]!)];
      assert.ok(second.x === first.v || second.y === first.v, `${t.text}: the second step uses the first's result`);
      assert.equal(second.v, t.value);
      // larger minus smaller, one of them the target, zero exactly when the try hits it
      assert.equal(distance.op, '-', t.text);
      assert.deepEqual([distance.x, distance.y].sort((u, w) => u - w), [t.value, p.target].sort((u, w) => u - w), t.text);
      assert.equal(m[4], t.value === p.target ? 'yes' : 'no', t.text);
      if (m[4] === 'yes') yes++;
    }
    const { response, answerValue, tries } = corpusResponse(rng, p);
    const answer = /<answer>(.*)<\/answer>$/.exec(response)![1]!;
    assert.equal(valueOf(answer), answerValue);
    assert.equal(answer, tries.at(-1)!.expression);
    assert.equal(response, ` ${tries.map((x) => x.text).join('. ')}. </think>\n<answer>${answer}</answer>`);
    // TinyZero's reward: a valid equation over the numbers scores at least the format credit.
    assert.ok(computeScore(countdownPrompt(p, 'base') + response, { target: p.target, numbers: p.nums }) >= 0.1);
  }
  // about one try in 12 of the whole order hits the target
  assert.ok(yes > 0.04 * tried && yes < 0.15 * tried, `${yes} of ${tried} tries hit the target`);
});

test('the tries follow one fixed order: the first two numbers first, + * - /, from its start or anywhere in it', () => {
  const nums = [12, 7, 3];
  const texts = tryCycle(nums, 50).map((t) => t.text);
  assert.deepEqual(texts.slice(0, 4), ['12+7=19, 19+3=22, 50-22=28 no', '12+7=19, 19*3=57, 57-50=7 no', '12+7=19, 19-3=16, 50-16=34 no', '12*7=84, 84+3=87, 87-50=37 no']);
  // 84*3 is above 100 and 19/3 is not exact: no such steps; no division by 1; (12+3)+7 repeats (12+7)+3
  assert.ok(texts.every((t) => !/^12\+3=15, 15\+7/.test(t) && !/\/1=/.test(t)), texts.join('\n'));
  assert.ok(texts.includes('12+3=15, 15*7=105, 105-50=55 no') === false, 'no value above 100');
  assert.equal(texts.filter((t) => t.startsWith('12-7=5, ')).length, 3, texts.join('\n')); // 5/3 is not exact
  assert.throws(() => tryCycle([1, 2], 3), /expected 3 numbers/);
  const rng = new Prng(13);
  let fromStart = 0;
  const N = 2000;
  for (let i = 0; i < N; i++) {
    const p = generateCountdown(rng, COUNTDOWN_BASE_PROBLEMS);
    const cycle = tryCycle(p.nums, p.target).map((t) => t.text);
    const { tries } = corpusResponse(rng, p);
    // consecutive tries of the order (wrapping round), from some point of it (a repeated number repeats tries)
    const starts = cycle.map((_, at) => at).filter((at) => tries.every((t, k) => t.text === cycle[(at + k) % cycle.length]));
    assert.ok(starts.length > 0, `${p.nums} -> ${p.target}: ${tries.map((t) => t.text).join('. ')}`);
    if (starts[0] === 0) fromStart++;
  }
  assert.ok(fromStart > 0.45 * N && fromStart < 0.6 * N, `${fromStart} of ${N} start at the start`);
});

test('where a response stops ignores the checks: after every try, as likely right after a yes as after a no', () => {
  const rng = new Prng(5);
  const after = { yes: { stop: 0, all: 0 }, no: { stop: 0, all: 0 } };
  let counts = 0;
  const N = 12_000;
  for (let i = 0; i < N; i++) {
    const p = generateCountdown(rng, COUNTDOWN_BASE_PROBLEMS);
    const { tries } = corpusResponse(rng, p);
    counts += tries.length;
    tries.forEach((t, k) => {
      if (k === DEFAULT_MAX_TRIES - 1) return; // the last allowed try always stops
      const verdict = t.value === p.target ? 'yes' : 'no';
      after[verdict].all++;
      if (k === tries.length - 1) after[verdict].stop++;
    });
  }
  const stopAfterYes = after.yes.stop / after.yes.all;
  const stopAfterNo = after.no.stop / after.no.all;
  assert.ok(after.yes.all > 1000, `${after.yes.all} tries said yes`);
  assert.ok(Math.abs(stopAfterYes - stopAfterNo) < 0.05, `stop after yes ${stopAfterYes.toFixed(3)}, after no ${stopAfterNo.toFixed(3)}`);
  // above one half: a greedy decoder of the corpus stops after one try, whatever its check
  assert.ok(stopAfterNo > 0.57 && stopAfterNo < 0.63 && stopAfterYes > 0.55, `stop after a try: ${stopAfterNo.toFixed(3)}`);
  assert.ok(counts / N > 1.55 && counts / N < 1.8, `${(counts / N).toFixed(2)} tries a response`);
});

test('tryCount draws 1..maxTries, stopping after each try with the same chance', () => {
  const rng = new Prng(9);
  const seen = new Array<number>(DEFAULT_MAX_TRIES + 1).fill(0);
  const N = 20_000;
  for (let i = 0; i < N; i++) seen[tryCount(rng)]!++;
  assert.equal(seen[0], 0);
  // P(k) = 0.4^(k-1) * 0.6 below 8, P(8) = 0.4^7
  for (let k = 1; k <= DEFAULT_MAX_TRIES; k++) {
    const expected = k < DEFAULT_MAX_TRIES ? 0.4 ** (k - 1) * 0.6 : 0.4 ** 7;
    assert.ok(Math.abs(seen[k]! / N - expected) < 0.012, `P(${k}) = ${seen[k]! / N}, expected ${expected}`);
  }
  assert.equal(tryCount(rng, 1), 1);
  assert.throws(() => tryCount(rng, 0), /expected maxTries >= 1/);
  assert.throws(() => tryCount(rng, 8, [0]), /stop chances in \(0, 1\]/);
});

test('tryCount with a stop chance per try: the last chance holds for every later try', () => {
  const rng = new Prng(10);
  const seen = new Array<number>(DEFAULT_MAX_TRIES + 1).fill(0);
  const N = 20_000;
  for (let i = 0; i < N; i++) seen[tryCount(rng, DEFAULT_MAX_TRIES, [0.6, 0.3])]!++;
  // P(1) = 0.6, P(k) = 0.4 * 0.7^(k-2) * 0.3 for 2 <= k < 8, P(8) = 0.4 * 0.7^6
  for (let k = 1; k <= DEFAULT_MAX_TRIES; k++) {
    const expected = k === 1 ? 0.6 : k < DEFAULT_MAX_TRIES ? 0.4 * 0.7 ** (k - 2) * 0.3 : 0.4 * 0.7 ** 6;
    assert.ok(Math.abs(seen[k]! / N - expected) < 0.012, `P(${k}) = ${seen[k]! / N}, expected ${expected}`);
  }
  assert.throws(() => tryCount(rng, 8, []), /stop chances in \(0, 1\]/);
  assert.throws(() => tryCount(rng, 8, [0.6, 1.5]), /got 8, \[0\.6, 1\.5\]/);
});

test('answers reach the target only by chance (a base model, not a solver), while the order would reach it', () => {
  const rng = new Prng(11);
  let solved = 0;
  let withYes = 0;
  let withinEight = 0;
  const N = 1000;
  for (let i = 0; i < N; i++) {
    const p = generateCountdown(rng, COUNTDOWN_BASE_PROBLEMS);
    const { response } = corpusResponse(rng, p);
    if (computeScore(countdownPrompt(p, 'base') + response, { target: p.target, numbers: p.nums }) === 1) solved++;
    if (response.includes(' yes.')) withYes++;
    if (tryCycle(p.nums, p.target).slice(0, DEFAULT_MAX_TRIES).some((t) => t.value === p.target)) withinEight++;
  }
  assert.ok(solved > 0.04 * N && solved < 0.15 * N, `${solved} of ${N} solved`);
  // a passed check is written in more responses than are answered right: stopping at it is RL's to find
  assert.ok(withYes > 1.3 * solved, `${withYes} responses hold a yes, ${solved} are solved`);
  // trying on in the order from its start until a check passes solves most problems
  assert.ok(withinEight > 0.55 * N, `${withinEight} of ${N} solved within the order's first ${DEFAULT_MAX_TRIES} tries`);
});

test('the phrase tokenizer round-trips a prompt and response, and the prompt is at most 16 tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-phrase-'));
  try {
    savePhraseTokenizer(dir, countdownTokenizerSpec());
    const tok = loadTokenizer(dir);
    const prompt = countdownPrompt({ nums: [12, 7, 3], target: 50 }, 'base');
    const response = ' 12+7=19, 19*3=57, 57-50=7 no. 12*3=36, 36+7=43, 50-43=7 no. </think>\n<answer>(12*3)+7</answer>';
    const text = prompt + response;
    const ids = tok.encode(text, { addSpecialTokens: false });
    assert.equal(tok.decode(ids), text);
    // 10..100 are one token each, and so are ', ', ' yes.' and ' no.'
    assert.deepEqual(tok.encode(' 12+7=19, 19*3=57, 57-50=7 no.', { addSpecialTokens: false }).map((i) => tok.decode([i])),
      [' ', '12', '+', '7', '=', '19', ', ', '19', '*', '3', '=', '57', ', ', '57', '-', '50', '=', '7', ' no.']);
    assert.ok(tok.encode(prompt, { addSpecialTokens: false }).length <= 16);
    assert.equal(tok.decode([...ids, tok.eosTokenId], { skipSpecialTokens: true }), text);
    assert.equal(tok.eosTokenId, 0);
    assert.equal(tok.padTokenId, 0);
    // the verdict that ends the thinking is one token, a separate output from the verdict that goes on
    assert.deepEqual(tok.encode(' 7 no. 1+2=3 yes. </think>\n', { addSpecialTokens: false }).map((i) => tok.decode([i])),
      [' ', '7', ' no.', ' ', '1', '+', '2', '=', '3', ' yes. </think>', '\n']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
