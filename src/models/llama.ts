/**
 * Llama / Qwen2 decoder-only transformers (HF LlamaForCausalLM, Qwen2ForCausalLM) and the critic
 * (the same backbone with a one-output `score` head, like LlamaForTokenClassification).
 *
 * Architecture: token embedding; per layer, pre-RMSNorm grouped-query attention with rotary
 * embedding (rotate-half) and a residual, then pre-RMSNorm SwiGLU MLP with a residual; final RMSNorm.
 * Qwen2 differs only by q/k/v biases. Parameter paths equal the safetensors names.
 */
import type { Backend } from '../backend/backend.js';
import { Embedding, Linear, Module, ModuleList, normalInit, RMSNorm, uninitialized, type Init } from '../nn/index.js';
import { Prng } from '../util/prng.js';
import {
  add, attention, checkpoint, getBackend, isGradEnabled, linear, linearGroup, linearLogprobEntropy, logprobEntropy, recordsGrad, reshape, rope, swiglu,
  tidy, type LogprobEntropy, type Tensor,
} from '../tensor/index.js';
import { attentionBiases, type ModelConfig } from './config.js';
import type { KVCache } from './kv-cache.js';
import { makeRopeTables, type RopeTables } from './rope-tables.js';

export interface ForwardOptions {
  /** Position of each token [B, T] (i32); left padding makes these differ per row. */
  positions: Tensor;
  /** Additive bias per key [B, pastLen + T]: 0 for real tokens, a large negative value for padding. */
  keyBias?: Tensor | null;
  /** Decoding cache: keys/values of earlier positions are read from it and new ones appended. */
  cache?: KVCache | null;
  /**
   * First key of each query [B, T] (i32, see `attention`): sequences packed into one row attend only
   * within themselves (`keyStart` = where each token's sequence begins). Not with a cache.
   */
  keyStart?: Tensor | null;
}

export interface BuildOptions {
  /** Seed for random initialisation (HF: normal(0, initializer_range)). Ignored with `uninitialized`. */
  seed?: number;
  /** Skip initialisation because weights are loaded right after. */
  uninitialized?: boolean;
  backend?: Backend;
  /** Length of the RoPE tables (default min(max_position_embeddings, 8192)). */
  maxPositions?: number;
  /**
   * 'f16': the matmul weights and the embedding table are frozen f16 tensors (a reference policy
   * or an inference model on a backend with halfStorage); norms and biases stay f32. Default f32.
   */
  weightDtype?: 'f32' | 'f16';
}

function initFor(config: ModelConfig, options: BuildOptions): Init {
  if (options.uninitialized) return uninitialized();
  const std = typeof config.extra.initializer_range === 'number' ? config.extra.initializer_range : 0.02;
  return normalInit(new Prng(options.seed ?? 0), std);
}

/**
 * Whether `linears` can run on x as one fused backend call (Backend.linearGroup): nothing records a
 * gradient (decoding, prefill and log-probs under noGrad) and no LoRA adapter is on. The fused
 * call gives the same numbers; it only saves backend calls.
 */
function fusable(x: Tensor, linears: readonly Linear[]): boolean {
  for (const l of linears) if (l.adapter?.switch_.enabled) return false;
  return !isGradEnabled() || !recordsGrad([x, ...linears.flatMap((l) => [l.weight, l.bias])]);
}

