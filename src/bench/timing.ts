/**
 * Side-by-side timing. The machine is shared and noisy, so contenders are measured in interleaved
 * rounds (each round times every contender once, in turn) and each keeps its best round: a burst of
 * load from elsewhere then hurts one round of everyone rather than all rounds of one contender. Where
 * the machine's speed drifts for longer than a round, `pairedSpeedup` compares two contenders round
 * by round instead.
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
  /** Interleaved rounds; `race` keeps each contender's best. */
  rounds: number;
  /** A round runs a contender's calls back to back for at least this long (one call at least). */
  minMs: number;
  /**
   * The clock, in milliseconds: the wall clock (performance.now) unless given. A single-threaded
   * contender on a loaded machine reads steadier in the process's CPU time (process.cpuUsage).
   */
  nowMs?: () => number;
}

const SLOW_MS = 1000;

/** Best seconds per call of each contender (its best round of raceRounds). */
export async function race(contenders: Contender[], opts: RaceOptions): Promise<number[]> {
  return (await raceRounds(contenders, opts)).map((times) => Math.min(...times));
}

/**
 * Seconds per call of each contender in every round. The first call of each is a warm-up
 * (compilation, scratch growth) and the second sizes the batch of calls a round makes, so that
 * timer overhead stays negligible. Odd rounds run the contenders in reverse order, so that none
 * always runs right after the same neighbour (whose heat or cache debris it would inherit).
 */
export async function raceRounds(contenders: Contender[], opts: RaceOptions): Promise<number[][]> {
  const now = opts.nowMs ?? (() => performance.now());
  const reps: number[] = [];
  const times = contenders.map((): number[] => []);
  const slow = contenders.map(() => false);
  for (const [i, c] of contenders.entries()) {
    let t0 = now();
    await c.run();
    await c.sync?.();
    let ms = now() - t0;
    // A second call sizes the batch when the first was quick enough to repeat: the first runs on
    // cold pages and caches (10x slower for a fill of a fresh buffer), and batches sized on it
    // would make rounds so short that one descheduling of a thread decides them.
    if (ms <= SLOW_MS) {
      t0 = now();
      await c.run();
      await c.sync?.();
      ms = now() - t0;
    }
    ms = Math.max(ms, 1e-3);
    reps.push(Math.max(1, Math.min(10_000, Math.round(opts.minMs / ms))));
    // A contender this slow (a peer's unoptimised path) is timed by its first call alone: more
    // rounds would not change the verdict and would cost the run minutes.
    if (ms > SLOW_MS) {
      times[i]!.push(ms / 1000);
      slow[i] = true;
    }
  }
  const forward = contenders.map((_, i) => i);
  const backward = [...forward].reverse();
  for (let r = 0; r < opts.rounds; r++) {
    for (const i of r % 2 === 0 ? forward : backward) {
      if (slow[i]) continue;
      const c = contenders[i]!;
      const n = reps[i]!;
      const t0 = now();
      for (let j = 0; j < n; j++) {
        const p = c.run();
        if (p) await p;
      }
      await c.sync?.();
      times[i]!.push((now() - t0) / 1000 / n);
    }
  }
  return times;
}

/**
 * How many times faster contender x ran than y: the median over rounds of y's time / x's time in
 * the same round. On a machine whose speed drifts (a shared host) both sides of a round move
 * together, so this is steadier than the ratio of best rounds, which it falls back to when either
 * side was timed by one call.
 */
export function pairedSpeedup(rounds: number[][], x: number, y: number): number {
  const ratios = pairedRatios(rounds, x, y);
  if (!ratios) return Math.min(...rounds[y]!) / Math.min(...rounds[x]!);
  const mid = ratios.length >> 1;
  return ratios.length % 2 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
}

export interface SpeedupInterval {
  low: number;
  high: number;
  /** The chance that the interval holds the true median ratio: `level` or above, below it only when there are too few rounds. */
  coverage: number;
}

/**
 * A confidence interval for pairedSpeedup's median, free of any assumption about how the ratios
 * are distributed: the j-th smallest and j-th largest within-round ratio hold the true median
 * unless at least n+1-j of the n ratios fall on one side of it, so j is the largest with
 * 2 P(Binomial(n, 1/2) < j) <= 1 - level (15 rounds at 0.95: the 4th and 12th, 96.5%). With fewer
 * rounds than the level allows (5 or fewer at 0.95) it is the smallest and largest ratio, with the
 * coverage they give. null when the two were not timed round by round.
 */
export function pairedSpeedupInterval(rounds: number[][], x: number, y: number, level = 0.95): SpeedupInterval | null {
  const ratios = pairedRatios(rounds, x, y);
  if (!ratios) return null;
  const n = ratios.length;
  // below[j] = P(Binomial(n, 1/2) < j), summed from the binomial coefficients.
  const below = [0];
  let term = 0.5 ** n;
  for (let i = 0; i < n; i++) {
    below.push(below[i]! + term);
    term = (term * (n - i)) / (i + 1);
  }
  let j = 1;
  while (j + 1 <= (n + 1) / 2 && 2 * below[j + 1]! <= 1 - level) j++;
  return { low: ratios[j - 1]!, high: ratios[n - j]!, coverage: 1 - 2 * below[j]! };
}

/** pairedSpeedup for a report, with its 95% interval when there is one: `1.03 (0.98-1.07)`. */
export function pairedSpeedupText(rounds: number[][], x: number, y: number): string {
  const ci = pairedSpeedupInterval(rounds, x, y);
  return `${pairedSpeedup(rounds, x, y).toFixed(2)}${ci ? ` (${ci.low.toFixed(2)}-${ci.high.toFixed(2)})` : ''}`;
}

/** y's time / x's time in each round, sorted; null when either side was timed by one call. */
function pairedRatios(rounds: number[][], x: number, y: number): number[] | null {
  const tx = rounds[x]!, ty = rounds[y]!;
  if (tx.length !== ty.length || tx.length < 2) return null;
  return tx.map((t, r) => ty[r]! / t).sort((a, b) => a - b);
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
