import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonl } from '../../src/data/index.js';
import { loadModelConfig } from '../../src/models/config.js';
import { writeCorpus, writeInitModel } from '../../src/sft/countdown-base-recipe.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';

test('the base recipe writes a loadable untrained model folder and a seeded corpus at small sizes', () => {
  const root = mkdtempSync(join(tmpdir(), 'tinyzero-recipe-'));
  const modelDir = join(root, 'init');
  writeInitModel(modelDir, { hidden: 32, layers: 1, heads: 2, intermediate: 64 });
  const config = loadModelConfig(join(modelDir, 'config.json'));
  const tokenizer = loadTokenizer(modelDir);
  assert.equal(config.hidden_size, 32);
  assert.equal(config.vocab_size, tokenizer.vocabSize);
  assert.ok(tokenizer.encode('<think>').length === 1, 'the phrase tokens are single tokens');

  const a = writeCorpus(join(root, 'a'), 6, 3, 7);
  const b = writeCorpus(join(root, 'b'), 6, 3, 7);
  const rows = (path: string) => readJsonl(path).map((l) => ('value' in l ? l.value : assert.fail(`${path}:${l.line}: ${l.error}`)));
  assert.equal(rows(a.train).length, 6);
  assert.equal(rows(a.val).length, 3);
  assert.deepEqual(rows(b.train), rows(a.train));
  assert.notDeepEqual(rows(a.val), rows(a.train).slice(0, 3));
});
