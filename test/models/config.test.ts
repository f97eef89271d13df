import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { attentionBiases, eosTokenIds, loadModelConfig, parseModelConfig, saveModelConfig, toHfConfigJson } from '../../src/models/index.js';
import { tinyLlamaDir } from '../helpers/assets.js';

const tinyLlama = tinyLlamaDir;

/** Shaped like Qwen2.5-0.5B's config.json. */
const qwen25Like = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

test('tiny-llama config.json parses with veRL\'s values', () => {
  const c = loadModelConfig(tinyLlama);
  assert.equal(c.model_type, 'llama');
  assert.deepEqual(c.architectures, ['LlamaForCausalLM']);
  assert.equal(c.vocab_size, 16);
  assert.equal(c.hidden_size, 128);
  assert.equal(c.intermediate_size, 344);
  assert.equal(c.num_hidden_layers, 4);
  assert.equal(c.num_attention_heads, 4);
  assert.equal(c.num_key_value_heads, 4);
  assert.equal(c.head_dim, 32);
  assert.equal(c.rms_norm_eps, 1e-6);
  assert.equal(c.rope_theta, 10000);
  assert.equal(c.max_position_embeddings, 2048);
  assert.equal(c.tie_word_embeddings, false);
  assert.deepEqual(attentionBiases(c), { qkv: false, o: false });
  assert.equal(c.mlp_bias, false);
  assert.equal(c.bos_token_id, null);
  assert.equal(c.eos_token_id, 1);
  assert.deepEqual(eosTokenIds(c), [1]);
  assert.equal(c.pad_token_id, 2);
  assert.equal(c.torch_dtype, 'bfloat16');
  assert.equal(c.rope_scaling, null);
  assert.equal(c.extra.transformers_version, '4.43.3');
  assert.equal(c.extra.pretraining_tp, 1);
});

test('Qwen2.5-0.5B-like config: grouped KV heads, q/k/v bias without attention_bias, tied embeddings', () => {
  const c = parseModelConfig(qwen25Like, 'qwen/config.json');
  assert.equal(c.model_type, 'qwen2');
  assert.equal(c.num_attention_heads, 14);
  assert.equal(c.num_key_value_heads, 2);
  assert.equal(c.head_dim, 64); // 896 / 14
  assert.equal(c.intermediate_size, 4864);
  assert.equal(c.num_hidden_layers, 24);
  assert.equal(c.vocab_size, 151936);
  assert.equal(c.tie_word_embeddings, true);
  assert.equal(c.rope_theta, 1e6);
  assert.equal(c.rms_norm_eps, 1e-6);
  assert.equal(c.bos_token_id, 151643);
  assert.deepEqual(attentionBiases(c), { qkv: true, o: false });
  assert.deepEqual(attentionBiases({ ...c, attention_bias: false }), { qkv: true, o: false }); // ignored for Qwen2
  assert.equal(c.mlp_bias, false);
});

test('defaults: kv heads = heads, head_dim = hidden/heads, Llama eps/theta, explicit head_dim wins', () => {
  const minimal = { model_type: 'llama', vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 8 };
  const c = parseModelConfig(minimal);
  assert.equal(c.num_key_value_heads, 8);
  assert.equal(c.head_dim, 8);
  assert.equal(c.rope_theta, 10000);
  assert.equal(c.rms_norm_eps, 1e-6);
  assert.equal(c.bos_token_id, 1); // LlamaConfig's defaults
  assert.equal(c.eos_token_id, 2);
  assert.equal(c.pad_token_id, null);
  assert.equal(parseModelConfig({ ...minimal, head_dim: 16 }).head_dim, 16);
  assert.deepEqual(eosTokenIds(parseModelConfig({ ...minimal, eos_token_id: [2, 7] })), [2, 7]);
  assert.equal(parseModelConfig({ ...minimal, dtype: 'float16' }).torch_dtype, 'float16'); // newer transformers key
});

test('invalid configs fail with errors naming the file, the key and the value', () => {
  const base = { ...qwen25Like };
  const bad = (patch: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => parseModelConfig({ ...base, ...patch }, 'm/config.json'), (e: Error) => e.message.startsWith('m/config.json: ') && pattern.test(e.message));
  bad({ hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/);
  bad({ rope_scaling: { type: 'linear', factor: 2 } }, /rope_scaling .*"linear".* not supported/);
  bad({ num_key_value_heads: 3 }, /num_attention_heads 14 is not a multiple of num_key_value_heads 3/);
  bad({ num_attention_heads: 5, num_key_value_heads: 5 }, /hidden_size 896 is not divisible by num_attention_heads 5/);
  bad({ hidden_size: undefined }, /missing required key hidden_size/);
  bad({ vocab_size: '151936' }, /vocab_size must be a positive integer, got "151936"/);
  bad({ num_hidden_layers: 0 }, /num_hidden_layers must be a positive integer, got 0/);
  bad({ rms_norm_eps: -1 }, /rms_norm_eps must be a positive number, got -1/);
  bad({ model_type: 'gpt2' }, /model_type "gpt2" is not supported/);
  bad({ architectures: ['LlamaForCausalLM'] }, /expected \["Qwen2ForCausalLM"\]/);
  bad({ eos_token_id: 151936 }, /eos_token_id must be a token id or list of ids in \[0, 151936\)/);
  bad({ tie_word_embeddings: 'yes' }, /tie_word_embeddings must be true or false/);
  bad({ torch_dtype: 'int8' }, /torch_dtype "int8" is not supported/);
  bad({ use_sliding_window: true }, /use_sliding_window/);
  bad({ num_attention_heads: 128 }, /head_dim 7 \(hidden_size 896 \/ num_attention_heads 128\) must be even for rotary embeddings/);
  bad({ head_dim: 63 }, /head_dim 63 must be even/);
  bad({ head_dim: 3.5 }, /head_dim must be a positive integer, got 3.5/);
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-cfg-'));
  writeFileSync(join(dir, 'config.json'), '{"model_type": ');
  assert.throws(() => loadModelConfig(dir), new RegExp(`${join(dir, 'config.json')}: not valid JSON`));
});

test('toHfConfigJson writes sorted keys, keeps unmodelled keys, and parses back to the same config', () => {
  for (const source of [qwen25Like, JSON.parse(readFileSync(join(tinyLlama, 'config.json'), 'utf8'))]) {
    const c = parseModelConfig(source);
    const text = toHfConfigJson(c);
    assert.ok(text.endsWith('}\n'));
    const json = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), Object.keys(json).sort());
    assert.equal(json.extra, undefined);
    assert.equal(json.transformers_version, source.transformers_version);
    assert.deepEqual(parseModelConfig(json), c);
    // Every key of the original comes back with its value (numbers compare equal: 1000000.0 == 1e6).
    for (const [k, v] of Object.entries(source)) assert.deepEqual(json[k], v, k);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-cfg-'));
  const c = parseModelConfig(qwen25Like);
  saveModelConfig(dir, c);
  assert.deepEqual(loadModelConfig(dir), c);
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).attention_bias, undefined); // not a Qwen2 key
});
