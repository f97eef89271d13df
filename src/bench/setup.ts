/** The backends a bench run compares: for the CPU, one thread beside the pool; elsewhere, the device alone. */
import os from 'node:os';
import type { Backend, DeviceBuffer } from '../backend/backend.js';
import { CpuBackend, createBackend } from '../backend/index.js';

export interface BackendPair {
  device: string;
  /** The CPU backend on one thread; null for devices without a thread count. */
  one: Backend | null;
  /** The backend as a run would use it (the CPU on `threads` threads). */
  pool: Backend;
  threads: number;
  /** Resolves once every kernel queued on `pool` has run (a no-op on the CPU, which is synchronous). */
  sync: () => Promise<void>;
  destroy: () => void;
}

export async function createPair(device: string, threads: number | undefined): Promise<BackendPair> {
  if (device === 'cpu') {
    const n = threads ?? Math.min(os.availableParallelism(), 8);
    const one = await CpuBackend.create({ threads: 1 });
    const pool = await CpuBackend.create({ threads: n });
    return { device, one, pool, threads: n, sync: () => Promise.resolve(), destroy: () => { one.destroy(); pool.destroy(); } };
  }
  const pool = await createBackend(device, { threads });
  const probe = pool.alloc(4);
  return {
    device, one: null, pool, threads: 1,
    sync: async () => { await pool.read(probe, 'f32', 0, 1); },
    destroy: () => { pool.free(probe); pool.destroy(); },
  };
}

/** A buffer of n uniform values in [-0.5, 0.5). */
export function allocRandom(be: Backend, n: number, scale = 1): DeviceBuffer {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (Math.random() - 0.5) * scale;
  const buf = be.alloc(Math.max(n, 1) * 4);
  be.write(buf, data);
  return buf;
}

/** A buffer of n i32 values in [0, limit). */
export function allocIds(be: Backend, n: number, limit: number): DeviceBuffer {
  const buf = be.alloc(Math.max(n, 1) * 4);
  be.write(buf, Int32Array.from({ length: n }, () => Math.floor(Math.random() * limit)));
  return buf;
}
