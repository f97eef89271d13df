/**
 * A pool worker: instantiates the kernels on the shared memory, then loops forever, spinning on the
 * control block's SEQ word for the next job (a sleeping thread takes 0.1-0.7 ms to wake, a spinning
 * one about a microsecond) and falling back to Atomics.wait after IDLE_MS without work, so an idle
 * process does not burn a core. See pool.ts for the protocol.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ARGS, AWAKE, chunkStart, CHUNKS, claimChunk, COMPLETED, CTRL, CTRL_WORDS, ERROR, KERNEL, MAX_ARGS, NARGS, QUIT, SEQ, SPIN, UNITS } from './control.js';
import { enableRelaxedSimd, instantiateKernels, KERNEL_NAMES } from './kernels.js';
import type { WasmMemory, WasmModule } from './wasm.js';

interface WorkerInit {
  module: WasmModule;
  memory: WasmMemory;
  tid: number;
}

const IDLE_MS = 5;

const { module, memory, tid } = workerData as WorkerInit;
enableRelaxedSimd();
const kernels = instantiateKernels(module, memory);
const ctrl = new Int32Array(memory.buffer, CTRL, CTRL_WORDS);
const args = new Float64Array(memory.buffer, ARGS, MAX_ARGS);

// Jobs are counted from 0: none is published before every worker has said it is ready.
let seen = 0;
Atomics.add(ctrl, AWAKE, 1);
parentPort?.postMessage('ready');
for (;;) {
  let idleSince = performance.now();
  let spins = 0;
  while (Atomics.load(ctrl, SEQ) === seen) {
    if ((++spins & 1023) !== 0) continue;
    // The pool turns spinning off while it finds the machine too busy for it (see ThreadPool.run).
    if (Atomics.load(ctrl, SPIN) === 0 || performance.now() - idleSince > IDLE_MS) {
      Atomics.sub(ctrl, AWAKE, 1);
      // The main thread also notifies without a job to wake the workers ahead of a split it wants
      // to time (ThreadPool.run): then the loop goes on spinning while SPIN is 1.
      Atomics.wait(ctrl, SEQ, seen);
      Atomics.add(ctrl, AWAKE, 1);
      idleSince = performance.now();
    }
  }
  seen = Atomics.load(ctrl, SEQ);
  if (Atomics.load(ctrl, QUIT) !== 0) break;
  // Parameters are read after a successful claim: the job cannot finish (and be replaced) while a
  // claimed chunk is unfinished, so they belong to the job the chunk came from.
  for (let c = claimChunk(ctrl); c >= 0; c = claimChunk(ctrl)) {
    const units = Atomics.load(ctrl, UNITS);
    const chunks = Atomics.load(ctrl, CHUNKS);
    try {
      const call = Array.prototype.slice.call(args, 0, Atomics.load(ctrl, NARGS)) as number[];
      kernels[KERNEL_NAMES[Atomics.load(ctrl, KERNEL)]!](...call, chunkStart(units, chunks, c), chunkStart(units, chunks, c + 1), tid);
    } catch {
      Atomics.store(ctrl, ERROR, tid + 1);
    }
    Atomics.add(ctrl, COMPLETED, 1);
    Atomics.notify(ctrl, COMPLETED);
  }
}