class Attention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;

  constructor(readonly config: ModelConfig, init: Init, weightDtype: 'f32' | 'f16') {
    super();
    const { hidden_size: hidden, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D } = config;
    const bias = attentionBiases(config);
    this.q_proj = this.addModule('q_proj', new Linear(hidden, H * D, { init, bias: bias.qkv, weightDtype }));
    this.k_proj = this.addModule('k_proj', new Linear(hidden, Hkv * D, { init, bias: bias.qkv, weightDtype }));
    this.v_proj = this.addModule('v_proj', new Linear(hidden, Hkv * D, { init, bias: bias.qkv, weightDtype }));
    this.o_proj = this.addModule('o_proj', new Linear(H * D, hidden, { init, bias: bias.o, weightDtype }));
  }

  /** x [B, T, hidden] -> residual + attention(x), [B, T, hidden] */
  forward(x: Tensor, layer: number, rot: RopeTables, options: ForwardOptions, residual: Tensor): Tensor {
    const [B, T] = x.shape as [number, number];
    const { num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D } = this.config;
    const qkv = [this.q_proj, this.k_proj, this.v_proj];
    // Without gradients: q/k/v in one call, and with a cache the rotation and cache write in one more.
    const fused = fusable(x, qkv);
    const [qx, kx, v] = (fused ? linearGroup(x, qkv) : qkv.map((l) => l.forward(x)))
      .map((t, i) => reshape(t, [B, T, i === 0 ? H : Hkv, D])) as [Tensor, Tensor, Tensor];
    const cache = options.cache;
    let out: Tensor;
    if (cache) {
      const pastLen = cache.length;
      let q: Tensor;
      if (fused) {
        q = cache.writeRotated(layer, qx, kx, v, options.positions, rot.cos, rot.sin);
      } else {
        q = rope(qx, options.positions, rot.cos, rot.sin);
        cache.write(layer, rope(kx, options.positions, rot.cos, rot.sin), v);
      }
      out = attention(q, cache.keys[layer]!, cache.values[layer]!, { pastLen, keyBias: options.keyBias ?? null });
    } else {
      const q = rope(qx, options.positions, rot.cos, rot.sin);
      const k = rope(kx, options.positions, rot.cos, rot.sin);
      out = attention(q, k, v, { keyBias: options.keyBias ?? null, keyStart: options.keyStart ?? null });
    }
    const flat = reshape(out, [B, T, H * D]);
    if (fusable(flat, [this.o_proj])) return linearGroup(flat, [this.o_proj], { residual })[0]!;
    return add(residual, this.o_proj.forward(flat));
  }
}

class Mlp extends Module {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;

  constructor(config: ModelConfig, init: Init, weightDtype: 'f32' | 'f16') {
    super();
    const bias = config.mlp_bias;
    this.gate_proj = this.addModule('gate_proj', new Linear(config.hidden_size, config.intermediate_size, { init, bias, weightDtype }));
    this.up_proj = this.addModule('up_proj', new Linear(config.hidden_size, config.intermediate_size, { init, bias, weightDtype }));
    this.down_proj = this.addModule('down_proj', new Linear(config.intermediate_size, config.hidden_size, { init, bias, weightDtype }));
  }

  /** SwiGLU: down(silu(gate(x)) * up(x)), plus `residual` when given. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    const gateUp = [this.gate_proj, this.up_proj];
    const act = fusable(x, gateUp)
      ? linearGroup(x, gateUp, { epilogue: 'swiglu' })[0]!
      : swiglu(this.gate_proj.forward(x), this.up_proj.forward(x));
    if (!residual) return this.down_proj.forward(act);
    if (fusable(act, [this.down_proj])) return linearGroup(act, [this.down_proj], { residual })[0]!;
    return add(residual, this.down_proj.forward(act));
  }
}

class DecoderLayer extends Module {
  readonly input_layernorm: RMSNorm;
  readonly self_attn: Attention;
  readonly post_attention_layernorm: RMSNorm;
  readonly mlp: Mlp;

  constructor(config: ModelConfig, init: Init, weightDtype: 'f32' | 'f16') {
    super();
    this.input_layernorm = this.addModule('input_layernorm', new RMSNorm(config.hidden_size, config.rms_norm_eps));
    this.self_attn = this.addModule('self_attn', new Attention(config, init, weightDtype));
    this.post_attention_layernorm = this.addModule('post_attention_layernorm', new RMSNorm(config.hidden_size, config.rms_norm_eps));
    this.mlp = this.addModule('mlp', new Mlp(config, init, weightDtype));
  }

  forward(x: Tensor, layer: number, rot: RopeTables, options: ForwardOptions): Tensor {
    const h = this.self_attn.forward(this.input_layernorm.forward(x), layer, rot, options, x);
    return this.mlp.forward(this.post_attention_layernorm.forward(h), h);
  }
}

/** The backbone (`model.*` in HF checkpoints): embeddings, layers, final norm. */
export class DecoderModel extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: ModuleList<DecoderLayer>;
  readonly norm: RMSNorm;
  readonly rot: RopeTables;
  /**
   * `enable_gradient_checkpointing`: while gradients are recorded each layer keeps its output only
   * and runs its forward again in the backward (tensor/checkpoint.ts).
   */
  gradientCheckpointing = false;

  constructor(readonly config: ModelConfig, options: BuildOptions = {}) {
    super();
    const init = initFor(config, options);
    const backend = options.backend ?? getBackend();
    const dtype = options.weightDtype ?? 'f32';
    this.embed_tokens = this.addModule('embed_tokens', new Embedding(config.vocab_size, config.hidden_size, init, dtype));
    this.layers = this.addModule('layers', new ModuleList(Array.from({ length: config.num_hidden_layers }, () => new DecoderLayer(config, init, dtype))));
    this.norm = this.addModule('norm', new RMSNorm(config.hidden_size, config.rms_norm_eps));
    const length = options.maxPositions ?? Math.min(config.max_position_embeddings, 8192);
    this.rot = makeRopeTables(config.head_dim, config.rope_theta, length, backend);
  }

