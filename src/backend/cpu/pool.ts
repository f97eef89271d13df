/**
 * The worker-thread pool. A job is published through the control block in shared memory (see
 * control.ts): the main thread writes the kernel index and arguments, resets the claim word, bumps
 * SEQ and notifies. The unit range is cut into a few chunks per thread, their sizes one unit apart
 * at most (control.ts chunkStart), which every thread (the main one included) claims one at a time
 * until none is left; workers count the chunks they finish in COMPLETED. Claiming instead of a
 * fixed share per thread matters on a busy machine: a worker that the OS has not scheduled yet
 * claims nothing and holds nobody up (the main thread does its share), and uneven chunks (causal
 * attention) balance themselves. Jobs are strictly one at a time, so kernels need no locking; a
 * kernel that writes shared outputs must be split so that units own disjoint outputs.
 */
import { Worker } from 'node:worker_threads';
import {
  ARGS, AWAKE, chunkStart, CHUNKS, claimChunk, COMPLETED, CTRL, CTRL_WORDS, ERROR, KERNEL, MAX_ARGS, MAX_THREADS, NARGS, NEXT, QUIT, SEQ, SPIN, UNITS,
} from './control.js';
import { KERNEL_NAMES, type KernelName, type KernelTable } from './kernels.js';
import { SplitPolicy, type SplitMode } from './split-policy.js';
import type { WasmMemory, WasmModule } from './wasm.js';

/**
 * Below this much work (elements touched, roughly; multiply-adds for a matmul) a job always runs on
 * the main thread alone: at the cheapest rate per unit (a matmul's ~0.04 ns) that is ~2.6 us, about
 * twice the ~1 us a split costs with spinning workers (docs/benchmarks.md, "Pool"), so no split
 * below it can win. Above it SplitPolicy decides from measured times.
 */
export const PARALLEL_MIN_WORK = 1 << 16;
/** Chunks per thread: enough to even out a late or slow thread, few enough that claims stay cheap. */
export const CHUNKS_PER_THREAD = 4;
const MAIN_SPIN_MS = 2;

const KERNEL_INDEX = new Map<KernelName, number>(KERNEL_NAMES.map((n, i) => [n, i]));

export class ThreadPool {
  readonly threads: number;
  readonly #kernels: KernelTable;
  readonly #workers: Worker[];
  readonly #ctrl: Int32Array;
  readonly #args: Float64Array;
  readonly #policy: SplitPolicy;
  #destroyed = false;

  private constructor(kernels: KernelTable, memory: WasmMemory, workers: Worker[], mode: SplitMode) {
    this.#kernels = kernels;
    this.#policy = new SplitPolicy(KERNEL_NAMES.length, mode);
    this.#workers = workers;
    this.threads = workers.length + 1;
    this.#ctrl = new Int32Array(memory.buffer, CTRL, CTRL_WORDS);
    this.#args = new Float64Array(memory.buffer, ARGS, MAX_ARGS);
  }

