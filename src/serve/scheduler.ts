/**
 * Continuous batching (generation/step-decoder.ts): requests join the running batch between decoding
 * steps (prefilled, then decoded with the others) and leave it as soon as their rows end, so a
 * request never waits for another's generation. An idle server waits `batchWindowMs` (extended
 * while requests keep arriving, up to 8 windows) so that a burst is prefilled in one pass.
 *
 * A batch runs on one lease of the weights (the served model or one adapter, at one weight
 * version): a request for another adapter, or one that arrives after a weight update, waits at the
 * head of the queue while the batch drains (no request is admitted behind it), then starts the next
 * batch. Requests join in arrival order while the batch stays within `maxBatchRows` rows and
 * `maxBatchTokens` rows x columns of KV cache.
 *
 * Seeds: every row (sample) of a request draws from its own PRNG stream, seeded with
 * rowSeed(seed, row) (generation/sampler.ts; each prompt of a multi-prompt request with the same
 * seed), so a seeded request draws what `generate(..., {n, seed, rowStreams: true})` draws on the
 * same prompt, whatever else the batch holds, and a row that reaches a stop string leaves the batch
 * without changing its siblings. A prompt without a seed gets the server's `--seed` plus the number
 * of unseeded prompts admitted before it (reproducible for the same sequence of requests from a
 * fresh server).
 *
 * The queue is bounded in rows (prompts x n): a request that does not fit is refused at once with a
 * 429 instead of waiting without end.
 */
import { PrefixCache } from '../generation/prefix-cache.js';
import { StepDecoder, type DecodeRequest, type RowToken, type TopLogprob } from '../generation/step-decoder.js';
import { ApiError } from './errors.js';
import type { Lease, ModelHost } from './model-host.js';

export interface GenerationJob {
  readonly promptIds: readonly number[];
  readonly n: number;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topP: number;
  readonly topK: number;
  readonly seed: number | null;
  readonly ignoreEos: boolean;
  /** The adapter name from ModelHost.resolve (null: the served model). */
  readonly adapter: string | null;
  /** Most likely alternatives to report per position (0 or absent: none). */
  readonly topLogprobs?: number;
  /** True once the client went away: a waiting job is dropped, a running one leaves the batch. */
  readonly cancelled?: () => boolean;
  /**
   * Called with each token of row `row` as it is drawn; returning true ends the row with this token
   * (a stop string or stop token reached): it leaves the batch at once, its siblings drawing from
   * their own streams as before.
   */
  readonly onToken?: (row: number, token: RowToken) => boolean;
}

export interface GeneratedRow {
  ids: number[];
  logprobs: number[];
  /** Per position, the most likely alternatives (only when the job asked for them). */
  top: TopLogprob[][] | null;
  /** The row ended at the tokenizer's eos (which is its last id), rather than at max_tokens. */
  endedAtEos: boolean;
}

export interface JobResult {
  /** n rows, in sample order. */
  rows: GeneratedRow[];
  weightVersion: number;
}

export interface SchedulerOptions {
  /** Most rows (prompts x n) waiting, not counting the running batch's. */
  maxQueuedRows: number;
  /** Most rows decoding together. */
  maxBatchRows: number;
  /** Most rows x positions of the running batch's KV cache. */
  maxBatchTokens: number;
  /** How long an idle server waits for more requests before starting a batch. */
  batchWindowMs: number;
  /** Base seed of unseeded prompts. */
  seed: number;
  /** Most bytes of prompt keys and values kept for prefix caching (0: none). */
  prefixCacheBytes: number;
}

interface Pending {
  job: GenerationJob;
  resolve(r: JobResult): void;
  reject(e: unknown): void;
}

interface Active {
  pending: Pending;
  rows: (GeneratedRow & { done: boolean })[];
  weightVersion: number;
}

export interface SchedulerStats {
  /** Batches started on an idle server (a batch runs until its last request ends). */
  generateCalls: number;
  /** Prefill passes (each admits the requests waiting at a step boundary). */
  prefills: number;
  /** Decoding steps. */
  decodeSteps: number;
  /** Tokens drawn, all rows (a row that ended draws no more). */
  decodedTokens: number;
  /** Requests answered (a request with k prompts is one request and k jobs). */
  requests: number;
  /** Jobs (one per prompt) answered. */
  jobs: number;
  /** Rows generated. */
  rows: number;
  queuedRows: number;
  running: boolean;
  /** Prompt tokens of the rows admitted, and of those, the ones whose keys came from the prefix cache. */
  promptTokens: number;
  cachedPromptTokens: number;
  /** Prompts stored in the prefix cache, and their bytes. */
  prefixCacheEntries: number;
  prefixCacheBytes: number;
}

