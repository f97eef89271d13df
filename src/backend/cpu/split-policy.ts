/**
 * When the pool splits a job across its threads. A fixed threshold cannot be right: the time per
 * unit of "work" differs tenfold between kernels (a multiply-add of a matmul against an exp of a
 * softmax), and on a shared machine whether a worker thread gets a core at all changes from
 * second to second. So the choice is learned from measured times, per kernel and size class
 * (floor(log2(work))): each class keeps the mean seconds per work unit of running alone and of
 * splitting, and a job takes whichever is lower. Every EXPLORE_CALLS calls (and EXPLORE_MS) the
 * other way runs once, to follow a change in load, so a losing way costs at most one call in
 * EXPLORE_CALLS.
 *
 * "Splitting" is measured whole, from publishing the job to the last chunk done: the wake-up, the
 * claims, a worker that was descheduled holding a chunk, and the main thread's own slowdown when a
 * spinning worker takes its core all count against it. That last one is why the comparison cannot
 * be made inside a split job (main's chunks are slower, so main-rate × chunks overstates "alone").
 */

/** 'auto': learned; 'always' / 'never': every job above PARALLEL_MIN_WORK is split / none is (tests, benchmarks). */
export type SplitMode = 'auto' | 'always' | 'never';

/** Size classes per kernel: floor(log2(work)) for work up to 2^47. */
const CLASSES = 48;
/** Weight of a new sample in a mean; a sample counts at most CLIP times the mean (one preemption is not a trend). */
const ALPHA = 0.25;
const CLIP = 4;
/** The other way runs once per this many calls of a class, and not more often than every EXPLORE_MS. */
const EXPLORE_CALLS = 32;
const EXPLORE_MS = 50;
/** Samples of each way taken before comparing (the first call of a kernel compiles and warms caches). */
const WARMUP = 2;
/** Past the warm-up, only one call in TIME_EVERY of the preferred way is timed (a clock read costs ~0.1 us). */
const TIME_EVERY = 4;

export class SplitPolicy {
  readonly mode: SplitMode;
  /** Mean seconds per work unit, alone and split, per slot (0: no sample yet). */
  readonly #alone: Float64Array;
  readonly #split: Float64Array;
  readonly #nAlone: Int32Array;
  readonly #nSplit: Int32Array;
  /** Calls since the non-preferred way last ran, and when it did (ms). */
  readonly #calls: Int32Array;
  readonly #explored: Float64Array;
  readonly #clock: () => number;

  /** `clock` (ms) is for tests. */
  constructor(kernels: number, mode: SplitMode = 'auto', clock: () => number = () => performance.now()) {
    this.mode = mode;
    this.#clock = clock;
    const n = kernels * CLASSES;
    this.#alone = new Float64Array(n);
    this.#split = new Float64Array(n);
    this.#nAlone = new Int32Array(n);
    this.#nSplit = new Int32Array(n);
    this.#calls = new Int32Array(n);
    this.#explored = new Float64Array(n).fill(-Infinity);
  }

  /** The slot of a job: its kernel's index and the size class of its work (>= 1). */
  static slot(kernel: number, work: number): number {
    const cls = work < 2 ** 31 ? 31 - Math.clz32(work) : Math.floor(Math.log2(work));
    return kernel * CLASSES + Math.min(CLASSES - 1, cls);
  }

  /** True to split the job in `slot`. Reads the clock only when an exploration is due. */
  choose(slot: number): boolean {
    if (this.mode !== 'auto') return this.mode === 'always';
    if (this.#nAlone[slot]! < WARMUP) return false;
    if (this.#nSplit[slot]! < WARMUP) return true;
    const best = this.#split[slot]! < this.#alone[slot]!;
    if (++this.#calls[slot]! >= EXPLORE_CALLS) {
      const now = this.#clock();
      if (now - this.#explored[slot]! >= EXPLORE_MS) {
        this.#calls[slot] = 0;
        this.#explored[slot] = now;
        return !best;
      }
    }
    return best;
  }

  /** Whether a job run this way should be timed (always in the warm-up and when exploring). */
  wantsTime(slot: number, split: boolean): boolean {
    if (this.mode !== 'auto') return false;
    const n = split ? this.#nSplit[slot]! : this.#nAlone[slot]!;
    return n < WARMUP || n % TIME_EVERY === 0 || split !== this.splits(slot);
  }

  /** Adds a measured job: `seconds` for `work` units, run split or alone. */
  record(slot: number, split: boolean, seconds: number, work: number): void {
    const means = split ? this.#split : this.#alone;
    const counts = split ? this.#nSplit : this.#nAlone;
    const x = seconds / work;
    const n = counts[slot]!;
    const m = means[slot]!;
    // The warm-up keeps the lower of its samples; after it, a clipped running mean.
    means[slot] = n === 0 ? x : n < WARMUP ? Math.min(m, x) : m + ALPHA * (Math.min(x, CLIP * m) - m);
    counts[slot] = n + 1;
  }

  /** Counts an untimed job so that timing stays one in TIME_EVERY. */
  skip(slot: number, split: boolean): void {
    const counts = split ? this.#nSplit : this.#nAlone;
    counts[slot] = counts[slot]! + 1;
  }

  /** Whether splitting is the preferred way for `slot` (then idle workers should keep spinning). */
  splits(slot: number): boolean {
    if (this.mode !== 'auto') return this.mode === 'always';
    return this.#nSplit[slot]! >= WARMUP && this.#nAlone[slot]! >= WARMUP && this.#split[slot]! < this.#alone[slot]!;
  }
}
