import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonl } from '../../src/data/index.js';
import { loadModelConfig } from '../../src/models/config.js';
import { extendWithStopInVerdict, writeCorpus, writeInitModel } from '../../src/sft/countdown-base-recipe.js';
import { readSafetensors, rawToFloat32 } from '../../src/models/safetensors.js';
import { writeSafetensors } from '../../src/models/safetensors-write.js';
import { Prng } from '../../src/util/prng.js';
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

test('the stop-in-verdict tokens are added as the last two ids, their embedding rows copied from the verdicts', () => {
  const root = mkdtempSync(join(tmpdir(), 'tinyzero-recipe-'));
  const from = join(root, 'phase2');
  writeInitModel(from, { hidden: 8, layers: 1, heads: 2, intermediate: 16 }, { stopInVerdict: false });
  const config = loadModelConfig(from);
  const rng = new Prng(4);
  const embed = Float32Array.from({ length: config.vocab_size * 8 }, () => rng.int(-100, 100) / 64); // exact in BF16
  const norm = Float32Array.from({ length: 8 }, () => 1);
  writeSafetensors(join(from, 'model.safetensors'), { 'model.embed_tokens.weight': { shape: [config.vocab_size, 8], data: embed }, 'model.norm.weight': { shape: [8], data: norm } }, { dtype: 'BF16' });
  const to = join(root, 'phase3-init');
  extendWithStopInVerdict(from, to);

  const before = loadTokenizer(from);
  const after = loadTokenizer(to);
  assert.equal(loadModelConfig(to).vocab_size, config.vocab_size + 2);
  assert.equal(after.vocabSize, before.vocabSize + 2);
  const yesStop = after.encode(' yes. </think>', { addSpecialTokens: false });
  const noStop = after.encode(' no. </think>', { addSpecialTokens: false });
  assert.deepEqual([yesStop, noStop], [[config.vocab_size], [config.vocab_size + 1]]);
  const { tensors } = readSafetensors(join(to, 'model.safetensors'));
  const grown = rawToFloat32(tensors.get('model.embed_tokens.weight')!);
  assert.deepEqual(tensors.get('model.embed_tokens.weight')!.shape, [config.vocab_size + 2, 8]);
  assert.deepEqual(grown.subarray(0, embed.length), embed);
  const row = (t: Float32Array, id: number) => Array.from(t.subarray(id * 8, id * 8 + 8));
  const [yes] = before.encode(' yes.', { addSpecialTokens: false });
  const [no] = before.encode(' no.', { addSpecialTokens: false });
  assert.deepEqual(row(grown, config.vocab_size), row(embed, yes!));
  assert.deepEqual(row(grown, config.vocab_size + 1), row(embed, no!));
  assert.deepEqual(rawToFloat32(tensors.get('model.norm.weight')!), norm);
  // the same tokenizer as one written with the tokens from the start
  const fresh = join(root, 'fresh');
  writeInitModel(fresh, { hidden: 8, layers: 1, heads: 2, intermediate: 16 });
  assert.equal(loadTokenizer(fresh).vocabSize, after.vocabSize);
  assert.deepEqual(loadTokenizer(fresh).encode(' 3 no. </think>', { addSpecialTokens: false }), after.encode(' 3 no. </think>', { addSpecialTokens: false }));

  assert.throws(() => extendWithStopInVerdict(to, join(root, 'twice')), /phase3-init\/tokenizer.json already has the stop-in-verdict tokens/);
});
