// The synthetic corpus of the bundled base model: deterministic, arithmetic that is right, answers
// that are valid expressions over the given numbers but rarely reach the target, and a tokenizer that
// round-trips TinyZero's prompt in few tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeScore, countdownPrompt, evaluateEquation, generateCountdown } from '../../src/tasks/countdown.js';
import { corpusResponse, countdownCorpus, countdownTokenizerSpec, randomTry } from '../../src/tasks/countdown-corpus.js';
import { savePhraseTokenizer } from '../../src/tokenizer/phrase-tokenizer.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { Prng } from '../../src/util/prng.js';

/** The value under TinyZero's evaluator (Python semantics), as a JS number; NaN when not real. */
function valueOf(expression: string): number {
  const v = evaluateEquation(expression);
  return v === null || v.k === 'complex' ? NaN : Number(v.v);
}

test('the corpus is a function of its seed and mixes arithmetic text with Countdown pairs', () => {
  const a = countdownCorpus(200, 7);
  assert.deepEqual(a, countdownCorpus(200, 7));
  assert.notDeepEqual(a, countdownCorpus(200, 8));
  const text = a.filter((r) => 'text' in r).length;
  assert.ok(text > 5 && text < 45, `${text} arithmetic rows of 200`);
  for (const r of a) {
    if ('text' in r) {
      for (const line of r.text.split('\n')) {
        const m = /^(\d+)([-+*/])(\d+)=(\d+)$/.exec(line);
        assert.ok(m, line);
        assert.equal(valueOf(`${m[1]}${m[2]}${m[3]}`), Number(m[4]), line);
      }
    } else {
      assert.ok(r.prompt.endsWith('Assistant: Let me solve this step by step.\n<think>'));
    }
  }
});

test('every try is correct arithmetic with an honest check, and the answer is the last try', () => {
  const rng = new Prng(3);
  for (let i = 0; i < 300; i++) {
    const p = generateCountdown(rng, { minNumbers: 3, maxNumbers: 3 });
    const t = randomTry(rng, p.nums, p.target);
    assert.equal(valueOf(t.expression), t.value, t.expression);
    const m = /^(\d+)([-+*/])(\d+)=(\d+), (\d+)([-+*/])(\d+)=(\d+) (yes|no)$/.exec(t.text);
    assert.ok(m, t.text);
    assert.equal(Number(m[8]), t.value);
    assert.equal(m[9], t.value === p.target ? 'yes' : 'no');
    const { response, answerValue } = corpusResponse(rng, p);
    const answer = /<answer>(.*)<\/answer>$/.exec(response)![1]!;
    assert.equal(valueOf(answer), answerValue);
    // TinyZero's reward: a valid equation over the numbers scores at least the format credit.
    assert.ok(computeScore(countdownPrompt(p, 'base') + response, { target: p.target, numbers: p.nums }) >= 0.1);
  }
});

test('answers reach the target only by chance (a base model, not a solver)', () => {
  const rng = new Prng(11);
  let solved = 0;
  const N = 1000;
  for (let i = 0; i < N; i++) {
    const p = generateCountdown(rng, { minNumbers: 3, maxNumbers: 3 });
    const { response } = corpusResponse(rng, p);
    if (computeScore(countdownPrompt(p, 'base') + response, { target: p.target, numbers: p.nums }) === 1) solved++;
  }
  assert.ok(solved > 0.02 * N && solved < 0.2 * N, `${solved} of ${N} solved`);
});

test('the phrase tokenizer round-trips a prompt and response, and the prompt is about 20 tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-phrase-'));
  try {
    savePhraseTokenizer(dir, countdownTokenizerSpec());
    const tok = loadTokenizer(dir);
    const prompt = countdownPrompt({ nums: [44, 19, 35], target: 60 }, 'base');
    const text = `${prompt} 44+19=63, 63-35=28 no. </think>\n<answer>(44+19)-35</answer>`;
    const ids = tok.encode(text, { addSpecialTokens: false });
    assert.equal(tok.decode(ids), text);
    assert.ok(tok.encode(prompt, { addSpecialTokens: false }).length <= 20);
    assert.equal(tok.decode([...ids, tok.eosTokenId], { skipSpecialTokens: true }), text);
    assert.equal(tok.eosTokenId, 0);
    assert.equal(tok.padTokenId, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
