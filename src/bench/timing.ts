/**
 * Side-by-side timing. The machine is shared and noisy, so contenders are measured in interleaved
 * rounds (each round times every contender once, in turn) and each keeps its best round: a burst of
 * load from elsewhere then hurts one round of everyone rather than all rounds of one contender.
 */

/**
 * One thing to time: `run` does one call (a returned promise is awaited before the next call);
 * `sync` (optional) waits until queued device work is done.
 */
export interface Contender {
  run: () => void | Promise<void>;
  sync?: () => Promise<void>;
}

export interface RaceOptions {
  /** Interleaved rounds; each contender keeps its best. */
  rounds: number;
  /** A round runs a contender's calls back to back for at least this long (one call at least). */
  minMs: number;
}

const SLOW_MS = 1000;

/**
 * Best seconds per call of each contender. The first call of each is a warm-up (compilation, scratch
 * growth) and the second sizes the batch of calls a round makes, so that timer overhead stays
 * negligible.
 */
export async function race(contenders: Contender[], opts: RaceOptions): Promise<number[]> {
  const reps: number[] = [];
  const best = contenders.map(() => Infinity);
  const slow = contenders.map(() => false);
  for (const [i, c] of contenders.entries()) {
    let t0 = performance.now();
    await c.run();
    await c.sync?.();
    let ms = performance.now() - t0;
    // A second call sizes the batch when the first was quick enough to repeat: the first runs on
    // cold pages and caches (10x slower for a fill of a fresh buffer), and batches sized on it
    // would make rounds so short that one descheduling of a thread decides them.
    if (ms <= SLOW_MS) {
      t0 = performance.now();
      await c.run();
      await c.sync?.();
      ms = performance.now() - t0;
    }
    ms = Math.max(ms, 1e-3);
    reps.push(Math.max(1, Math.min(10_000, Math.round(opts.minMs / ms))));
    // A contender this slow (a peer's unoptimised path) is timed by its first call alone: more
    // rounds would not change the verdict and would cost the run minutes.
    if (ms > SLOW_MS) {
      best[i] = ms / 1000;
      slow[i] = true;
    }
  }
  for (let r = 0; r < opts.rounds; r++) {
    for (let i = 0; i < contenders.length; i++) {
      if (slow[i]) continue;
      const c = contenders[i]!;
      const n = reps[i]!;
      const t0 = performance.now();
      for (let j = 0; j < n; j++) {
        const p = c.run();
        if (p) await p;
      }
      await c.sync?.();
      best[i] = Math.min(best[i]!, (performance.now() - t0) / 1000 / n);
    }
  }
  return best;
}

/** Seconds of one async job, best of `rounds` (for jobs too long to batch: a training step, a decode). */
export async function bestOf(rounds: number, job: () => Promise<void>): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await job();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

/** x / y rounded for a report; null when either side is missing. */
export function ratio(x: number | null | undefined, y: number | null | undefined): number | null {
  if (x == null || y == null || !(y > 0)) return null;
  return round(x / y, 3);
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
