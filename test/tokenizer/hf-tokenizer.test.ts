import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HfTokenizer, loadTokenizer } from '../../src/tokenizer/index.js';
import { bytesToUnicode, makeQwenLikeTokenizer, specialTokens } from './qwen-like-fixture.js';

const folder = makeQwenLikeTokenizer();
const byteChar = new Map(bytesToUnicode());
/** The id of the byte-level symbol of one byte (ids 0..255 follow GPT-2's table order). */
const byteId = (b: number) => folder.vocab[byteChar.get(b)!]!;
const utf8 = (s: string) => [...new TextEncoder().encode(s)];

test('Qwen2-like tokenizer.json: loadTokenizer picks HF; eos/pad from tokenizer_config.json', () => {
  const t = loadTokenizer(folder.dir);
  assert.ok(t instanceof HfTokenizer);
  assert.equal(t.vocabSize, 256 + 12 + 3);
  assert.equal(t.eosTokenId, folder.special['<|endoftext|>']);
  assert.equal(t.padTokenId, folder.special['<|endoftext|>']);
  assert.equal(t.bosTokenId, null);
  assert.equal(t.tokenToId('<|im_end|>'), folder.special['<|im_end|>']);
  assert.equal(t.idToToken(folder.vocab['Ġworld']!), 'Ġworld');
});

test('special tokens are single ids, never split by the pre-tokenizer', () => {
  const t = loadTokenizer(folder.dir);
  for (const s of specialTokens) assert.deepEqual(t.encode(s), [folder.special[s]], s);
  const ids = t.encode('<|im_start|>user\nthe<|im_end|>');
  assert.deepEqual(ids, [
    folder.special['<|im_start|>'], ...utf8('user\n').map(byteId), folder.vocab.the, folder.special['<|im_end|>'],
  ]);
  assert.equal(t.decode(ids, { skipSpecialTokens: true }), 'user\nthe');
  assert.equal(t.decode(ids), '<|im_start|>user\nthe<|im_end|>');
});

test('BPE merges apply by rank; every digit is its own token', () => {
  const t = loadTokenizer(folder.dir);
  assert.deepEqual(t.encode('Hello the world'), [folder.vocab.Hello, folder.vocab['Ġthe'], folder.vocab['Ġworld']]);
  assert.deepEqual(t.encode('thermal'), [folder.vocab.the, ...utf8('rmal').map(byteId)]);
  assert.deepEqual(t.encode('word'), [folder.vocab.w, folder.vocab.or, folder.vocab.d]); // 'Ġw' needs the space
  assert.deepEqual(t.encode('12345'), utf8('12345').map(byteId));
  assert.deepEqual(t.encode('x=2024'), utf8('x=2024').map(byteId));
});

test('encode/decode round-trips ASCII and UTF-8 text byte for byte', () => {
  const t = loadTokenizer(folder.dir);
  for (const text of ['Hello the world', 'a  b\n\nc . d\t!', 'héllo 你好 🙂', 'Ünïcödé — “quotes”', '']) {
    const ids = t.encode(text);
    assert.equal(t.decode(ids), text, JSON.stringify(text));
  }
  // No merges cover these bytes: one id per UTF-8 byte (你 is 3 bytes, 🙂 is 4).
  assert.deepEqual(t.encode('你'), utf8('你').map(byteId));
  assert.equal(t.encode('🙂').length, 4);
  assert.throws(() => t.decode([t.vocabSize]), /outside the vocabulary/);
});

test('the chat template renders the exact Qwen2-style string', () => {
  const t = loadTokenizer(folder.dir);
  const user = [{ role: 'user', content: 'What is 2+3?' }];
  assert.equal(
    t.applyChatTemplate(user, { addGenerationPrompt: true }),
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n',
  );
  const withSystem = [{ role: 'system', content: 'Be brief.' }, ...user, { role: 'assistant', content: '5' }];
  assert.equal(
    t.applyChatTemplate(withSystem),
    '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n5<|im_end|>\n',
  );
  const ids = t.encode(t.applyChatTemplate(user, { addGenerationPrompt: true }), { addSpecialTokens: false });
  assert.equal(ids.filter((id) => id === folder.special['<|im_start|>']).length, 3);
  assert.throws(
    () => t.applyChatTemplate([{ role: 'tool', content: 'x' }]),
    (e: Error) => e.message.includes(join(folder.dir, 'tokenizer_config.json')) && /tool messages are not supported/.test(e.message),
  );
});

test('template variables bos_token/eos_token, eos override, and missing or unknown eos errors', () => {
  const configFile = join(folder.dir, 'tokenizer_config.json');
  const original = readFileSync(configFile, 'utf8');
  try {
    const config = JSON.parse(original);
    writeFileSync(configFile, JSON.stringify({ ...config, chat_template: '[{{ eos_token }}|{{ pad_token }}|{{ bos_token }}]{{ messages[0].content }}', eos_token: { content: '<|im_end|>', special: true } }));
    const t = loadTokenizer(folder.dir);
    assert.equal(t.eosTokenId, folder.special['<|im_end|>']);
    assert.equal(t.applyChatTemplate([{ role: 'user', content: 'hi' }]), '[<|im_end|>|<|endoftext|>|]hi');
    assert.equal(loadTokenizer(folder.dir, { eosToken: '<|endoftext|>' }).eosTokenId, folder.special['<|endoftext|>']);
    writeFileSync(configFile, JSON.stringify({ ...config, eos_token: null, pad_token: null }));
    assert.throws(() => loadTokenizer(folder.dir), new RegExp(`${configFile}: no eos_token`));
    writeFileSync(configFile, JSON.stringify({ ...config, eos_token: '</s>' }));
    assert.throws(() => loadTokenizer(folder.dir), /eos_token "<\/s>" is not in the vocabulary/);
    writeFileSync(configFile, JSON.stringify({ ...config, pad_token: null }));
    assert.equal(loadTokenizer(folder.dir).padTokenId, folder.special['<|endoftext|>']); // pad falls back to eos
    writeFileSync(configFile, JSON.stringify({ ...config, chat_template: undefined }));
    assert.throws(() => loadTokenizer(folder.dir).applyChatTemplate([]), /no chat_template/);
  } finally {
    writeFileSync(configFile, original);
  }
});