interface Batch {
  lease: Lease;
  /** Steps the queue's head has been held back from joining (a join waits for others up to 3 steps). */
  held: number;
  adapter: string | null;
  decoder: StepDecoder;
  active: Map<number, Active>;
}

export class Scheduler {
  readonly #host: ModelHost;
  readonly #options: SchedulerOptions;
  readonly #eos: number;
  #queue: Pending[] = [];
  #queuedRows = 0;
  #running = false;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #unseeded = 0;
  #arrivingCount = 0;
  #arrivals = 0;
  #idle: (() => void)[] = [];
  /** The prefix cache of the weights the last batch ran on (weight version and adapter). */
  #prefix: { key: string; cache: PrefixCache } | null = null;
  readonly stats: SchedulerStats = {
    generateCalls: 0, prefills: 0, decodeSteps: 0, decodedTokens: 0, requests: 0, jobs: 0, rows: 0, queuedRows: 0, running: false,
    promptTokens: 0, cachedPromptTokens: 0, prefixCacheEntries: 0, prefixCacheBytes: 0,
  };

  constructor(host: ModelHost, options: SchedulerOptions) {
    this.#host = host;
    this.#options = options;
    this.#eos = host.tokenizer.eosTokenId;
  }

  /**
   * Queues the jobs of one request (one per prompt) and resolves with their results in order. The
   * queue's bound is checked for all of them at once, so a request is admitted whole or refused.
   */
  submit(jobs: readonly GenerationJob[]): Promise<JobResult[]> {
    if (this.#closed) return Promise.reject(new ApiError(503, 'the server is shutting down', null, 'shutting_down'));
    const rows = jobs.reduce((s, j) => s + j.n, 0);
    const tooMany = jobs.find((j) => j.n > this.#options.maxBatchRows);
    if (tooMany) return Promise.reject(new ApiError(400, `n = ${tooMany.n} exceeds the server's ${this.#options.maxBatchRows} rows per generation (--max-batch-rows)`, 'n'));
    const tooLong = jobs.find((j) => j.n * (j.promptIds.length + j.maxTokens) > this.#options.maxBatchTokens);
    if (tooLong) {
      return Promise.reject(new ApiError(400, `n = ${tooLong.n} rows of ${tooLong.promptIds.length} prompt + ${tooLong.maxTokens} completion tokens exceed the server's ` +
        `${this.#options.maxBatchTokens} positions per generation (--max-batch-tokens); ask for fewer max_tokens or a smaller n`, 'max_tokens'));
    }
    if (this.#queuedRows + rows > this.#options.maxQueuedRows) {
      return Promise.reject(new ApiError(429, `the server's queue is full (${this.#queuedRows} rows waiting, ${rows} more asked, limit ${this.#options.maxQueuedRows} (--max-queued-rows)); retry later`, null, 'queue_full'));
    }
    return Promise.all(jobs.map((job) => new Promise<JobResult>((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#queuedRows += job.n;
      this.stats.queuedRows = this.#queuedRows;
      this.#kick();
    }))).then((results) => {
      this.stats.requests++;
      return results;
    });
  }

  /**
   * Starts a batch on an idle server after the batch window; while requests keep arriving (a burst
   * whose requests reach the server spread out), the window is extended, up to 8 windows.
   */
  #kick(): void {
    if (this.#running || this.#timer !== null || this.#queue.length === 0) return;
    let windows = 0;
    let seen = this.#queue.length;
    const wait = (): void => {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        if (this.#queue.length > seen && ++windows < 8) {
          seen = this.#queue.length;
          wait();
          return;
        }
        void this.#run();
      }, this.#options.batchWindowMs);
    };
    wait();
  }

  #dequeue(p: Pending): void {
    this.#queuedRows -= p.job.n;
    this.stats.queuedRows = this.#queuedRows;
  }

  #dropCancelledWaiting(): void {
    this.#queue = this.#queue.filter((p) => {
      if (!p.job.cancelled?.()) return true;
      this.#dequeue(p);
      p.reject(new ApiError(499, 'the client closed the request'));
      return false;
    });
  }

  /** The queue's head requests that may join `batch` now (all of one lease, in arrival order). */
  #joiners(batch: Batch): Pending[] {
    const taken: Pending[] = [];
    const specs: DecodeRequest[] = [];
    for (const p of this.#queue) {
      if (p.job.adapter !== batch.adapter || this.#host.weightVersion !== batch.lease.weightVersion) break;
      const spec = this.#spec(p.job, 0);
      const layout = batch.decoder.layoutWith([...specs, spec]);
      // The first request of an empty batch always runs (its own size was checked by submit).
      const first = batch.decoder.idle && taken.length === 0;
      if (!first && (layout.rows > this.#options.maxBatchRows || layout.rows * layout.columns > this.#options.maxBatchTokens)) break;
      taken.push(p);
      specs.push(spec);
    }
    const set = new Set(taken);
    this.#queue = this.#queue.filter((p) => !set.has(p));
    for (const p of taken) this.#dequeue(p);
    return taken;
  }

  #spec(job: GenerationJob, seed: number): DecodeRequest {
    return {
      promptIds: job.promptIds, n: job.n, maxNewTokens: job.maxTokens, seed, ignoreEos: job.ignoreEos,
      sampling: { temperature: job.temperature, topK: job.topK, topP: job.topP }, topLogprobs: job.topLogprobs ?? 0,
    };
  }

  /** A new batch for the queue's head request, or null when its lease cannot be had (it was failed). */
  #startBatch(): Batch | null {
    const head = this.#queue[0]!;
    let lease: Lease;
    try {
      lease = this.#host.lease(head.job.adapter);
    } catch (e) {
      this.#queue.shift();
      this.#dequeue(head);
      head.reject(e);
      return null;
    }
    return {
      lease, adapter: head.job.adapter, active: new Map(), held: 0,
      decoder: new StepDecoder(lease.model, {
        eosTokenIds: [this.#eos], padTokenId: this.#host.tokenizer.padTokenId, maxCacheTokens: this.#options.maxBatchTokens,
        prefixCache: this.#prefixCacheFor(lease, head.job.adapter),
      }),
    };
  }

  /**
   * The prefix cache of a lease's weights. Keys are only valid for the weights that computed them:
   * one cache is kept, for the weight version and adapter of the last batch, and dropped when a
   * batch runs on others (a weight update, another adapter).
   */
  #prefixCacheFor(lease: Lease, adapter: string | null): PrefixCache | undefined {
    if (this.#options.prefixCacheBytes <= 0) return undefined;
    const key = `${lease.weightVersion}/${adapter ?? ''}`;
    if (this.#prefix?.key !== key) {
      this.#dropPrefixCache();
      this.#prefix = { key, cache: new PrefixCache(this.#options.prefixCacheBytes) };
    }
    return this.#prefix.cache;
  }

  #dropPrefixCache(): void {
    this.#prefix?.cache.dispose();
    this.#prefix = null;
    this.stats.prefixCacheEntries = 0;
    this.stats.prefixCacheBytes = 0;
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.stats.running = true;
    let batch: Batch | null = null;
    try {
      for (;;) {
        this.#dropCancelledWaiting();
        if (batch && batch.active.size === 0) {
          this.#endBatch(batch);
          batch = null;
        }
        if (!batch) {
          if (this.#queue.length === 0) break;
          batch = this.#startBatch();
          if (!batch) continue;
          this.stats.generateCalls++;
        }
        try {
          batch.lease.activate();
          this.#retireCancelled(batch);
          // A join rebuilds the running rows' cache when it does not fit the cache as it is, so a
          // few rows trickling in wait up to 3 steps for others, unless they are a quarter of the batch.
          const live = batch.decoder.activeRows;
          if (this.#queue.length > 0 && (live === 0 || this.#queuedRows * 4 >= live || ++batch.held > 3)) {
            batch.held = 0;
            const joiners = this.#joiners(batch);
            if (joiners.length > 0) await this.#admit(batch, joiners);
          }
          if (!batch.decoder.idle) {
            const tokens = await batch.decoder.step();
            this.stats.decodeSteps++;
            this.stats.decodedTokens += tokens.length;
            this.#deliver(batch, tokens);
          }
        } catch (e) {
          for (const a of batch.active.values()) a.pending.reject(e);
          batch.active.clear();
        }
        await this.#yieldToArrivals();
      }
    } finally {
      if (batch) this.#endBatch(batch);
      this.#running = false;
      this.stats.running = false;
      this.#settleIdle();
      if (this.#queue.length > 0 && !this.#closed) this.#kick();
    }
  }

  /**
   * Requests being read (`arriving`): the HTTP layer counts a request from its first byte until it
   * is submitted (or refused), so that a burst being received reaches the batch together.
   */
  arriving(): () => void {
    this.#arrivals++;
    this.#arrivingCount++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#arrivingCount--;
    };
  }

  /**
   * Turns of the event loop between steps. The CPU backend computes synchronously: without them,
   * /health, new requests and weight updates would wait for the whole batch. A request needs a few
   * turns from its first byte to `submit`, so while requests are being read the loop turns until
   * they are in (at most 2 ms): a burst then joins in one prefill instead of one per step.
   */
  async #yieldToArrivals(): Promise<void> {
    const until = performance.now() + 20;
    let before: number;
    do {
      before = this.#arrivals;
      await new Promise<void>((resolve) => setImmediate(resolve));
    } while ((this.#arrivingCount > 0 || this.#arrivals > before) && performance.now() < until);
  }

  #endBatch(batch: Batch): void {
    batch.decoder.dispose();
    batch.lease.release();
  }

  async #admit(batch: Batch, joiners: Pending[]): Promise<void> {
    const specs = joiners.map((p) => this.#spec(p.job, p.job.seed ?? this.#options.seed + this.#unseeded++));
    let admitted;
    const { promptTokens, cachedPromptTokens } = batch.decoder;
    try {
      admitted = await batch.decoder.admit(specs);
    } catch (e) {
      for (const p of joiners) p.reject(e);
      return;
    }
    this.stats.prefills++;
    this.stats.decodedTokens += admitted.tokens.length;
    this.stats.promptTokens += batch.decoder.promptTokens - promptTokens;
    this.stats.cachedPromptTokens += batch.decoder.cachedPromptTokens - cachedPromptTokens;
    this.stats.prefixCacheEntries = this.#prefix?.cache.entries ?? 0;
    this.stats.prefixCacheBytes = this.#prefix?.cache.bytes ?? 0;
    admitted.handles.forEach((h, i) => {
      const p = joiners[i]!;
      const wantTop = (p.job.topLogprobs ?? 0) > 0;
      batch.active.set(h, {
        pending: p,
        weightVersion: batch.lease.weightVersion,
        rows: Array.from({ length: p.job.n }, () => ({ ids: [], logprobs: [], top: wantTop ? [] : null, endedAtEos: false, done: false })),
      });
    });
    this.#deliver(batch, admitted.tokens);
  }

  #retireCancelled(batch: Batch): void {
    for (const [h, a] of batch.active) {
      if (!a.pending.job.cancelled?.()) continue;
      batch.decoder.retire(h);
      batch.active.delete(h);
      a.pending.reject(new ApiError(499, 'the client closed the request'));
    }
  }

  /** Appends each token to its row, and answers the jobs whose rows have all ended. */
  #deliver(batch: Batch, tokens: readonly RowToken[]): void {
    const touched = new Set<number>();
    for (const t of tokens) {
      const a = batch.active.get(t.request);
      if (!a) continue;
      touched.add(t.request);
      const row = a.rows[t.row]!;
      if (row.done) continue;
      row.ids.push(t.token);
      row.logprobs.push(t.logprob);
      row.top?.push(t.top ?? []);
      let stopped = false;
      try {
        stopped = a.pending.job.onToken?.(t.row, t) ?? false;
      } catch (e) {
        batch.decoder.retire(t.request);
        batch.active.delete(t.request);
        a.pending.reject(e);
        continue;
      }
      if (t.finished || stopped) {
        row.done = true;
        row.endedAtEos = t.endedAtEos;
        if (!t.finished) batch.decoder.retireRow(t.request, t.row);
      }
    }
    for (const h of touched) {
      const a = batch.active.get(h);
      if (!a || !a.rows.every((r) => r.done)) continue;
      batch.decoder.retire(h);
      batch.active.delete(h);
      this.stats.jobs++;
      this.stats.rows += a.rows.length;
      a.pending.resolve({ rows: a.rows.map(({ ids, logprobs, top, endedAtEos }) => ({ ids, logprobs, top, endedAtEos })), weightVersion: a.weightVersion });
    }
  }

  #settleIdle(): void {
    for (const f of this.#idle.splice(0)) f();
  }

  /** Refuses new requests, fails the queued ones with 503, and resolves once the running batch ended. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    for (const p of this.#queue.splice(0)) p.reject(new ApiError(503, 'the server is shutting down', null, 'shutting_down'));
    this.#queuedRows = 0;
    this.stats.queuedRows = 0;
    if (this.#running) await new Promise<void>((resolve) => this.#idle.push(resolve));
    this.#dropPrefixCache();
  }
}
