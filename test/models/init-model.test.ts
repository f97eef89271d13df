// `tinyzero init-model`: Qwen2.5's released configs, HF's initialisation, transformers' shard
// layout, and a folder that our loader (and HF's rules) accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countParameters, loadModelConfig, openWeights } from '../../src/models/index.js';
import { initPresets, pythonFloat, pythonJson, resolveInitConfig } from '../../src/models/init-config.js';
import { parameterPlan, planShards, writeRandomWeights } from '../../src/models/init-weights.js';
import { numel } from '../../src/models/safetensors-header.js';

const main = new URL('../../src/cli/main.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'tz-init-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** A Qwen2 config small enough to write in milliseconds; untied so lm_head is written too. */
const tinyConfig = {
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', vocab_size: 96, hidden_size: 32, intermediate_size: 48,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 10000.0,
  tie_word_embeddings: false, initializer_range: 0.05, bos_token_id: 1, eos_token_id: 2,
};

test("the presets carry Qwen2.5's released sizes and parameter counts", () => {
  const sizes = {
    'qwen2.5-0.5b': { hidden: 896, layers: 24, heads: 14, inter: 4864, params: 494_032_768 },
    'qwen2.5-1.5b': { hidden: 1536, layers: 28, heads: 12, inter: 8960, params: 1_543_714_304 },
    'qwen2.5-3b': { hidden: 2048, layers: 36, heads: 16, inter: 11008, params: 3_085_938_688 },
  };
  for (const [name, s] of Object.entries(sizes)) {
    const { config } = resolveInitConfig(name, 'bf16');
    assert.equal(config.hidden_size, s.hidden, name);
    assert.equal(config.num_hidden_layers, s.layers, name);
    assert.equal(config.num_attention_heads, s.heads, name);
    assert.equal(config.num_key_value_heads, 2, name);
    assert.equal(config.intermediate_size, s.inter, name);
    assert.equal(config.vocab_size, 151936, name);
    assert.equal(config.rope_theta, 1e6, name);
    assert.equal(config.rms_norm_eps, 1e-6, name);
    assert.equal(config.max_position_embeddings, 32768, name);
    assert.equal(config.tie_word_embeddings, true, name);
    assert.equal(config.bos_token_id, 151643, name);
    assert.equal(config.eos_token_id, 151643, name);
    assert.equal(countParameters(config, 'lm'), s.params, name);
    const planned = parameterPlan(config).reduce((n, p) => n + numel(p.shape), 0);
    assert.equal(planned, s.params, `${name}: the written tensors hold every parameter`);
  }
});

test('shards split as the hub has them: 0.5B and 1.5B one file, 3B two shards in BF16', () => {
  const shardsOf = (name: string, dtype: 'bf16' | 'f32') => {
    const { preset, config } = resolveInitConfig(name, dtype);
    return planShards(parameterPlan(config), dtype === 'bf16' ? 'BF16' : 'F32', preset.maxShardBytes);
  };
  assert.equal(shardsOf('qwen2.5-0.5b', 'bf16').length, 1);
  assert.equal(shardsOf('qwen2.5-1.5b', 'bf16').length, 1);
  const three = shardsOf('qwen2.5-3b', 'bf16');
  assert.equal(three.length, 2);
  assert.equal(three[0]![0]!.name, 'model.embed_tokens.weight');
  assert.equal(three[1]!.at(-1)!.name, 'model.norm.weight');
  assert.equal(shardsOf('qwen2.5-3b', 'f32').length, 4);
});

test('config.json is written as transformers writes it (sorted keys, Python floats)', () => {
  assert.equal(pythonFloat(1e-6), '1e-06');
  assert.equal(pythonFloat(1e6), '1000000.0');
  assert.equal(pythonFloat(0), '0.0');
  assert.equal(pythonFloat(0.02), '0.02');
  assert.equal(pythonFloat(1e-5), '1e-05');
  assert.equal(pythonFloat(1.5e16), '1.5e+16');
  const text = pythonJson(initPresets['qwen2.5-0.5b']!.config);
  assert.match(text, /^{\n  "architectures": \[\n    "Qwen2ForCausalLM"\n  \],\n  "attention_dropout": 0\.0,\n/);
  assert.match(text, /\n  "rms_norm_eps": 1e-06,\n  "rope_theta": 1000000\.0,\n/);
  assert.match(text, /\n  "vocab_size": 151936\n}\n$/);
});

test('weights: normal(0, initializer_range), zero biases, unit norms; per-tensor streams independent of sharding', () => {
  const file = join(root, 'tiny.json');
  writeFileSync(file, JSON.stringify(tinyConfig));
  const { config } = resolveInitConfig(file, 'f32');
  const one = join(root, 'one');
  const many = join(root, 'many');
  mkdirSync(one);
  mkdirSync(many);
  writeRandomWeights(one, config, { dtype: 'F32', seed: 5, maxShardBytes: 5e9 });
  const files = writeRandomWeights(many, config, { dtype: 'F32', seed: 5, maxShardBytes: 20_000 });
  assert.ok(files.length > 3, `${files.length} files`);
  assert.ok(existsSync(join(many, 'model.safetensors.index.json')));
  const a = openWeights(one);
  const b = openWeights(many);
  try {
    assert.deepEqual([...b.names].sort(), [...a.names].sort());
    assert.ok(a.has('lm_head.weight'), 'untied head written');
    for (const name of a.names) assert.deepEqual(b.readFloat32(name), a.readFloat32(name), name);
    const w = a.readFloat32('model.layers.1.mlp.down_proj.weight');
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
    assert.ok(Math.abs(mean) < 0.01 && Math.abs(std - 0.05) < 0.005, `mean ${mean}, std ${std}`);
    assert.ok(a.readFloat32('model.layers.0.self_attn.q_proj.bias').every((v) => v === 0));
    assert.ok(a.readFloat32('model.norm.weight').every((v) => v === 1));
    assert.notDeepEqual(a.readFloat32('model.layers.0.self_attn.q_proj.weight'), a.readFloat32('model.layers.1.self_attn.q_proj.weight'));
  } finally {
    a.close();
    b.close();
  }
});

test('tinyzero init-model writes a loadable folder; bf16 holds the f32 values rounded; it never writes into a used folder', () => {
  const file = join(root, 'tiny-cli.json');
  writeFileSync(file, JSON.stringify(tinyConfig));
  const f32Dir = join(root, 'cli-f32');
  const bf16Dir = join(root, 'cli-bf16');
  for (const [dir, dtype] of [[f32Dir, 'f32'], [bf16Dir, 'bf16']] as const) {
    const r = cli(['init-model', '--config', file, '--out', dir, '--dtype', dtype, '--seed', '3']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /no tokenizer written/);
  }
  const c = loadModelConfig(bf16Dir);
  assert.equal(c.torch_dtype, 'bfloat16');
  assert.equal(loadModelConfig(f32Dir).torch_dtype, 'float32');
  const gen = JSON.parse(readFileSync(join(bf16Dir, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual([gen.bos_token_id, gen.eos_token_id], [1, 2]);
  const a = openWeights(f32Dir);
  const b = openWeights(bf16Dir);
  try {
    const name = 'model.embed_tokens.weight';
    assert.equal(b.info(name).dtype, 'BF16');
    const x = a.readFloat32(name);
    const y = b.readFloat32(name);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i]! - y[i]!) <= Math.abs(x[i]!) * 2 ** -8, `${i}: ${x[i]} vs ${y[i]}`);
  } finally {
    a.close();
    b.close();
  }
  const before = readFileSync(join(bf16Dir, 'config.json'), 'utf8');
  const again = cli(['init-model', '--config', file, '--out', bf16Dir]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /exists and is not an empty folder/);
  assert.equal(readFileSync(join(bf16Dir, 'config.json'), 'utf8'), before);
});

test('init-model names bad options and configs', () => {
  const out = join(root, 'never');
  assert.match(cli(['init-model', '--config', 'qwen2.5-7b', '--out', out]).stderr, /'qwen2\.5-7b' is neither a preset \(qwen2\.5-0\.5b, qwen2\.5-1\.5b, qwen2\.5-3b\) nor a \.json file/);
  assert.match(cli(['init-model', '--config', 'qwen2.5-0.5b', '--out', out, '--dtype', 'fp8']).stderr, /--dtype must be bf16 or f32, got 'fp8'/);
  assert.match(cli(['init-model', '--config', 'qwen2.5-0.5b']).stderr, /--out DIR is required/);
  const bad = join(root, 'bad.json');
  writeFileSync(bad, JSON.stringify({ ...tinyConfig, num_attention_heads: 5 }));
  assert.match(cli(['init-model', '--config', bad, '--out', out]).stderr, /bad\.json: num_attention_heads 5 is not a multiple of num_key_value_heads 2/);
  assert.equal(existsSync(out), false, 'nothing written on bad input');
});

test('draw workers write the bytes the single thread writes: tensors split into parts, shards, BF16 and F32', () => {
  // An untied 4,608 x 1,024 vocabulary: each table is 4.7M values, more than one worker part (4M).
  const file = join(root, 'parts-config.json');
  writeFileSync(file, JSON.stringify({ ...tinyConfig, vocab_size: 4608, hidden_size: 1024, intermediate_size: 64, num_attention_heads: 8 }));
  for (const dtype of ['bf16', 'f32'] as const) {
    const { config } = resolveInitConfig(file, dtype);
    const written = [1, 3].map((threads) => {
      const dir = join(root, `parts-${dtype}-${threads}`);
      mkdirSync(dir);
      const files = writeRandomWeights(dir, config, { dtype: dtype === 'bf16' ? 'BF16' : 'F32', seed: 9, maxShardBytes: 12e6, threads });
      return files.map((f) => readFileSync(f));
    });
    assert.ok(written[0]!.length > 2, `${dtype}: sharded (${written[0]!.length} files)`);
    assert.equal(written[1]!.length, written[0]!.length);
    written[0]!.forEach((bytes, i) => assert.ok(bytes.equals(written[1]![i]!), `${dtype}: file ${i} differs between 1 and 3 threads`));
  }
  assert.throws(() => writeRandomWeights(join(root, 'parts-bad'), resolveInitConfig(file, 'f32').config, { dtype: 'F32', seed: 0, maxShardBytes: 5e9, threads: 0 }),
    /threads must be a positive integer, got 0/);
});
