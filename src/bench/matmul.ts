/**
 * Matmul throughput, ours on one thread and on the pool beside the peers on the same threads, for
 * every transpose layout the engine issues: NN (x @ W in the demo and tests), NT (a Linear layer:
 * x @ W^T, and dx of x^T-shaped products) and TN (a Linear's weight gradient dW = dy^T @ x).
 */
import type { Backend } from '../backend/backend.js';
import { allocRandom, type BackendPair } from './setup.js';
import type { MatmulPeer, MatmulShape } from './peers.js';
import { race, ratio, round, type Contender, type RaceOptions } from './timing.js';

export type Layout = 'NN' | 'NT' | 'TN';

export interface MatmulRow {
  shape: string;
  layout: Layout;
  m: number;
  n: number;
  k: number;
  /** GFLOP/s by contender: ours_1t, ours_pool, then <peer>_1t, <peer>_pool where the peer has one. */
  gflops: Record<string, number>;
  /** ours / peer on the same threads, and ours / the SIMD FMA peak of the threads used. */
  ratios: Record<string, number | null>;
}

export const BIG_SHAPES: [number, number, number][] = [[256, 4864, 896], [1024, 1024, 1024]];
export const SMALL_SHAPES: [number, number, number][] = [[8, 896, 896], [200, 128, 344], [800, 128, 16]];
export const LAYOUTS: Layout[] = ['NN', 'NT', 'TN'];

function ourContender(be: Backend, s: MatmulShape, sync: () => Promise<void>): Contender & { dispose: () => void } {
  const a = allocRandom(be, s.m * s.k);
  const b = allocRandom(be, s.k * s.n);
  const out = be.alloc(s.m * s.n * 4);
  const args = { batch: 1, m: s.m, n: s.n, k: s.k, transA: s.transA, transB: s.transB, aBatchStride: 0, bBatchStride: 0, accumulate: false };
  return {
    run: () => be.matmul(a, b, out, args),
    sync,
    dispose: () => { for (const x of [a, b, out]) be.free(x); },
  };
}

export async function benchMatmul(pair: BackendPair, peers: MatmulPeer[], shapes: [number, number, number][], peakPerCore: number | null,
  opts: RaceOptions): Promise<MatmulRow[]> {
  const rows: MatmulRow[] = [];
  for (const [m, n, k] of shapes) {
    for (const layout of LAYOUTS) {
      const s: MatmulShape = { m, n, k, transA: layout === 'TN', transB: layout === 'NT' };
      const names: string[] = [];
      const contenders: (Contender & { dispose: () => void })[] = [];
      const add = (name: string, c: (Contender & { dispose: () => void }) | null): void => {
        if (c) {
          names.push(name);
          contenders.push(c);
        }
      };
      if (pair.one) add('ours_1t', ourContender(pair.one, s, pair.sync));
      add('ours_pool', ourContender(pair.pool, s, pair.sync));
      for (const p of peers) {
        add(`${p.name}_1t`, await p.prepare(s, 1));
        if (pair.threads > 1) add(`${p.name}_pool`, await p.prepare(s, pair.threads));
      }
      const secs = await race(contenders, opts);
      for (const c of contenders) c.dispose();
      const gflops: Record<string, number> = {};
      names.forEach((name, i) => { gflops[name] = round((2 * m * n * k) / secs[i]! / 1e9, 2); });
      const ratios: Record<string, number | null> = {};
      for (const p of peers) {
        ratios[`ours_1t/${p.name}_1t`] = ratio(gflops['ours_1t'], gflops[`${p.name}_1t`]);
        if (pair.threads > 1) ratios[`ours_pool/${p.name}_pool`] = ratio(gflops['ours_pool'], gflops[`${p.name}_pool`]);
      }
      if (peakPerCore) {
        ratios['ours_1t/peak'] = ratio(gflops['ours_1t'], peakPerCore);
        ratios['ours_pool/peak'] = ratio(gflops['ours_pool'], peakPerCore * pair.threads);
      }
      ratios['ours_pool/ours_1t'] = ratio(gflops['ours_pool'], gflops['ours_1t']);
      rows.push({ shape: `${m}x${n}x${k}`, layout, m, n, k, gflops, ratios });
    }
  }
  return rows;
}
