/**
 * When the pool splits a job across its threads. A fixed threshold cannot be right: the time per
 * unit of "work" differs tenfold between kernels (a multiply-add of a matmul against an exp of a
 * softmax), and on a shared machine whether a worker thread gets a core at all changes from
 * second to second. So the choice is learned from measured times, per kernel and size class
 * (floor(log2(work))): each class keeps the mean seconds per work unit of running alone and of
 * splitting, and a job takes whichever is lower. To follow a change in load the other way runs
 * once whenever the preferred way has spent EXPLORE_RATIO times the other's expected time since
 * it last ran, so exploring costs at most 1/EXPLORE_RATIO of the time, however slow the other way
 * is: a worker descheduled while it holds a chunk can stall a split job for 5-20 ms on a busy
 * machine, which a rule of "once per N calls" would pay every N calls of a 20 us job.
 *
 * "Splitting" is measured whole, from publishing the job to the last chunk done: the wake-up, the
 * claims, a worker that was descheduled holding a chunk, and the main thread's own slowdown when a
 * spinning worker takes its core all count against it. That last one is why the comparison cannot
 * be made inside a split job (main's chunks are slower, so main-rate × chunks overstates "alone").
 *
 * Two things keep a split that loses one sample from being locked out. While alone is preferred
 * the workers sleep, and a sleeping worker takes 0.1-0.7 ms to wake: a split timed from there is
 * slower than alone for any job under a millisecond (a 73 us fill of 1M floats sampled at 90-200 us
 * cold against 41 us warm), so neither the warm-up nor an exploration would ever see the split that
 * the policy would then run with spinning workers. So a wanted split waits, running alone untimed,
 * until the pool reports every worker awake (`ready`), for at most WAKE_S of expected time. Waking is
 * not free either: on a machine with no idle core the woken worker can take the main thread's core
 * for a scheduler slice (a 73 us call then took 3-4 ms), so the time those waiting calls lose
 * against running alone is added to the split sample that follows, and that sum (the cost of one
 * exploration, #explore) rather than the split mean sets how often splitting is explored. And an
 * exploration that beats the preferred way's mean is repeated at the next call rather than after
 * EXPLORE_RATIO times its cost again: one stall of a few ms in a split sample otherwise kept a 1.8x
 * faster split away for thousands of calls, and each repeat runs only while it keeps winning.
 */

/** 'auto': learned; 'always' / 'never': every job above PARALLEL_MIN_WORK is split / none is (tests, benchmarks). */
export type SplitMode = 'auto' | 'always' | 'never';

/** Size classes per kernel: floor(log2(work)) for work up to 2^47. */
const CLASSES = 48;
/**
 * Weight of a new sample in a mean. Split samples count whole: on a busy machine a worker is now
 * and then descheduled while it holds a chunk (a 5-20 ms stall of a 20 us job), and those stalls
 * are what splitting costs. Alone samples are clipped at ALONE_CLIP times the mean: the main thread
 * itself is descheduled as often whichever way it runs (a 12 ms "alone" fill of 20 us was seen),
 * which says nothing about running alone. The asymmetry leans toward running alone, the side that
 * is never slower than one thread.
 */
const ALPHA = 0.25;
const ALONE_CLIP = 4;
/** The other way runs once the preferred way has spent this many times the other's expected time. */
const EXPLORE_RATIO = 32;
/**
 * Samples of each way taken, alternately, before comparing; the lowest is kept. The first calls
 * of a kernel on a fresh buffer are slow (page faults, cold caches: 10x here), and a way judged
 * on them would be explored again only rarely.
 */
const WARMUP = 3;
/** Past the warm-up, only one call in TIME_EVERY of the preferred way is timed (a clock read costs ~0.1 us). */
const TIME_EVERY = 4;
/** Expected seconds of alone calls a wanted split waits for the workers to wake before it runs anyway. */
const WAKE_S = 0.002;

export class SplitPolicy {
  readonly mode: SplitMode;
  /** Mean seconds per work unit, alone and split, per slot (0: no sample yet). */
  readonly #alone: Float64Array;
  readonly #split: Float64Array;
  readonly #nAlone: Int32Array;
  readonly #nSplit: Int32Array;
  /** Expected seconds spent in the preferred way since the other last ran. */
  readonly #spent: Float64Array;
  /** Expected seconds run alone while a wanted split waits for the workers to wake; -1: not waiting. */
  readonly #waking: Float64Array;
  /** The way to explore again at the next call (1 alone, 2 split) after an exploration that won; 0: none. */
  readonly #again: Uint8Array;
  /** Seconds per work unit lost against running alone while waking the workers for the next split. */
  readonly #wakeLoss: Float64Array;
  /** Mean seconds per work unit of exploring a split: the wake-up's loss plus the split sample. */
  readonly #explore: Float64Array;

