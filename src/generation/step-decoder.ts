/**
 * Continuous batching: a decoder whose batch changes between steps. Requests join (their prompts are
 * prefilled and their first token drawn) and leave (at eos, at their max_new_tokens, or when the
 * caller retires them) while the others keep decoding, so a request never waits for a whole
 * generation to end.
 *
 * Layout: one dense KV cache [slots, columns] whose column pointer (KVCache.length) is shared by all
 * rows, as a decode step writes one column for every row. Each row's cached tokens are the
 * contiguous columns just before the pointer; the columns before them are masked with the same
 * additive key bias `generate` uses for left padding, and positions count each row's own tokens, so
 * a row decodes what it would decode alone. A join rebuilds the cache ("relayout"): the live rows
 * and the joiners' prefilled caches are copied into a new cache, right-aligned at the longest row,
 * with columns for the longest remaining budget, so no column runs out before the next join. A row
 * that leaves becomes a dead slot (fed padding, masked); the cache is compacted when a quarter of
 * the slots are dead. A relayout copies each live row once (about one step's attention reads).
 *
 * Prefix cache (optional, prefix-cache.ts): a joiner whose prompt starts with a stored prompt's
 * tokens takes their keys and values from it and is prefilled from there on; the prefill computes
 * the positions the joiners need at most (at least the last, for the logits).
 *
 * Sampling: every row has its own PRNG stream, seeded with rowSeed(seed, row) (sampler.ts: the
 * request's seed for row 0), from which it draws one uniform per step while it runs (none when
 * greedy): the draws `generate(model, [prompt], {n, seed, rowStreams: true})` makes. A row therefore
 * samples the same tokens whatever else is in the batch (up to float32 rounding of the batched
 * kernels), its siblings included, so a row can leave as soon as it ends (retireRow) without
 * changing the others. Rows with different sampling settings share the forward pass; the backend's
 * sampler runs once per distinct setting.
 */
import { eosTokenIds } from '../models/config.js';
import { KVCache } from '../models/kv-cache.js';
import type { CausalLM } from '../models/llama.js';
import { Prng } from '../util/prng.js';
import { noGrad, reshape, sampleTokens, slice, tensor, tidyAsync, type Tensor } from '../tensor/index.js';
import { MASKED_KEY_BIAS } from './generate.js';
import { copyKvRegion } from './kv-copy.js';
import type { PrefixCache } from './prefix-cache.js';
import { rowSeed, validateSampling, type SamplingParams } from './sampler.js';

export interface DecodeRequest {
  promptIds: readonly number[];
  /** Rows (samples) of this prompt. */
  n: number;
  maxNewTokens: number;
  sampling: SamplingParams;
  /** Seed of the request's PRNG streams: row j draws from Prng(rowSeed(seed, j)). */
  seed: number;
  ignoreEos: boolean;
  /** Alternatives to report per position (0: none): the k most likely tokens with their log-probs. */
  topLogprobs: number;
}

export interface TopLogprob {
  id: number;
  logprob: number;
}

/** One token of one row. */
export interface RowToken {
  /** The handle from `admit`. */
  request: number;
  /** The row within its request (0 .. n-1). */
  row: number;
  token: number;
  /** log softmax(logits / temperature)[token] (temperature 1 when greedy), as `generate` reports. */
  logprob: number;
  /** The request's topLogprobs most likely tokens under the same distribution, most likely first; null when 0. */
  top: TopLogprob[] | null;
  /** The row ended: at eos (not with ignoreEos) or at maxNewTokens. */
  finished: boolean;
  endedAtEos: boolean;
}

export interface StepDecoderOptions {
  /** Stop tokens (default: the model config's eos ids). */
  eosTokenIds?: number[];
  /** Fed to dead slots and used for prompt padding (default: config pad id, else the first eos, else 0). */
  padTokenId?: number;
  /** Most slots x columns of cache, spare columns included (default 65536). */
  maxCacheTokens?: number;
  /**
   * Keys and values of earlier prompts of this model (kept by the caller across decoders): prompts
   * are prefilled from the end of their longest stored prefix, and stored after their prefill.
   */
  prefixCache?: PrefixCache;
}

