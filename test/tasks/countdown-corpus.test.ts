// The synthetic corpus of the bundled base model: deterministic, arithmetic that is right, checks
// that are honest, a stopping point that ignores the checks, answers that are valid expressions over
// the given numbers but rarely reach the target, and a tokenizer that round-trips TinyZero's prompt
// in few tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeScore, countdownPrompt, evaluateEquation, generateCountdown } from '../../src/tasks/countdown.js';
import {
  COUNTDOWN_BASE_PROBLEMS, DEFAULT_MAX_TRIES, MAX_STEP_VALUE, corpusResponse, countdownCorpus, countdownTokenizerSpec, randomTry, tryCount,
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
  assert.ok(text > 5 && text < 45, `${text} arithmetic rows of 200`);
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
  for (let i = 0; i < 300; i++) {
    const p = generateCountdown(rng, COUNTDOWN_BASE_PROBLEMS);
    const t = randomTry(rng, p.nums, p.target);
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
    const { response, answerValue, tries } = corpusResponse(rng, p);
    const answer = /<answer>(.*)<\/answer>$/.exec(response)![1]!;
    assert.equal(valueOf(answer), answerValue);
    assert.equal(answer, tries.at(-1)!.expression);
    assert.equal(new Set(tries.map((x) => x.value)).size, tries.length, `${response}: tries reach different values`);
    assert.equal(response, ` ${tries.map((x) => x.text).join('. ')}. </think>\n<answer>${answer}</answer>`);
    // TinyZero's reward: a valid equation over the numbers scores at least the format credit.
    assert.ok(computeScore(countdownPrompt(p, 'base') + response, { target: p.target, numbers: p.nums }) >= 0.1);
  }
  assert.ok(yes > 10 && yes < 60, `${yes} of 300 random tries hit the target`);
});

test('where a response stops ignores the checks: as likely right after a yes as after a no', () => {
  const rng = new Prng(5);
  const after = { yes: { stop: 0, all: 0 }, no: { stop: 0, all: 0 } };
  let counts = 0;
  for (let i = 0; i < 6000; i++) {
    const p = generateCountdown(rng, COUNTDOWN_BASE_PROBLEMS);
    const { tries } = corpusResponse(rng, p);
    counts += tries.length;
    // the stop chance after try 2 (0.6 by default) is the same whatever try 2's check said
    if (tries.length < 2) continue;
    const verdict = tries[1]!.value === p.target ? 'yes' : 'no';
    after[verdict].all++;
    if (tries.length === 2) after[verdict].stop++;
  }
  const stopAfterYes = after.yes.stop / after.yes.all;
  const stopAfterNo = after.no.stop / after.no.all;
  assert.ok(after.yes.all > 300, `${after.yes.all} second tries said yes`);
  assert.ok(Math.abs(stopAfterYes - stopAfterNo) < 0.06, `stop after yes ${stopAfterYes.toFixed(3)}, after no ${stopAfterNo.toFixed(3)}`);
  assert.ok(stopAfterNo > 0.5 && stopAfterNo < 0.7, `stop after try 2: ${stopAfterNo.toFixed(3)}`);
  assert.ok(counts / 6000 > 2 && counts / 6000 < 3.5, `${(counts / 6000).toFixed(2)} tries a response`);
});

test('tryCount draws 1..maxTries with the stop chances, the last one repeating', () => {
  const rng = new Prng(9);
  const seen = new Array<number>(DEFAULT_MAX_TRIES + 1).fill(0);
  const N = 20_000;
  for (let i = 0; i < N; i++) seen[tryCount(rng)]!++;
  assert.equal(seen[0], 0);
  // P(1) = 0.2, P(2) = 0.8 * 0.6, P(3) = 0.8 * 0.4 * 0.35, P(8) = 0.8 * 0.4 * 0.65^5
  const expected = [0, 0.2, 0.48, 0.112, 0.0728, 0.04732, 0.030758, 0.019993, 0.8 * 0.4 * 0.65 ** 5];
  for (let k = 1; k <= DEFAULT_MAX_TRIES; k++) assert.ok(Math.abs(seen[k]! / N - expected[k]!) < 0.012, `P(${k}) = ${seen[k]! / N}, expected ${expected[k]}`);
  assert.equal(tryCount(rng, 1), 1);
  assert.throws(() => tryCount(rng, 0), /expected maxTries >= 1/);
});

test('answers reach the target only by chance (a base model, not a solver)', () => {
  const rng = new Prng(11);
  let solved = 0;
  let withYes = 0;
  const N = 1000;
  for (let i = 0; i < N; i++) {
    const p = generateCountdown(rng, COUNTDOWN_BASE_PROBLEMS);
    const { response } = corpusResponse(rng, p);
    if (computeScore(countdownPrompt(p, 'base') + response, { target: p.target, numbers: p.nums }) === 1) solved++;
    if (response.includes(' yes.')) withYes++;
  }
  assert.ok(solved > 0.04 * N && solved < 0.15 * N, `${solved} of ${N} solved`);
  // a passed check is written in more responses than are answered right: stopping at it is RL's to find
  assert.ok(withYes > 2 * solved, `${withYes} responses hold a yes, ${solved} are solved`);
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
