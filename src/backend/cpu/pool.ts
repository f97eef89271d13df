/**
 * The worker-thread pool. A job is published through the control block in shared memory (see
 * control.ts): the main thread writes the kernel index and arguments, resets DONE, bumps SEQ and
 * notifies; every worker wakes (or sees SEQ change while spinning), runs its chunk of the unit
 * range, increments DONE. The main thread runs chunk 0 itself, then spins (and eventually waits)
 * until DONE counts every worker. Jobs are strictly one at a time, so kernels need no locking; a
 * kernel that writes shared outputs must be split so that units own disjoint outputs.
 */
import { Worker } from 'node:worker_threads';
import { ARGS, CHUNK, CTRL, CTRL_WORDS, DONE, ERROR, KERNEL, MAX_ARGS, MAX_THREADS, NARGS, QUIT, SEQ, UNITS } from './control.js';
import { KERNEL_NAMES, type KernelName, type KernelTable } from './kernels.js';
import type { WasmMemory, WasmModule } from './wasm.js';

/** Below this much work (elements touched, roughly) a job runs on the main thread alone. */
export const PARALLEL_MIN_WORK = 1 << 15;
const MAIN_SPIN_MS = 2;

export class ThreadPool {
  readonly threads: number;
  readonly #kernels: KernelTable;
  readonly #workers: Worker[];
  readonly #ctrl: Int32Array;
  readonly #args: Float64Array;
  #destroyed = false;

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
   * Runs kernel(...args, start, end, tid) over units [0, units), split into one contiguous chunk per
   * thread when `work` (elements touched, roughly) justifies waking the workers.
   */
  run(name: KernelName, args: number[], units: number, work: number): void {
    if (this.#destroyed) throw new Error(`CpuBackend.${name}: the backend was destroyed`);
    if (units <= 0) return;
    const kernel = this.#kernels[name];
    if (this.threads === 1 || units === 1 || work < PARALLEL_MIN_WORK) {
      kernel(...args, 0, units, 0);
      return;
    }
    if (args.length > MAX_ARGS) throw new Error(`CpuBackend.${name}: ${args.length} kernel arguments exceed ${MAX_ARGS}`);
    const ctrl = this.#ctrl;
    const chunk = Math.ceil(units / this.threads);
    this.#args.set(args);
    Atomics.store(ctrl, KERNEL, KERNEL_NAMES.indexOf(name));
    Atomics.store(ctrl, NARGS, args.length);
    Atomics.store(ctrl, UNITS, units);
    Atomics.store(ctrl, CHUNK, chunk);
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, ERROR, 0);
    Atomics.add(ctrl, SEQ, 1);
    Atomics.notify(ctrl, SEQ);
    let mainError: unknown = null;
    try {
      kernel(...args, 0, Math.min(units, chunk), 0);
    } catch (e) {
      mainError = e;
    }
    this.#waitWorkers();
    if (mainError !== null) throw mainError;
    const failed = Atomics.load(ctrl, ERROR);
    if (failed !== 0) throw new Error(`CpuBackend.${name}: the kernel trapped in worker ${failed - 1} (out-of-bounds access?)`);
  }

  #waitWorkers(): void {
    const ctrl = this.#ctrl;
    const need = this.threads - 1;
    let spins = 0;
    let t0 = 0;
    for (;;) {
      const done = Atomics.load(ctrl, DONE);
      if (done >= need) return;
      if ((++spins & 255) !== 0) continue;
      if (t0 === 0) t0 = performance.now();
      else if (performance.now() - t0 > MAIN_SPIN_MS) Atomics.wait(ctrl, DONE, done, 10);
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
