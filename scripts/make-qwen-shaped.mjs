// Writes a model folder with Qwen2.5-0.5B's shapes (hidden 896, 24 layers, 14 heads, 2 KV heads,
// intermediate 4864, vocab 151936, tied embeddings, rope_theta 1e6) and random BF16 weights, with
// the Countdown demo's tokenizer extended to the whole vocabulary (ids past its 180 decode as
// `<tok_ID>` and never come out of encoding, so the prompts are the demo's): a stand-in for memory
// and speed measurements of LoRA runs at the size users start from. Needs `npm run build`.
//   node scripts/make-qwen-shaped.mjs OUT_DIR [seed]
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../dist/src/models/safetensors-write.js';

const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/make-qwen-shaped.mjs OUT_DIR [seed]');
  process.exit(1);
}
let state = Number(process.argv[3] ?? 1) >>> 0 || 1;
const h = 896, layers = 24, heads = 14, kvHeads = 2, inter = 4864, vocab = 151936, D = h / heads;
const base = new URL('../assets/models/countdown-base/', import.meta.url).pathname;

/** BF16 bits of uniform values with standard deviation `std` (xorshift32; the values only need a sensible scale). */
function randomBf16(n, std) {
  const a = std * Math.sqrt(3);
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const bits = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
    f[0] = (state / 4294967296 * 2 - 1) * a;
    bits[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
  }
  return bits;
}
const constBf16 = (n, v) => new Uint16Array(n).fill(v === 1 ? 0x3f80 : 0);
const raw = (shape, bits) => ({ dtype: 'BF16', shape, data: new Uint8Array(bits.buffer) });

const tensors = new Map();
tensors.set('model.embed_tokens.weight', raw([vocab, h], randomBf16(vocab * h, 0.02)));
for (let l = 0; l < layers; l++) {
  const p = `model.layers.${l}.`;
  tensors.set(`${p}input_layernorm.weight`, raw([h], constBf16(h, 1)));
  tensors.set(`${p}post_attention_layernorm.weight`, raw([h], constBf16(h, 1)));
  for (const [name, rows] of [['q_proj', heads * D], ['k_proj', kvHeads * D], ['v_proj', kvHeads * D]]) {
    tensors.set(`${p}self_attn.${name}.weight`, raw([rows, h], randomBf16(rows * h, 0.02)));
    tensors.set(`${p}self_attn.${name}.bias`, raw([rows], constBf16(rows, 0)));
  }
  tensors.set(`${p}self_attn.o_proj.weight`, raw([h, heads * D], randomBf16(h * heads * D, 0.02)));
  tensors.set(`${p}mlp.gate_proj.weight`, raw([inter, h], randomBf16(inter * h, 0.02)));
  tensors.set(`${p}mlp.up_proj.weight`, raw([inter, h], randomBf16(inter * h, 0.02)));
  tensors.set(`${p}mlp.down_proj.weight`, raw([h, inter], randomBf16(h * inter, 0.02)));
}
tensors.set('model.norm.weight', raw([h], constBf16(h, 1)));

mkdirSync(out, { recursive: true });
writeSafetensors(join(out, 'model.safetensors'), tensors);
const config = {
  architectures: ['Qwen2ForCausalLM'], bos_token_id: null, eos_token_id: 0, pad_token_id: 0, hidden_act: 'silu',
  hidden_size: h, initializer_range: 0.02, intermediate_size: inter, max_position_embeddings: 32768, max_window_layers: 21,
  model_type: 'qwen2', num_attention_heads: heads, num_hidden_layers: layers, num_key_value_heads: kvHeads,
  rms_norm_eps: 1e-6, rope_scaling: null, rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true,
  torch_dtype: 'bfloat16', use_cache: true, use_sliding_window: false, vocab_size: vocab,
};
writeFileSync(join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
copyFileSync(join(base, 'tokenizer_config.json'), join(out, 'tokenizer_config.json'));
const tokenizer = JSON.parse(readFileSync(join(base, 'tokenizer.json'), 'utf8'));
const known = new Set([...Object.values(tokenizer.model.vocab), ...tokenizer.added_tokens.map((t) => t.id)]);
for (let id = 0; id < vocab; id++) if (!known.has(id)) tokenizer.model.vocab[`<tok_${id}>`] = id;
writeFileSync(join(out, 'tokenizer.json'), JSON.stringify(tokenizer));
const params = [...tensors.values()].reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
console.log(`wrote ${out}: ${params.toLocaleString()} parameters (BF16)`);
