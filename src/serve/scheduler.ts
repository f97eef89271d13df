/**
 * Request batching: requests that arrive while a generation runs (or within a short
 * window of an idle server) are grouped into one `generate()` call when their sampling is
 * compatible: the same model or adapter, ignore_eos, and the same temperature/top-p/top-k (all
 * greedy requests share one group whatever their top-p/top-k). A group generates to its largest
 * max_tokens and each request's rows are cut to its own.
 *
 * Seeds: a request with a `seed` runs as a group of its own, as `generate(model, [prompt], {n,
 * seed})` does: its draws are those of `tinyzero generate --seed S --n N` on the same prompt, so it is
 * reproducible whatever else the server is doing. Requests without one share groups, whose seed is
 * the server's `--seed` plus the number of generations run before (reproducible for the same
 * sequence of requests from a fresh server).
 *
 * The queue is bounded in rows (prompts x n): a request that does not fit is refused at once with a
 * 429 instead of waiting without end.
 */
import { generate } from '../generation/index.js';
import { ApiError } from './errors.js';
import type { ModelHost } from './model-host.js';

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
  /** True once the client went away: a job not started yet is dropped. */
  readonly cancelled?: () => boolean;
}

export interface GeneratedRow {
  ids: number[];
  logprobs: number[];
  /** The row ended at the tokenizer's eos (which is its last id), rather than at max_tokens. */
  endedAtEos: boolean;
}

export interface JobResult {
  /** n rows, in sample order. */
  rows: GeneratedRow[];
  weightVersion: number;
}

export interface SchedulerOptions {
  /** Most rows (prompts x n) waiting, not counting the running generation's. */
  maxQueuedRows: number;
  /** Most rows in one generate() call. */
  maxBatchRows: number;
  /** Most rows x (prompt + generated) positions in one call: the KV cache's size. */
  maxBatchTokens: number;
  /** How long an idle server waits for more requests before starting a generation. */
  batchWindowMs: number;
  /** Base seed of unseeded groups. */
  seed: number;
}

interface Pending {
  job: GenerationJob;
  key: string;
  resolve(r: JobResult): void;
  reject(e: unknown): void;
}

