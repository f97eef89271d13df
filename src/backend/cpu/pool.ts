/**
 * The worker-thread pool. A job is published through the control block in shared memory (see
 * control.ts): the main thread writes the kernel index and arguments, resets the claim word, bumps
 * SEQ and notifies. The unit range is cut into a few chunks per thread, which every thread (the
 * main one included) claims one at a time until none is left; workers count the chunks they finish
 * in COMPLETED. Claiming instead of a fixed share per thread matters on a busy machine: a worker
 * that the OS has not scheduled yet claims nothing and holds nobody up (the main thread does its
 * share), and uneven chunks (causal attention) balance themselves. Jobs are strictly one at a time,
 * so kernels need no locking; a kernel that writes shared outputs must be split so that units own
 * disjoint outputs.
 */
import { Worker } from 'node:worker_threads';
import {
  ARGS, CHUNK, claimChunk, COMPLETED, CTRL, CTRL_WORDS, ERROR, KERNEL, MAX_ARGS, MAX_THREADS, NARGS, NEXT, QUIT, SEQ, SPIN, UNITS,
} from './control.js';
import { KERNEL_NAMES, type KernelName, type KernelTable } from './kernels.js';
import type { WasmMemory, WasmModule } from './wasm.js';

/** Below this much work (elements touched, roughly) a job runs on the main thread alone. */
export const PARALLEL_MIN_WORK = 1 << 15;
/** The most the threshold rises to while the workers lag (see ThreadPool.run). */
const MAX_MIN_WORK = 1 << 30;
/**
 * While the threshold is raised, a job below it still splits once per this many ms, to see whether
 * the workers keep up again. Rare on purpose: each split wakes the workers, and a woken worker spins
 * for a few ms, taking a core the main thread may need on a busy machine.
 */
const PROBE_MS = 200;
/** Chunks per thread: enough to even out a late or slow thread, few enough that claims stay cheap. */
const CHUNKS_PER_THREAD = 4;
const MAIN_SPIN_MS = 2;

export class ThreadPool {
  readonly threads: number;
  readonly #kernels: KernelTable;
  readonly #workers: Worker[];
  readonly #ctrl: Int32Array;
  readonly #args: Float64Array;
  #destroyed = false;
  /** The current split threshold: PARALLEL_MIN_WORK, raised while splitting costs more than it saves. */
  #minWork = PARALLEL_MIN_WORK;
  #lastProbe = 0;

  private constructor(kernels: KernelTable, memory: WasmMemory, workers: Worker[]) {
    this.#kernels = kernels;
    this.#workers = workers;
    this.threads = workers.length + 1;
    this.#ctrl = new Int32Array(memory.buffer, CTRL, CTRL_WORDS);
    this.#args = new Float64Array(memory.buffer, ARGS, MAX_ARGS);
  }

  /** Starts threads - 1 workers (the main thread is the last) and waits until each is instantiated. */
  static async create(kernels: KernelTable, module: WasmModule, memory: WasmMemory, threads: number): Promise<ThreadPool> {
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
    return new ThreadPool(kernels, memory, workers);
  }

  /**
   * Runs kernel(...args, start, end, tid) over units [0, units), in chunks claimed by every thread
   * when `work` (elements touched, roughly) justifies waking the workers.
   *
   * The threshold adapts. When the main thread, done with its chunks, waits longer for the workers
   * than it worked itself, the split was slower than running alone (the workers were descheduled on
   * a busy machine, or woke late), so the threshold doubles; a split that pays halves it back toward
   * PARALLEL_MIN_WORK, and an occasional probe below a raised threshold lets it come down again.
   * While it is raised the workers also stop spinning between jobs: on a machine with no core to
   * spare, a spinning worker takes CPU time from the main thread. Together these keep the pool no
   * slower than one thread on small jobs however loaded the machine is.
   */
  run(name: KernelName, args: number[], units: number, work: number): void {
    if (this.#destroyed) throw new Error(`CpuBackend.${name}: the backend was destroyed`);
    if (units <= 0) return;
    const kernel = this.#kernels[name];
    if (this.threads === 1 || units === 1 || work < PARALLEL_MIN_WORK
      || (work < this.#minWork && !this.#probe())) {
      kernel(...args, 0, units, 0);
      return;
    }
    if (args.length > MAX_ARGS) throw new Error(`CpuBackend.${name}: ${args.length} kernel arguments exceed ${MAX_ARGS}`);
    const ctrl = this.#ctrl;
    const chunk = Math.ceil(units / Math.min(units, this.threads * CHUNKS_PER_THREAD));
    const chunks = Math.ceil(units / chunk);
    this.#args.set(args);
    Atomics.store(ctrl, KERNEL, KERNEL_NAMES.indexOf(name));
    Atomics.store(ctrl, NARGS, args.length);
    Atomics.store(ctrl, UNITS, units);
    Atomics.store(ctrl, CHUNK, chunk);
    Atomics.store(ctrl, COMPLETED, 0);
    Atomics.store(ctrl, ERROR, 0);
    Atomics.store(ctrl, NEXT, chunks << 16);
    Atomics.add(ctrl, SEQ, 1);
    Atomics.notify(ctrl, SEQ);
    let mainError: unknown = null;
    let mine = 0;
    const t0 = performance.now();
    for (let c = claimChunk(ctrl); c >= 0; c = claimChunk(ctrl)) {
      mine++;
      try {
        if (mainError === null) kernel(...args, c * chunk, Math.min(units, (c + 1) * chunk), 0);
      } catch (e) {
        mainError = e;
      }
    }
    const t1 = performance.now();
    this.#waitWorkers(chunks - mine);
    const waited = performance.now() - t1;
    if (waited > t1 - t0) this.#minWork = Math.min(MAX_MIN_WORK, Math.max(this.#minWork, work) * 2);
    else if (this.#minWork > PARALLEL_MIN_WORK) this.#minWork = Math.max(PARALLEL_MIN_WORK, this.#minWork / 2);
    Atomics.store(ctrl, SPIN, this.#minWork === PARALLEL_MIN_WORK ? 1 : 0);
    if (mainError !== null) throw mainError;
    const failed = Atomics.load(ctrl, ERROR);
    if (failed !== 0) throw new Error(`CpuBackend.${name}: the kernel trapped in worker ${failed - 1} (out-of-bounds access?)`);
  }

  /** True (and restarts the clock) once PROBE_MS have passed since the last probe. */
  #probe(): boolean {
    const now = performance.now();
    if (now - this.#lastProbe < PROBE_MS) return false;
    this.#lastProbe = now;
    return true;
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
