import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CharTokenizer, decodeGenerated, loadTokenizer } from '../../src/tokenizer/index.js';
import { makeQwenLikeTokenizer } from './qwen-like-fixture.js';

test('ids past the tokenizer\'s vocabulary (a model with more embedding rows) decode as empty text', () => {
  const t = loadTokenizer(makeQwenLikeTokenizer().dir);
  const ids = t.encode('Hello the world');
  const extra = [t.vocabSize, t.vocabSize + 200];
  assert.throws(() => t.decode([...ids, ...extra]), /outside the vocabulary/);
  assert.equal(decodeGenerated(t, [extra[0]!, ...ids.slice(0, 1), extra[1]!, ...ids.slice(1)]), 'Hello the world');
  assert.equal(decodeGenerated(t, extra), '');
  const c = new CharTokenizer([...'0123456789+']);
  assert.equal(decodeGenerated(c, [...c.encode('12'), c.vocabSize + 3, ...c.encode('+3')]), '12+3');
});

test('ids the tokenizer cannot have are still an error', () => {
  const t = loadTokenizer(makeQwenLikeTokenizer().dir);
  assert.throws(() => decodeGenerated(t, [-1]), /outside the vocabulary/);
});