  /** Starts threads - 1 workers (the main thread is the last) and waits until each is instantiated. */
  static async create(kernels: KernelTable, module: WasmModule, memory: WasmMemory, threads: number,
    mode: SplitMode = 'auto'): Promise<ThreadPool> {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new Error(`CpuBackend.create: threads must be an integer in [1, ${MAX_THREADS}], got ${threads}`);
    }
    const ctrl = new Int32Array(memory.buffer, CTRL, CTRL_WORDS);
    ctrl.fill(0);
    ctrl[SPIN] = 1;
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let tid = 1; tid < threads; tid++) {
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: { module, memory, tid } });
      // unref: an idle pool must not keep the process alive when the caller forgets destroy().
      w.unref();
      ready.push(new Promise((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
      }));
      workers.push(w);
    }
    await Promise.all(ready);
    return new ThreadPool(kernels, memory, workers, mode);
  }

  /**
   * Runs kernel(...args, start, end, tid) over units [0, units): on the main thread alone, or in
   * chunks claimed by every thread, as SplitPolicy finds faster for this kernel and size of `work`
   * (elements touched, roughly). Either way the result is the same: units own disjoint outputs.
   */
  run(name: KernelName, args: number[], units: number, work: number): void {
    if (this.#destroyed) throw new Error(`CpuBackend.${name}: the backend was destroyed`);
    if (units <= 0) return;
    const kernel = this.#kernels[name];
    if (this.threads === 1 || units === 1 || work < PARALLEL_MIN_WORK) {
      kernel(...args, 0, units, 0);
      return;
    }
    const policy = this.#policy;
    const slot = SplitPolicy.slot(KERNEL_INDEX.get(name)!, work);
    const ctrl = this.#ctrl;
    const split = policy.choose(slot, work, Atomics.load(ctrl, AWAKE) >= this.threads - 1);
    if (!split && policy.waking(slot)) {
      // A split is wanted but the workers sleep: wake them (a notify without a job; they spin while
      // SPIN is 1) and run this one alone, so the split is timed without their wake-up. What this
      // job loses against running alone (a woken worker can take the main thread's core) is charged
      // to exploring the split.
      const t0 = performance.now();
      Atomics.store(ctrl, SPIN, 1);
      Atomics.notify(ctrl, SEQ);
      kernel(...args, 0, units, 0);
      policy.recordWake(slot, (performance.now() - t0) / 1000, work);
      return;
    }
    const timed = policy.wantsTime(slot, split);
    const t0 = timed ? performance.now() : 0;
    if (!split) {
      // Measuring "alone" while splitting is preferred here: stop the idle workers' spinning first,
      // or a spinning worker that takes the main thread's core (a busy machine) makes running
      // alone look slow and splitting keeps being preferred for that reason alone.
      if (timed && policy.splits(slot)) Atomics.store(ctrl, SPIN, 0);
      kernel(...args, 0, units, 0);
      if (timed) policy.record(slot, false, (performance.now() - t0) / 1000, work);
      else policy.skip(slot, false);
      return;
    }
    if (args.length > MAX_ARGS) throw new Error(`CpuBackend.${name}: ${args.length} kernel arguments exceed ${MAX_ARGS}`);
    const chunks = Math.min(units, this.threads * CHUNKS_PER_THREAD);
    this.#args.set(args);
    Atomics.store(ctrl, KERNEL, KERNEL_INDEX.get(name)!);
    Atomics.store(ctrl, NARGS, args.length);
    Atomics.store(ctrl, UNITS, units);
    Atomics.store(ctrl, CHUNKS, chunks);
    Atomics.store(ctrl, COMPLETED, 0);
    Atomics.store(ctrl, ERROR, 0);
    Atomics.store(ctrl, NEXT, chunks << 16);
    Atomics.add(ctrl, SEQ, 1);
    Atomics.notify(ctrl, SEQ);
    let mainError: unknown = null;
    let mine = 0;
    for (let c = claimChunk(ctrl); c >= 0; c = claimChunk(ctrl)) {
      mine++;
      try {
        if (mainError === null) kernel(...args, chunkStart(units, chunks, c), chunkStart(units, chunks, c + 1), 0);
      } catch (e) {
        mainError = e;
      }
    }
    this.#waitWorkers(chunks - mine);
    if (timed) policy.record(slot, true, (performance.now() - t0) / 1000, work);
    else policy.skip(slot, true);
    // Idle workers spin between jobs only while splitting pays here (or is explored again next): on
    // a machine with no core to spare a spinning worker takes CPU time from the main thread.
    Atomics.store(ctrl, SPIN, policy.keepSpinning(slot) ? 1 : 0);
    if (mainError !== null) throw mainError;
    const failed = Atomics.load(ctrl, ERROR);
    if (failed !== 0) throw new Error(`CpuBackend.${name}: the kernel trapped in worker ${failed - 1} (out-of-bounds access?)`);
  }

  /** Waits until workers have finished `need` chunks (those they claimed). */
  #waitWorkers(need: number): void {
    const ctrl = this.#ctrl;
    let spins = 0;
    let t0 = 0;
    for (;;) {
      const done = Atomics.load(ctrl, COMPLETED);
      if (done >= need) return;
      if ((++spins & 255) !== 0) continue;
      if (t0 === 0) t0 = performance.now();
      else if (performance.now() - t0 > MAIN_SPIN_MS) Atomics.wait(ctrl, COMPLETED, done, 10);
    }
  }

  /** Stops and terminates the workers. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    Atomics.store(this.#ctrl, QUIT, 1);
    Atomics.add(this.#ctrl, SEQ, 1);
    Atomics.notify(this.#ctrl, SEQ);
    for (const w of this.#workers) void w.terminate();
  }
}