  /** ids [B, T] (i32) -> final hidden states [B, T, hidden] */
  forward(ids: Tensor, options: ForwardOptions): Tensor {
    let h = this.embed_tokens.forward(ids);
    this.layers.items.forEach((layer, i) => {
      // Without gradients nothing reads a layer's intermediates after it: free them layer by layer
      // (otherwise a forward holds every layer's until its caller's scope ends: 1.3 GiB for a
      // 256-token prefill of Qwen2.5-0.5B). Same ops, same results.
      if (!isGradEnabled()) h = tidy(() => layer.forward(h, i, this.rot, options));
      // A forward that writes a KV cache is never rerun (the second run would append again).
      else if (this.gradientCheckpointing && !options.cache) h = checkpoint(([x]) => layer.forward(x!, i, this.rot, options), [h]);
      else h = layer.forward(h, i, this.rot, options);
    });
    if (options.cache) options.cache.length += ids.shape[1]!;
    return this.norm.forward(h);
  }

  override dispose(): void {
    super.dispose();
    this.rot.cos.dispose();
    this.rot.sin.dispose();
  }
}

/** LlamaForCausalLM / Qwen2ForCausalLM. */
export class CausalLM extends Module {
  readonly model: DecoderModel;
  /** Null when the output projection is tied to the input embedding. */
  readonly lm_head: Linear | null;

  constructor(readonly config: ModelConfig, options: BuildOptions = {}) {
    super();
    this.model = this.addModule('model', new DecoderModel(config, options));
    this.lm_head = config.tie_word_embeddings
      ? null
      : this.addModule('lm_head', new Linear(config.hidden_size, config.vocab_size,
        { init: initFor(config, { ...options, seed: (options.seed ?? 0) + 1 }), bias: false, weightDtype: options.weightDtype }));
  }

  /** hidden [..., hidden] -> logits [..., vocab] */
  logits(hidden: Tensor): Tensor {
    return this.lm_head ? this.lm_head.forward(hidden) : linear(hidden, this.model.embed_tokens.weight);
  }

  /** ids [B, T] -> logits [B, T, vocab] */
  forward(ids: Tensor, options: ForwardOptions): Tensor {
    return this.logits(this.model.forward(ids, options));
  }

  /**
   * log p(ids) and entropy at `temperature` from hidden [..., hidden]. With chunkRows > 0
   * (`use_fused_kernels`) and more rows than that, the output layer runs at most chunkRows rows at a
   * time and the whole logits never exist (linearLogprobEntropy). Otherwise the logits are formed
   * whole: with rows in one chunk the bytes are the same and the backward need not recompute them
   * (at 256 tokens of Qwen2.5-0.5B the chunked path took 1.29x as long, docs/lora.md); and an output
   * layer carrying a LoRA adapter, which the chunks do not apply, always runs whole.
   */
  logprobEntropy(hidden: Tensor, ids: Tensor, temperature: number, chunkRows = 0): LogprobEntropy {
    const head = this.lm_head;
    if (chunkRows > 0 && ids.size > chunkRows && (!head || (!head.adapter && !head.bias))) {
      return linearLogprobEntropy(hidden, head ? head.weight : this.model.embed_tokens.weight, ids, temperature, chunkRows);
    }
    return logprobEntropy(this.logits(hidden), ids, temperature);
  }
}

/** The critic: backbone + `score` Linear(hidden, 1) (HF LlamaForTokenClassification with num_labels = 1). */
export class ValueModel extends Module {
  readonly model: DecoderModel;
  readonly score: Linear;

  constructor(readonly config: ModelConfig, options: BuildOptions = {}) {
    super();
    this.model = this.addModule('model', new DecoderModel(config, options));
    // A fresh head, as veRL builds the critic from a causal-LM folder: small normal weights, zero bias.
    const headInit = normalInit(new Prng((options.seed ?? 0) + 2), typeof config.extra.initializer_range === 'number' ? config.extra.initializer_range : 0.02);
    this.score = this.addModule('score', new Linear(config.hidden_size, 1, { init: headInit, bias: true }));
  }

  /** ids [B, T] -> values [B, T] */
  forward(ids: Tensor, options: ForwardOptions): Tensor {
    const v = this.score.forward(this.model.forward(ids, options));
    return reshape(v, v.shape.slice(0, -1));
  }
}