interface Row {
  request: number;
  index: number;
  /** The row's stream (sampler.ts rowSeed). */
  rng: Prng;
  /** Tokens in the cache (prompt + generated - 1): the next position. */
  cached: number;
  /** The last drawn token: fed by the next step. */
  last: number;
  generated: number;
}

interface RequestState {
  spec: DecodeRequest;
  rows: Row[];
}

export class StepDecoder {
  readonly #model: CausalLM;
  readonly #eos: Set<number>;
  readonly #pad: number;
  readonly #maxCacheTokens: number;
  readonly #prefixCache: PrefixCache | null;
  readonly #requests = new Map<number, RequestState>();
  #nextRequest = 0;
  #cache: KVCache | null = null;
  /** slot -> row (null: dead). */
  #slots: (Row | null)[] = [];
  /** Host copy of the key bias [slots, columns]. */
  #bias = new Float32Array(0);
  #dead = 0;
  /** Forward passes run (prefills and steps), for statistics. */
  prefills = 0;
  steps = 0;
  /** Cache rebuilds (joins that did not fit the cache as it was, and compactions). */
  relayouts = 0;
  /** Prompt tokens of the rows admitted, and of those, the ones taken from the prefix cache. */
  promptTokens = 0;
  cachedPromptTokens = 0;

  constructor(model: CausalLM, options: StepDecoderOptions = {}) {
    this.#model = model;
    const config = model.config;
    this.#eos = new Set(options.eosTokenIds ?? eosTokenIds(config));
    this.#pad = options.padTokenId ?? config.pad_token_id ?? [...this.#eos][0] ?? 0;
    this.#maxCacheTokens = options.maxCacheTokens ?? 65536;
    this.#prefixCache = options.prefixCache ?? null;
  }

  /** Rows decoding now. */
  get activeRows(): number {
    return this.#slots.length - this.#dead;
  }

  get idle(): boolean {
    return this.#requests.size === 0;
  }