  constructor(kernels: number, mode: SplitMode = 'auto') {
    this.mode = mode;
    const n = kernels * CLASSES;
    this.#alone = new Float64Array(n);
    this.#split = new Float64Array(n);
    this.#nAlone = new Int32Array(n);
    this.#nSplit = new Int32Array(n);
    this.#spent = new Float64Array(n);
    this.#waking = new Float64Array(n).fill(-1);
    this.#again = new Uint8Array(n);
    this.#wakeLoss = new Float64Array(n);
    this.#explore = new Float64Array(n);
  }

  /** The slot of a job: its kernel's index and the size class of its work (>= 1). */
  static slot(kernel: number, work: number): number {
    const cls = work < 2 ** 31 ? 31 - Math.clz32(work) : Math.floor(Math.log2(work));
    return kernel * CLASSES + Math.min(CLASSES - 1, cls);
  }

  /**
   * True to split the job of `work` units in `slot`. `ready`: every worker is awake (spinning), so a
   * split starts at once. False with waking(slot) true: a split is wanted but the workers sleep; the
   * caller wakes them and runs this job alone, neither timed nor counted.
   */
  choose(slot: number, work: number, ready = true): boolean {
    if (this.mode !== 'auto') return this.mode === 'always';
    const want = this.waking(slot) || this.#want(slot, work);
    if (want && !ready && !this.splits(slot)) {
      const waited = Math.max(0, this.#waking[slot]!);
      if (waited < WAKE_S) {
        this.#waking[slot] = waited + this.#alone[slot]! * work;
        return false;
      }
    }
    this.#waking[slot] = -1;
    return want;
  }

  /** Whether the job just chosen to run alone is one that waits for the workers to wake. */
  waking(slot: number): boolean {
    return this.#waking[slot]! >= 0;
  }

  /** Adds a job run alone while waking the workers: what it took beyond running alone counts against the split. */
  recordWake(slot: number, seconds: number, work: number): void {
    this.#wakeLoss[slot] = this.#wakeLoss[slot]! + Math.max(0, seconds / work - this.#alone[slot]!);
  }

  /** The way the timings ask for: the warm-up's turn, the preferred way, or an exploration of the other. */
  #want(slot: number, work: number): boolean {
    // Warm-up: the two ways in turn, alone first, until each has WARMUP samples.
    const na = this.#nAlone[slot]!, ns = this.#nSplit[slot]!;
    if (na < WARMUP || ns < WARMUP) return na > ns;
    const split = this.#split[slot]!, alone = this.#alone[slot]!;
    const best = split < alone;
    const again = this.#again[slot]!;
    this.#again[slot] = 0;
    if (again !== 0 && (again === 2) !== best) {
      this.#spent[slot] = 0;
      return !best;
    }
    const spent = this.#spent[slot]! + (best ? split : alone) * work;
    if (spent >= EXPLORE_RATIO * (best ? alone : Math.max(split, this.#explore[slot]!)) * work) {
      this.#spent[slot] = 0;
      return !best;
    }
    this.#spent[slot] = spent;
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
    const warm = this.#nAlone[slot]! >= WARMUP && this.#nSplit[slot]! >= WARMUP;
    const explored = warm && split !== this.splits(slot);
    if (split && !this.splits(slot)) {
      // The cost of exploring a split, as its running mean (the lowest in the warm-up).
      const c = x + this.#wakeLoss[slot]!, e = this.#explore[slot]!;
      this.#explore[slot] = e === 0 ? c : warm ? e + ALPHA * (c - e) : Math.min(e, c);
      this.#wakeLoss[slot] = 0;
    }
    // The warm-up keeps the lowest of its samples; after it, a running mean.
    means[slot] = n === 0 ? x : n < WARMUP ? Math.min(m, x) : m + ALPHA * ((split ? x : Math.min(x, ALONE_CLIP * m)) - m);
    counts[slot] = n + 1;
    // An exploration faster than the preferred way's mean runs again at the next call.
    if (explored) this.#again[slot] = x < (split ? this.#alone : this.#split)[slot]! ? (split ? 2 : 1) : 0;
  }

  /** Counts an untimed job so that timing stays one in TIME_EVERY. */
  skip(slot: number, split: boolean): void {
    const counts = split ? this.#nSplit : this.#nAlone;
    counts[slot] = counts[slot]! + 1;
  }

  /** Whether idle workers should keep spinning after a split job: splitting is preferred, or is explored again next. */
  keepSpinning(slot: number): boolean {
    return this.#again[slot] === 2 || this.splits(slot);
  }

  /** Whether splitting is the preferred way for `slot`. */
  splits(slot: number): boolean {
    if (this.mode !== 'auto') return this.mode === 'always';
    return this.#nSplit[slot]! >= WARMUP && this.#nAlone[slot]! >= WARMUP && this.#split[slot]! < this.#alone[slot]!;
  }
}