export interface SchedulerStats {
  /** generate() calls made so far. */
  generateCalls: number;
  /** Requests answered (a request with k prompts is one request and k jobs). */
  requests: number;
  /** Jobs (one per prompt) answered. */
  jobs: number;
  /** Rows generated. */
  rows: number;
  queuedRows: number;
  running: boolean;
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
  #seededCount = 0;
  #idle: (() => void)[] = [];
  readonly stats: SchedulerStats = { generateCalls: 0, requests: 0, jobs: 0, rows: 0, queuedRows: 0, running: false };

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
      const greedy = job.temperature === 0;
      const key = job.seed !== null ? `seeded\u0000${this.#seededCount++}` : [job.adapter ?? '', job.ignoreEos, greedy ? 'greedy' : `${job.temperature}/${job.topP}/${job.topK}`].join('\u0000');
      this.#queue.push({ job, key, resolve, reject });
      this.#queuedRows += job.n;
      this.stats.queuedRows = this.#queuedRows;
      this.#kick();
    }))).then((results) => {
      this.stats.requests++;
      return results;
    });
  }

  /**
   * Starts a generation on an idle server after the batch window; while requests keep arriving
   * (a burst whose requests reach the server spread out), the window is extended, up to 8 windows.
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
        void this.#runNext();
      }, this.#options.batchWindowMs);
    };
    wait();
  }

  /** The oldest request's group: every later compatible request that fits the batch limits. */
  #takeGroup(): Pending[] {
    this.#queue = this.#queue.filter((p) => {
      if (!p.job.cancelled?.()) return true;
      this.#queuedRows -= p.job.n;
      p.reject(new ApiError(499, 'the client closed the request'));
      return false;
    });
    const first = this.#queue[0];
    if (!first) return [];
    const group: Pending[] = [];
    let rows = 0;
    let promptLen = 0;
    let maxTokens = 0;
    const positions = this.#host.maxPositions;
    for (const p of this.#queue) {
      if (p.key !== first.key) continue;
      const r = rows + p.job.n;
      const lp = Math.max(promptLen, p.job.promptIds.length);
      const mt = Math.max(maxTokens, p.job.maxTokens);
      // The first request always runs (its own size was checked by submit).
      if (group.length > 0 && (r > this.#options.maxBatchRows || lp + mt > positions || r * (lp + mt) > this.#options.maxBatchTokens)) continue;
      group.push(p);
      rows = r;
      promptLen = lp;
      maxTokens = mt;
    }
    const taken = new Set(group);
    this.#queue = this.#queue.filter((p) => !taken.has(p));
    this.#queuedRows -= rows;
    this.stats.queuedRows = this.#queuedRows;
    return group;
  }

  async #runNext(): Promise<void> {
    const group = this.#takeGroup();
    if (group.length === 0) {
      this.#settleIdle();
      return;
    }
    this.#running = true;
    this.stats.running = true;
    try {
      await this.#generate(group);
    } finally {
      this.#running = false;
      this.stats.running = false;
      if (this.#queue.length > 0) void this.#runNext();
      else this.#settleIdle();
    }
  }

  async #generate(group: Pending[]): Promise<void> {
    const first = group[0]!.job;
    let lease;
    try {
      lease = this.#host.lease(first.adapter);
    } catch (e) {
      for (const p of group) p.reject(e);
      return;
    }
    try {
      const seed = first.seed ?? this.#options.seed + this.stats.generateCalls;
      const maxTokens = Math.max(...group.map((p) => p.job.maxTokens));
      lease.activate();
      this.stats.generateCalls++;
      // generate() repeats each prompt n times (rows prompt0 x n, prompt1 x n, ...); with n = 1 and
      // each prompt listed n times the rows are the same, and requests may differ in n.
      const out = await generate(lease.model, group.flatMap((p) => Array.from({ length: p.job.n }, () => p.job.promptIds)), {
        maxNewTokens: maxTokens,
        temperature: first.temperature,
        topP: first.topP,
        topK: first.topK,
        n: 1,
        seed,
        ignoreEos: first.ignoreEos,
        eosTokenIds: [this.#eos],
        padTokenId: this.#host.tokenizer.padTokenId,
        // The CPU backend computes synchronously: without a turn of the event loop between steps,
        // /health, new requests and weight updates would wait for the whole generation.
        onStep: () => new Promise<void>((resolve) => setImmediate(resolve)),
      });
      let r = 0;
      for (const p of group) {
        const rows: GeneratedRow[] = [];
        for (let j = 0; j < p.job.n; j++, r++) {
          const len = Math.min(out.lengths[r]!, p.job.maxTokens);
          const ids = Array.from(out.responseIds.subarray(r * out.width, r * out.width + len));
          const logprobs = Array.from(out.logprobs.subarray(r * out.width, r * out.width + len));
          rows.push({ ids, logprobs, endedAtEos: !p.job.ignoreEos && len > 0 && ids[len - 1] === this.#eos });
        }
        this.stats.jobs++;
        this.stats.rows += rows.length;
        p.resolve({ rows, weightVersion: lease.weightVersion });
      }
    } catch (e) {
      for (const p of group) p.reject(e);
    } finally {
      lease.release();
    }
  }

  #settleIdle(): void {
    for (const f of this.#idle.splice(0)) f();
  }

  /** Refuses new requests, fails the queued ones with 503, and resolves once the running generation ended. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    for (const p of this.#queue.splice(0)) p.reject(new ApiError(503, 'the server is shutting down', null, 'shutting_down'));
    this.#queuedRows = 0;
    if (this.#running) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}
