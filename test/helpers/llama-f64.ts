/**
 * An independent float64 Llama/Qwen2 forward pass in plain loops, for checking the engine's model:
 * embedding, per layer RMSNorm -> q/k/v (+bias) -> RoPE (rotate-half) -> causal GQA softmax
 * attention -> o_proj -> residual -> RMSNorm -> SwiGLU MLP -> residual, final RMSNorm, lm_head.
 */
import type { ModelConfig } from '../../src/models/config.js';

export type Weights = (name: string) => Float64Array | null;

function matvec(w: Float64Array, x: Float64Array, rows: number, cols: number, bias: Float64Array | null): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = bias ? bias[r]! : 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[c]!;
    out[r] = s;
  }
  return out;
}

function rmsnorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * w[i]!);
}

/** Logits [T, vocab] for one sequence of token ids at positions 0..T-1. */
export function llamaLogitsF64(c: ModelConfig, weights: Weights, ids: number[]): Float64Array[] {
  const get = (n: string): Float64Array => {
    const w = weights(n);
    if (!w) throw new Error(`missing ${n}`);
    return w;
  };
  const { hidden_size: h, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D, vocab_size: V, intermediate_size: I } = c;
  const T = ids.length;
  const emb = get('model.embed_tokens.weight');
  let xs = ids.map((id) => emb.slice(id * h, id * h + h));
  const half = D / 2;
  const invFreq = Array.from({ length: half }, (_, j) => 1 / c.rope_theta ** ((2 * j) / D));
  const rope = (v: Float64Array, heads: number, pos: number): Float64Array => {
    const out = new Float64Array(v.length);
    for (let hh = 0; hh < heads; hh++) {
      for (let j = 0; j < half; j++) {
        const a = pos * invFreq[j]!;
        const x1 = v[hh * D + j]!;
        const x2 = v[hh * D + j + half]!;
        out[hh * D + j] = x1 * Math.cos(a) - x2 * Math.sin(a);
        out[hh * D + j + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
      }
    }
    return out;
  };
  const qkvBias = c.model_type === 'qwen2' || c.attention_bias;
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const b = (n: string): Float64Array | null => (qkvBias ? weights(`${p}self_attn.${n}.bias`) : null);
    const normed = xs.map((x) => rmsnorm(x, get(`${p}input_layernorm.weight`), c.rms_norm_eps));
    const qs = normed.map((x, t) => rope(matvec(get(`${p}self_attn.q_proj.weight`), x, H * D, h, b('q_proj')), H, t));
    const ks = normed.map((x, t) => rope(matvec(get(`${p}self_attn.k_proj.weight`), x, Hkv * D, h, b('k_proj')), Hkv, t));
    const vs = normed.map((x) => matvec(get(`${p}self_attn.v_proj.weight`), x, Hkv * D, h, b('v_proj')));
    const attn = qs.map((q, t) => {
      const out = new Float64Array(H * D);
      for (let hh = 0; hh < H; hh++) {
        const kh = Math.floor(hh / (H / Hkv));
        const scores = Array.from({ length: t + 1 }, (_, j) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += q[hh * D + d]! * ks[j]![kh * D + d]!;
          return s / Math.sqrt(D);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, x) => a + x, 0);
        for (let j = 0; j <= t; j++) for (let d = 0; d < D; d++) out[hh * D + d]! += (e[j]! / z) * vs[j]![kh * D + d]!;
      }
      return out;
    });
    xs = xs.map((x, t) => {
      const o = matvec(get(`${p}self_attn.o_proj.weight`), attn[t]!, h, H * D, null);
      return x.map((v, i) => v + o[i]!);
    });
    xs = xs.map((x) => {
      const n = rmsnorm(x, get(`${p}post_attention_layernorm.weight`), c.rms_norm_eps);
      const g = matvec(get(`${p}mlp.gate_proj.weight`), n, I, h, null);
      const u = matvec(get(`${p}mlp.up_proj.weight`), n, I, h, null);
      const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
      const d = matvec(get(`${p}mlp.down_proj.weight`), a, h, I, null);
      return x.map((v, i) => v + d[i]!);
    });
  }
  const head = c.tie_word_embeddings ? emb : get('lm_head.weight');
  return xs.map((x) => matvec(head, rmsnorm(x, get('model.norm.weight'), c.rms_norm_eps), V, h, null));
}