  /**
   * The cache [rows, columns] a join of `requests` would need at most: a caller bounds memory with
   * it before admitting them.
   */
  layoutWith(requests: readonly Pick<DecodeRequest, 'promptIds' | 'n' | 'maxNewTokens'>[]): { rows: number; columns: number } {
    let rows = 0;
    let span = 0;
    let remaining = 0;
    for (const r of this.#slots) {
      if (!r) continue;
      rows++;
      span = Math.max(span, r.cached);
      remaining = Math.max(remaining, this.#requests.get(r.request)!.spec.maxNewTokens - r.generated);
    }
    for (const q of requests) {
      rows += q.n;
      span = Math.max(span, q.promptIds.length);
      remaining = Math.max(remaining, q.maxNewTokens);
    }
    return { rows, columns: span + remaining };
  }

  /**
   * Prefills the requests, draws their first tokens and adds their unfinished rows to the batch.
   * Returns the handles (in order) and the first tokens.
   */
  async admit(requests: readonly DecodeRequest[]): Promise<{ handles: number[]; tokens: RowToken[] }> {
    if (requests.length === 0) return { handles: [], tokens: [] };
    const config = this.#model.config;
    const vocab = config.vocab_size;
    const positions = this.#model.model.rot.length;
    for (const [i, q] of requests.entries()) {
      validateSampling(q.sampling);
      if (!Number.isInteger(q.n) || q.n < 1) throw new Error(`StepDecoder: request ${i}: n must be a positive integer, got ${q.n}`);
      if (!Number.isInteger(q.maxNewTokens) || q.maxNewTokens < 1) throw new Error(`StepDecoder: request ${i}: max_new_tokens must be a positive integer, got ${q.maxNewTokens}`);
      if (!Number.isInteger(q.topLogprobs) || q.topLogprobs < 0) throw new Error(`StepDecoder: request ${i}: topLogprobs must be a non-negative integer, got ${q.topLogprobs}`);
      if (q.promptIds.length === 0) throw new Error(`StepDecoder: request ${i}: the prompt is empty`);
      for (const id of q.promptIds) if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`StepDecoder: request ${i}: token id ${id} outside [0, ${vocab})`);
      if (q.promptIds.length + q.maxNewTokens > positions) {
        throw new Error(`StepDecoder: request ${i}: prompt length ${q.promptIds.length} + max_new_tokens ${q.maxNewTokens} exceeds the model's ${positions} positions`);
      }
    }
    const handles = requests.map((spec) => {
      const handle = this.#nextRequest++;
      this.#requests.set(handle, { spec, rows: [] });
      return handle;
    });
    const joiners: Row[] = [];
    for (const h of handles) {
      const state = this.#requests.get(h)!;
      for (let j = 0; j < state.spec.n; j++) {
        const row: Row = { request: h, index: j, rng: new Prng(rowSeed(state.spec.seed, j)), cached: state.spec.promptIds.length, last: this.#pad, generated: 0 };
        state.rows.push(row);
        joiners.push(row);
      }
    }
    // Prefill as `generate` does (prompts left-padded to the longest, padded keys masked), from the
    // end of each prompt's longest stored prefix: the pass computes the T positions every row needs
    // at most, and a row whose prompt is longer takes the T positions before its end from the
    // prefix cache, so its tokens stay contiguous (T >= 1: the last position gives the logits).
    const prefix = this.#prefixCache;
    const hits = new Map(handles.map((h) => {
      const p = this.#requests.get(h)!.spec.promptIds;
      return [h, prefix?.lookup(p, p.length - 1) ?? null] as const;
    }));
    const J = joiners.length;
    const T = Math.max(...joiners.map((r) => r.cached - (hits.get(r.request)?.length ?? 0)));
    const reused = joiners.map((r) => Math.max(0, r.cached - T));
    const C = Math.max(...reused);
    const ids = new Int32Array(J * T).fill(this.#pad);
    const pos = new Int32Array(J * T);
    const bias = new Float32Array(J * (C + T)).fill(MASKED_KEY_BIAS);
    joiners.forEach((row, r) => {
      const p = this.#requests.get(row.request)!.spec.promptIds;
      const from = reused[r]!;
      const start = T - (p.length - from);
      bias.fill(0, r * (C + T) + C - from, r * (C + T) + C);
      for (let j = from; j < p.length; j++) {
        ids[r * T + start + j - from] = p[j]!;
        pos[r * T + start + j - from] = j;
        bias[r * (C + T) + C + start + j - from] = 0;
      }
    });
    this.promptTokens += joiners.reduce((s, r) => s + r.cached, 0);
    this.cachedPromptTokens += reused.reduce((s, n) => s + n, 0);
    const prefillCache = new KVCache(config.num_hidden_layers, J, C + T, config.num_key_value_heads, config.head_dim, this.#model.model.rot.cos.backend);
    let tokens: RowToken[];
    try {
      joiners.forEach((row, r) => {
        const hit = hits.get(row.request);
        if (hit && reused[r]! > 0) copyKvRegion(hit.cache, hit.row, hit.start, prefillCache, r, C - reused[r]!, reused[r]!);
      });
      prefillCache.length = C;
      tokens = await this.#forwardAndSample(joiners, ids, pos, bias, T, prefillCache);
      this.prefills++;
      prefix?.store(prefillCache, handles.map((h) => ({ tokens: this.#requests.get(h)!.spec.promptIds, row: joiners.findIndex((r) => r.request === h) })));
      if (!this.#joinInPlace(joiners, prefillCache, tokens)) this.#relayout(joiners, prefillCache, tokens);
    } catch (e) {
      for (const h of handles) this.#requests.delete(h);
      throw e;
    } finally {
      prefillCache.dispose();
    }
    this.#forgetFinished(tokens);
    return { handles, tokens };
  }

  /** One decoding step for every row in the batch; returns each row's new token. */
  async step(): Promise<RowToken[]> {
    const cache = this.#cache;
    if (!cache || this.activeRows === 0) return [];
    const B = this.#slots.length;
    const columns = cache.maxLen;
    const col = cache.length;
    const ids = new Int32Array(B).fill(this.#pad);
    const pos = new Int32Array(B);
    this.#slots.forEach((row, s) => {
      if (row) {
        ids[s] = row.last;
        pos[s] = row.cached;
      }
      this.#bias[s * columns + col] = row ? 0 : MASKED_KEY_BIAS;
    });
    const keyLen = col + 1;
    const stepBias = new Float32Array(B * keyLen);
    for (let s = 0; s < B; s++) stepBias.set(this.#bias.subarray(s * columns, s * columns + keyLen), s * keyLen);
    const tokens = await this.#forwardAndSample(this.#slots, ids, pos, stepBias, 1, cache);
    this.steps++;
    for (const row of this.#slots) if (row) row.cached++;
    for (const t of tokens) if (t.finished) this.#leave(t.request, t.row);
    this.#forgetFinished(tokens);
    this.#compactIfSparse();
    return tokens;
  }

  /** Removes a request's rows from the batch (a client gone, all its rows ended). */
  retire(handle: number): void {
    const state = this.#requests.get(handle);
    if (!state) return;
    for (const row of state.rows) this.#leave(handle, row.index);
    this.#requests.delete(handle);
    this.#compactIfSparse();
  }

  /** Removes one row of a request from the batch (it reached a stop string); the others go on as before. */
  retireRow(handle: number, index: number): void {
    if (!this.#requests.has(handle)) return;
    this.#leave(handle, index);
    if (!this.#slots.some((r) => r !== null && r.request === handle)) this.#requests.delete(handle);
    if (this.activeRows === 0) this.#forgetFinished([]);
    else this.#compactIfSparse();
  }

  /** Frees the cache; the decoder can be used again. */
  dispose(): void {
    this.#cache?.dispose();
    this.#cache = null;
    this.#slots = [];
    this.#bias = new Float32Array(0);
    this.#dead = 0;
    this.#requests.clear();
  }

  #leave(handle: number, index: number): void {
    const s = this.#slots.findIndex((r) => r !== null && r.request === handle && r.index === index);
    if (s < 0) return;
    this.#slots[s] = null;
    this.#dead++;
  }

  #forgetFinished(tokens: RowToken[]): void {
    const touched = new Set(tokens.map((t) => t.request));
    for (const h of touched) {
      const state = this.#requests.get(h);
      if (state && !this.#slots.some((r) => r !== null && r.request === h)) this.#requests.delete(h);
    }
    if (this.activeRows === 0) {
      this.#cache?.dispose();
      this.#cache = null;
      this.#slots = [];
      this.#dead = 0;
    }
  }

  #compactIfSparse(): void {
    if (this.#cache && this.#dead > 0 && this.#dead * 4 >= this.#slots.length && this.activeRows > 0) this.#relayout([], null, []);
  }

  /**
   * Rebuilds the cache for the live rows plus `joiners` (whose keys are in `joinCache`, right-aligned
   * at its end), each row's tokens right-aligned at the longest row.
   */
  #relayout(joiners: Row[], joinCache: KVCache | null, firstTokens: RowToken[]): void {
    const finished = new Set(firstTokens.filter((t) => t.finished).map((t) => `${t.request}/${t.row}`));
    const live = this.#slots.filter((r): r is Row => r !== null);
    const joining = joiners.filter((r) => !finished.has(`${r.request}/${r.index}`));
    const rows = [...live, ...joining];
    const old = this.#cache;
    if (rows.length === 0) {
      old?.dispose();
      this.#cache = null;
      this.#slots = [];
      this.#dead = 0;
      return;
    }
    this.relayouts++;
    const span = Math.max(...rows.map((r) => r.cached));
    const remaining = Math.max(...rows.map((r) => this.#requests.get(r.request)!.spec.maxNewTokens - r.generated));
    // Spare columns (twice those still needed, within the bound) let later requests join the slots
    // rows leave without a relayout (#joinInPlace); they cost memory only, as attention reads up to
    // the column pointer. No spare slots: every slot is decoded each step, live or not.
    const slots = rows.length;
    const columns = Math.max(span + remaining, Math.min(this.#model.model.rot.length, span + 2 * remaining, Math.floor(this.#maxCacheTokens / slots)));
    const config = this.#model.config;
    const cache = new KVCache(config.num_hidden_layers, slots, columns, config.num_key_value_heads, config.head_dim, this.#model.model.rot.cos.backend);
    const bias = new Float32Array(slots * columns).fill(MASKED_KEY_BIAS);
    try {
      const oldSlot = new Map(this.#slots.map((r, s) => [r, s] as const));
      const joinSlot = new Map(joiners.map((r, s) => [r, s] as const));
      // Rows that sit in consecutive slots of one source move in one copy per layer: the window of
      // their longest span (the extra columns of shorter rows are masked where they land).
      let s = 0;
      while (s < rows.length) {
        const first = rows[s]!;
        const fromLive = oldSlot.has(first);
        const src = fromLive ? old! : joinCache!;
        const slotIn = (r: Row): number | undefined => (fromLive ? oldSlot.get(r) : joinSlot.get(r));
        const srcSlot = slotIn(first)!;
        let end = s + 1;
        while (end < rows.length && slotIn(rows[end]!) === srcSlot + (end - s)) end++;
        const window = Math.max(...rows.slice(s, end).map((r) => r.cached));
        copyKvRegion(src, srcSlot, src.length - window, cache, s, span - window, window, end - s);
        for (let r = s; r < end; r++) bias.fill(0, r * columns + span - rows[r]!.cached, r * columns + span);
        s = end;
      }
    } catch (e) {
      cache.dispose();
      throw e;
    }
    cache.length = span;
    old?.dispose();
    this.#cache = cache;
    this.#slots = [...rows, ...Array.from({ length: slots - rows.length }, () => null)];
    this.#bias = bias;
    this.#dead = slots - rows.length;
  }

  /**
   * Puts the joiners into dead slots of the cache as it is, right-aligned at the column pointer,
   * when there are enough and every joiner's prompt and remaining budget fit the columns; false
   * (nothing changed) otherwise.
   */
  #joinInPlace(joiners: Row[], joinCache: KVCache, firstTokens: RowToken[]): boolean {
    const cache = this.#cache;
    if (!cache) return false;
    const finished = new Set(firstTokens.filter((t) => t.finished).map((t) => `${t.request}/${t.row}`));
    const joining = joiners.filter((r) => !finished.has(`${r.request}/${r.index}`));
    const free: number[] = [];
    this.#slots.forEach((r, s) => {
      if (r === null) free.push(s);
    });
    const fits = joining.length <= free.length && joining.every((r) =>
      r.cached <= cache.length && cache.length + this.#requests.get(r.request)!.spec.maxNewTokens - r.generated <= cache.maxLen);
    if (!fits) return false;
    const columns = cache.maxLen;
    joining.forEach((row, i) => {
      const s = free[i]!;
      const from = joiners.indexOf(row);
      copyKvRegion(joinCache, from, joinCache.length - row.cached, cache, s, cache.length - row.cached, row.cached);
      this.#bias.fill(MASKED_KEY_BIAS, s * columns, (s + 1) * columns);
      this.#bias.fill(0, s * columns + cache.length - row.cached, s * columns + cache.length);
      this.#slots[s] = row;
      this.#dead--;
    });
    return true;
  }

  /**
   * One forward pass over `rows` (null: a dead slot) ending at the last of `len` positions per row,
   * then a draw for every live row (a prefill, or a decoding step when len = 1 and `cache` is the batch's).
   */
  async #forwardAndSample(rows: readonly (Row | null)[], ids: Int32Array, pos: Int32Array, bias: Float32Array, len: number, cache: KVCache): Promise<RowToken[]> {
    const B = rows.length;
    const keyLen = cache.length + len;
    const config = this.#model.config;
    const vocab = config.vocab_size;
    // Uniforms: one per live row from its own stream, unless greedy.
    const bits = new Int32Array(B);
    const groups = new Map<string, { sampling: SamplingParams; slots: number[] }>();
    let wantTop = false;
    rows.forEach((row, s) => {
      if (!row) return;
      const { spec } = this.#requests.get(row.request)!;
      const greedy = spec.sampling.temperature === 0;
      if (!greedy) bits[s] = row.rng.nextUint32() | 0;
      const key = greedy ? 'greedy' : `${spec.sampling.temperature}/${spec.sampling.topK}/${spec.sampling.topP}`;
      const g = groups.get(key) ?? { sampling: greedy ? { temperature: 0, topK: -1, topP: 1 } : spec.sampling, slots: [] };
      g.slots.push(s);
      groups.set(key, g);
      if (spec.topLogprobs > 0) wantTop = true;
    });
    const { sampled, logits } = await tidyAsync(async () => {
      const last = noGrad((): Tensor => {
        const hidden = this.#model.model.forward(tensor(ids, [B, len]), {
          positions: tensor(pos, [B, len]),
          keyBias: tensor(bias, [B, keyLen]),
          cache,
        });
        return this.#model.logits(reshape(slice(hidden, 1, len - 1, len), [B, config.hidden_size]));
      });
      const bitsT = tensor(bits, [B]);
      const sampled = await Promise.all([...groups.values()].map(async (g) => {
        const s = sampleTokens(last, bitsT, g.sampling);
        const [t, l] = await Promise.all([s.tokens.data() as Promise<Int32Array>, s.logprobs.data() as Promise<Float32Array>]);
        return { slots: g.slots, tokens: t, logprobs: l };
      }));
      return { sampled, logits: wantTop ? await (last.data() as Promise<Float32Array>) : null };
    });
    const out: RowToken[] = [];
    for (const g of sampled) {
      for (const s of g.slots) {
        const row = rows[s]!;
        const { spec } = this.#requests.get(row.request)!;
        const token = g.tokens[s]!;
        row.last = token;
        row.generated++;
        const endedAtEos = !spec.ignoreEos && this.#eos.has(token);
        const top = spec.topLogprobs > 0 ? topLogprobs(logits!, s * vocab, vocab, spec.sampling.temperature, spec.topLogprobs) : null;
        out.push({ request: row.request, row: row.index, token, logprob: g.logprobs[s]!, top, finished: endedAtEos || row.generated >= spec.maxNewTokens, endedAtEos });
      }
    }
    // Requests in admission order, rows in order: callers see a stable order.
    out.sort((a, b) => a.request - b.request || a.row - b.row);
    return out;
  }
}

/**
 * The k most likely tokens of log softmax(z / T) (T = 1 when greedy) over logits[offset ..
 * offset + vocab), in float64, most likely first, ties by lower id.
 */
export function topLogprobs(logits: Float32Array, offset: number, vocab: number, temperature: number, k: number): TopLogprob[] {
  const t = temperature > 0 ? temperature : 1;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]! / t);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i]! / t - max);
  const lse = max + Math.log(sum);
  // A bounded insertion list: vocab x k, k <= 20.
  const best: TopLogprob[] = [];
  const kk = Math.min(k, vocab);
  for (let i = 0; i < vocab; i++) {
    const lp = logits[offset + i]! / t - lse;
    if (best.length === kk && lp <= best[kk - 1]!.logprob) continue;
    let at = best.length;
    while (at > 0 && best[at - 1]!.logprob < lp) at--;
    best.splice(at, 0, { id: i, logprob: lp });
    if (best.length > kk) best.pop();
  }
  return best;
}
