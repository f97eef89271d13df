/**
 * A draw worker of init-model (init-weights.ts): fills a job's shared buffer with a part of one
 * tensor's bytes (init-draw.ts) and raises its flag (1 done, 2 failed); the main thread writes the
 * tensors in file order.
 */
import { parentPort } from 'node:worker_threads';
import { drawNormal, type DrawJob } from './init-draw.js';

parentPort!.on('message', (job: DrawJob) => {
  const flag = new Int32Array(job.flag);
  let state = 1;
  try {
    const out = new Uint8Array(job.out);
    drawNormal(job.seed, job.std, job.start, job.count, job.dtype, (bytes, offset) => out.set(bytes, offset));
  } catch (e) {
    // The main thread is blocked on the flag: say it here, and let 2 tell it to stop.
    console.error(`init-model: a draw worker failed: ${(e as Error).message}`);
    state = 2;
  }
  Atomics.store(flag, 0, state);
  Atomics.notify(flag, 0);
});
