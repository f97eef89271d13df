import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CharTokenizer, loadTokenizer } from '../../src/tokenizer/index.js';
import { tinyLlamaDir } from '../helpers/assets.js';

const tinyLlama = tinyLlamaDir;

/** veRL's e2e CharTokenizer mapping: S=0, E=1, P=2, U=3, '0'..'9' -> 4..13, ',' -> 14, ':' -> 15. */
function specIds(text: string): number[] {
  return [...text].map((c) => {
    if (c >= '0' && c <= '9') return 4 + c.charCodeAt(0) - 48;
    if (c === ',') return 14;
    if (c === ':') return 15;
    const special = 'SEPU'.indexOf(c);
    return special >= 0 ? special : 3;
  });
}

test('tiny-llama: loadTokenizer picks the char tokenizer with veRL\'s ids', () => {
  const t = loadTokenizer(tinyLlama);
  assert.ok(t instanceof CharTokenizer);
  assert.equal(t.vocabSize, 16);
  assert.equal(t.eosTokenId, 1);
  assert.equal(t.padTokenId, 2);
  assert.equal(t.bosTokenId, null);
  for (const prompt of ['8,3:9,4', '0,0:9,0', '7,2,6,1', '9,1:9,9']) {
    const ids = t.encode(prompt);
    assert.deepEqual(ids, specIds(prompt), prompt);
    assert.equal(t.decode(ids), prompt);
  }
  assert.deepEqual(t.encode('8,3:9,4'), [12, 14, 7, 15, 13, 14, 8]);
  assert.deepEqual(t.encode('8,3:9,4', { addSpecialTokens: true }), t.encode('8,3:9,4')); // nothing is ever added
  for (let id = 0; id < 16; id++) assert.equal(t.tokenToId(t.idToToken(id)!), id);
  assert.equal(t.idToToken(16), undefined);
  assert.equal(t.tokenToId('x'), undefined);
});

test('char tokenizer: S/E/P/U are special in text and in decode; unknown chars become U', () => {
  const t = loadTokenizer(tinyLlama);
  assert.deepEqual(t.encode('1,2S3E'), [5, 14, 6, 0, 7, 1]);
  assert.deepEqual(t.encode('1+x'), [5, 3, 3]);
  const ids = [12, 14, 7, 0, 11, 14, 6, 1, 2, 2, 3];
  assert.equal(t.decode(ids), '8,3S7,2EPPU');
  assert.equal(t.decode(ids, { skipSpecialTokens: true }), '8,37,2');
  assert.throws(() => t.decode([16]), /id 16 is outside the vocabulary \[0, 16\)/);
});

test('char tokenizer chat template: content, then S with a generation prompt; system role refused', () => {
  const t = loadTokenizer(tinyLlama);
  const messages = [{ role: 'user', content: '8,3:9,4' }];
  assert.equal(t.applyChatTemplate(messages), '8,3:9,4');
  const prompt = t.applyChatTemplate(messages, { addGenerationPrompt: true });
  assert.equal(prompt, '8,3:9,4S');
  assert.deepEqual(t.encode(prompt), [...specIds('8,3:9,4'), 0]);
  assert.throws(
    () => t.applyChatTemplate([{ role: 'system', content: 'x' }, ...messages]),
    (e: Error) => e.message.includes(join(tinyLlama, 'tokenizer_config.json')) && /System role not supported/.test(e.message),
  );
  assert.throws(() => t.applyChatTemplate([{ role: 'assistant', content: '1' }]), /Conversation roles must alternate/);
});

test('CharTokenizer from a character list: ids from 4 in order; save and load round-trip', () => {
  const t = new CharTokenizer(['a', 'b', '+', '=', 'é']);
  assert.equal(t.vocabSize, 9);
  assert.deepEqual(t.encode('b+a=é?'), [5, 6, 4, 7, 8, 3]);
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-char-'));
  t.save(dir);
  const saved = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  assert.deepEqual(saved.char_ords, [97, 98, 43, 61, 233]);
  const back = loadTokenizer(dir);
  assert.ok(back instanceof CharTokenizer);
  assert.deepEqual(back.chars, t.chars);
  assert.equal(back.applyChatTemplate([{ role: 'user', content: 'a+b' }], { addGenerationPrompt: true }), 'a+bS');
  // The fixture's vocabulary saved again gives the same char_ords and template.
  const fixture = JSON.parse(readFileSync(join(tinyLlama, 'tokenizer_config.json'), 'utf8'));
  const again = mkdtempSync(join(tmpdir(), 'tinyzero-char-'));
  (loadTokenizer(tinyLlama) as CharTokenizer).save(again);
  const resaved = JSON.parse(readFileSync(join(again, 'tokenizer_config.json'), 'utf8'));
  assert.deepEqual(resaved, { char_ords: fixture.char_ords, model_max_length: 2048, chat_template: fixture.chat_template });
});

test('CharTokenizer rejects duplicates, special letters and multi-character entries', () => {
  assert.throws(() => new CharTokenizer(['1', '2', '1']), /vocabulary entry 2 "1" is a duplicate/);
  assert.throws(() => new CharTokenizer(['E']), /vocabulary entry 0 "E" is a special token/);
  assert.throws(() => new CharTokenizer(['ab']), /vocabulary entry 0 "ab" is not one character/);
  assert.throws(() => CharTokenizer.fromCharOrds([48, -1]), /char_ords\[1\] = -1 is not a code point/);
  assert.throws(() => loadTokenizer(mkdtempSync(join(tmpdir(), 'tinyzero-none-'))), /no tokenizer found/);
});
