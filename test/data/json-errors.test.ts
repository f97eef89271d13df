// Every JSON file a user hands over is named in the error when it does not parse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDataRows } from '../../src/data/index.js';
import { loadModelConfig } from '../../src/models/config.js';
import { readSafetensors } from '../../src/models/safetensors.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';

const root = new URL('../../../', import.meta.url).pathname;

test('config.json, tokenizer.json, tokenizer_config.json, a safetensors header and JSONL lines name their file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-json-'));
  try {
    const model = join(root, 'assets/models/countdown-base');
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(model, f), join(dir, f));
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {"type": "BPE",');
    assert.throws(() => loadTokenizer(dir), (e: Error) => e.message.startsWith(`${join(dir, 'tokenizer.json')}: not valid JSON`));
    copyFileSync(join(model, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer_config.json'), '[1, 2');
    assert.throws(() => loadTokenizer(dir), (e: Error) => e.message.startsWith(`${join(dir, 'tokenizer_config.json')}: not valid JSON`));
    writeFileSync(join(dir, 'config.json'), '{"model_type": "llama" "vocab_size": 3}');
    assert.throws(() => loadModelConfig(dir), (e: Error) => e.message.startsWith(`${join(dir, 'config.json')}: not valid JSON`));

    const header = Buffer.from('{"w": {"dtype": "F32", "shape": [1]');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([prefix, header, Buffer.alloc(4)]));
    assert.throws(() => readSafetensors(join(dir, 'model.safetensors')), (e: Error) => e.message.startsWith(`${join(dir, 'model.safetensors')}: header is not valid UTF-8 JSON`));

    const jsonl = join(dir, 'rows.jsonl');
    writeFileSync(jsonl, '{"prompt": "a"}\n{"prompt": "b",\n');
    await assert.rejects(readDataRows(jsonl), (e: Error) => e.message.startsWith(`${jsonl}: line 2: invalid JSON`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
