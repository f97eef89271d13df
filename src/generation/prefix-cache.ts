/**
 * Prompt prefix caching (as vLLM's and SGLang's): the keys and values of prompts already prefilled,
 * kept across batches, so that a prompt sharing a prefix with an earlier one is prefilled from the
 * end of that prefix only. A token's key and value depend only on the tokens up to it, so the
 * stored columns of any stored prompt serve every prompt that starts with the same tokens.
 *
 * Storage: prompts stored together share one arena, a KV cache [prompts, longest] with each prompt
 * right-aligned at its end (copied out of the prefill's cache, one copy per layer for each run of
 * consecutive rows). A trie over token ids finds the longest stored prefix of a prompt. Entries are
 * evicted least recently used first while the arenas hold more than `maxBytes`; an arena is freed
 * with its last entry.
 *
 * The cache holds one model's keys (one set of weights, one adapter): whoever changes the weights
 * drops it (StepDecoder takes it as an option; the server keeps one per weight version and adapter).
 */
import { KVCache } from '../models/kv-cache.js';
import { copyKvRegion } from './kv-copy.js';

interface Arena {
  readonly cache: KVCache;
  readonly bytes: number;
  users: number;
}

interface Entry {
  readonly tokens: readonly number[];
  readonly arena: Arena;
  readonly row: number;
}

interface TrieNode {
  readonly children: Map<number, TrieNode>;
  /** Entries whose prompt starts with the tokens on the path to this node. */
  readonly entries: Set<Entry>;
}

/** A stored prefix: `length` tokens at row `row` of `cache`, columns [start, start + length). */
export interface PrefixHit {
  readonly length: number;
  readonly cache: KVCache;
  readonly row: number;
  readonly start: number;
}

const newNode = (): TrieNode => ({ children: new Map(), entries: new Set() });

export class PrefixCache {
  readonly maxBytes: number;
  readonly #root = newNode();
  /** Entries, least recently used first. */
  readonly #lru = new Set<Entry>();
  #bytes = 0;
  /** Prompt tokens looked up, and of those, found stored (for statistics). */
  lookedUpTokens = 0;
  hitTokens = 0;

  constructor(maxBytes: number) {
    if (!(maxBytes >= 0)) throw new Error(`PrefixCache: maxBytes must be a non-negative number, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get entries(): number {
    return this.#lru.size;
  }

  /**
   * The longest stored prefix of `prompt`, at most `limit` tokens (null: none); marks the entry it
   * comes from as recently used.
   */
  lookup(prompt: readonly number[], limit = prompt.length): PrefixHit | null {
    this.lookedUpTokens += prompt.length;
    let node = this.#root;
    let depth = 0;
    while (depth < Math.min(limit, prompt.length)) {
      const next = node.children.get(prompt[depth]!);
      if (!next) break;
      node = next;
      depth++;
    }
    if (depth === 0) return null;
    const entry = node.entries.values().next().value as Entry;
    this.#lru.delete(entry);
    this.#lru.add(entry);
    this.hitTokens += depth;
    return { length: depth, cache: entry.arena.cache, row: entry.row, start: entry.arena.cache.length - entry.tokens.length };
  }

  /** Whether the whole of `prompt` is stored. */
  has(prompt: readonly number[]): boolean {
    let node = this.#root;
    for (const id of prompt) {
      const next = node.children.get(id);
      if (!next) return false;
      node = next;
    }
    return true;
  }

  /**
   * Stores prompts whose keys and values are in `source` (rows `row`, right-aligned at
   * source.length), skipping those already stored; then evicts down to maxBytes. A set larger than
   * maxBytes on its own is not stored.
   */
  store(source: KVCache, prompts: readonly { tokens: readonly number[]; row: number }[]): void {
    const seen = new Set<string>();
    const fresh = prompts.filter((p) => {
      const key = p.tokens.join(',');
      if (p.tokens.length === 0 || seen.has(key) || this.has(p.tokens)) return false;
      seen.add(key);
      return true;
    });
    if (fresh.length === 0) return;
    const width = Math.max(...fresh.map((p) => p.tokens.length));
    const perToken = source.numLayers * 2 * source.numKvHeads * source.headDim * 4;
    const bytes = fresh.length * width * perToken;
    if (bytes > this.maxBytes) return;
    const backend = source.keys[0]!.backend;
    const cache = new KVCache(source.numLayers, fresh.length, width, source.numKvHeads, source.headDim, backend);
    try {
      // Runs of rows consecutive in the source move in one copy per layer: the window of their
      // longest prompt (the extra columns of shorter ones are never read).
      let s = 0;
      while (s < fresh.length) {
        let end = s + 1;
        while (end < fresh.length && fresh[end]!.row === fresh[s]!.row + (end - s)) end++;
        const window = Math.max(...fresh.slice(s, end).map((p) => p.tokens.length));
        copyKvRegion(source, fresh[s]!.row, source.length - window, cache, s, width - window, window, end - s);
        s = end;
      }
    } catch (e) {
      cache.dispose();
      throw e;
    }
    cache.length = width;
    const arena: Arena = { cache, bytes, users: 0 };
    this.#bytes += bytes;
    fresh.forEach((p, row) => {
      const entry: Entry = { tokens: [...p.tokens], arena, row };
      arena.users++;
      this.#lru.add(entry);
      let node = this.#root;
      for (const id of entry.tokens) {
        let next = node.children.get(id);
        if (!next) {
          next = newNode();
          node.children.set(id, next);
        }
        next.entries.add(entry);
        node = next;
      }
    });
    while (this.#bytes > this.maxBytes) this.#evict(this.#lru.values().next().value as Entry);
  }

  #evict(entry: Entry): void {
    this.#lru.delete(entry);
    let node = this.#root;
    for (const id of entry.tokens) {
      const next = node.children.get(id)!;
      next.entries.delete(entry);
      if (next.entries.size === 0) {
        node.children.delete(id);
        break;
      }
      node = next;
    }
    if (--entry.arena.users === 0) {
      entry.arena.cache.dispose();
      this.#bytes -= entry.arena.bytes;
    }
  }

  /** Frees every arena; the cache is empty afterwards and can be used again. */
  dispose(): void {
    for (const entry of [...this.#lru]) this.#evict(entry);
  }
}
