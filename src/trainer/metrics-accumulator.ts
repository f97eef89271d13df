/**
 * Averages update metrics the way veRL logs them (np.mean over the values appended per micro-batch),
 * except loss terms: our micro-batch losses are shares of the mini-batch loss (their weights use the
 * mini-batch totals), so they are summed within a mini-batch first and the mini-batch losses averaged.
 */
export class MetricsAccumulator {
  readonly #sums = new Map<string, { total: number; count: number }>();
  #mini = new Map<string, number>();

  constructor(readonly additiveKeys: ReadonlySet<string>) {}

  /** One micro-batch's metrics. */
  addMicro(metrics: Record<string, number>): void {
    for (const [k, v] of Object.entries(metrics)) {
      if (this.additiveKeys.has(k)) this.#mini.set(k, (this.#mini.get(k) ?? 0) + v);
      else this.#push(k, v);
    }
  }

  /** Closes a mini-batch: its summed losses count once each. */
  endMini(extra: Record<string, number> = {}): void {
    for (const [k, v] of this.#mini) this.#push(k, v);
    this.#mini = new Map();
    for (const [k, v] of Object.entries(extra)) this.#push(k, v);
  }

  #push(k: string, v: number): void {
    const e = this.#sums.get(k) ?? { total: 0, count: 0 };
    e.total += v;
    e.count += 1;
    this.#sums.set(k, e);
  }

  result(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, { total, count }] of this.#sums) out[k] = total / count;
    return out;
  }
}

/** Raised when a loss or gradient is NaN or infinite; the trainer stops and keeps the last checkpoint. */
export class NonFiniteError extends Error {
  constructor(what: string, value: number, step: number) {
    super(`${what} is ${value} at step ${step}: training stopped before the optimizer step; the last checkpoint is untouched`);
    this.name = 'NonFiniteError';
  }
}
