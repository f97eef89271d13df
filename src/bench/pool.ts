/**
 * What splitting a job across the pool costs: the round trip of a job that does nothing (chunks of
 * one float, workers spinning, jobs back to back) beside the same call on the main thread, and a
 * fill (a memory-bound kernel at the cheapest work per unit) around the pool's floor
 * (PARALLEL_MIN_WORK) run alone, always split and as the split policy chooses.
 */
import { CpuBackend } from '../backend/cpu/index.js';
import { HEAP_BASE } from '../backend/cpu/control.js';
import { compileKernels, instantiateKernels } from '../backend/cpu/kernels.js';
import { PARALLEL_MIN_WORK, ThreadPool } from '../backend/cpu/pool.js';
import { wasm } from '../backend/cpu/wasm.js';
import { race, round, type RaceOptions } from './timing.js';

export interface PoolResult {
  threads: number;
  /** Microseconds per no-op job: split over every thread, and run by the main thread alone. */
  noop: { splitUs: number; aloneUs: number };
  /** The pool's floor: jobs below this much work never split. */
  minWork: number;
  /** Microseconds per fill of `floats` floats: alone, always split, and with the split policy. */
  fill: { floats: number; aloneUs: number; splitUs: number; autoUs: number }[];
}

export async function benchPool(threads: number, sizes: number[], opts: RaceOptions): Promise<PoolResult> {
  const { module } = await compileKernels('auto');
  const memory = new wasm.Memory({ initial: HEAP_BASE / 65536 + 1, maximum: 65536, shared: true });
  const kernels = instantiateKernels(module, memory);
  const pool = await ThreadPool.create(kernels, module, memory, threads, 'always');
  let noop: PoolResult['noop'];
  try {
    // Work far above the floor forces the split; each of the threads*4 units fills one float.
    const units = threads * 4;
    const [split, alone] = await race([
      { run: () => pool.run('fill', [HEAP_BASE, 0], units, 2 ** 40) },
      { run: () => kernels.fill(HEAP_BASE, 0, 0, units, 0) },
    ], opts);
    noop = { splitUs: round(split! * 1e6, 2), aloneUs: round(alone! * 1e6, 2) };
  } finally {
    pool.destroy();
  }
  const bes = await Promise.all((['never', 'always', 'auto'] as const).map((split) => CpuBackend.create({ threads, split })));
  const fill: PoolResult['fill'] = [];
  try {
    for (const floats of sizes) {
      const bufs = bes.map((be) => be.alloc(floats * 4));
      const secs = await race(bes.map((be, i) => ({ run: () => be.fill(bufs[i]!, floats, 1, 'f32') })), opts);
      fill.push({ floats, aloneUs: round(secs[0]! * 1e6, 2), splitUs: round(secs[1]! * 1e6, 2), autoUs: round(secs[2]! * 1e6, 2) });
      bes.forEach((be, i) => be.free(bufs[i]!));
    }
  } finally {
    for (const be of bes) be.destroy();
  }
  return { threads, noop, minWork: PARALLEL_MIN_WORK, fill };
}
