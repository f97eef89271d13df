/**
 * Memory-bound kernels (RMSNorm, softmax, log-prob/entropy, forward and backward) in GB/s of their
 * ideal traffic (each input read once, each output written once), beside a plain copy of the same
 * size on the same threads: the copy is the bandwidth this machine gives a kernel, so the ratio
 * says how close each kernel runs to it.
 */
import type { Backend, DeviceBuffer } from '../backend/backend.js';
import { allocIds, allocRandom, type BackendPair } from './setup.js';
import { race, ratio, round, type Contender, type RaceOptions } from './timing.js';

export interface FusedRow {
  kernel: string;
  /** Rows x columns of the main operand. */
  shape: string;
  /** Ideal bytes moved per call. */
  bytes: number;
  gbs: Record<string, number>;
  /** GB/s over the copy's GB/s at the same size and threads. */
  ofCopy: Record<string, number | null>;
}

interface Case {
  kernel: string;
  rows: number;
  cols: number;
  /** Ideal traffic in units of rows*cols floats. */
  passes: number;
  make: (be: Backend) => { run: () => void; bufs: DeviceBuffer[] };
}

function cases(rows: number, dim: number, lpRows: number, vocab: number): Case[] {
  const e = rows * dim;
  const norm = (be: Backend): DeviceBuffer[] => [allocRandom(be, e), allocRandom(be, dim), be.alloc(e * 4), be.alloc(rows * 4)];
  return [
    {
      kernel: 'copy', rows, cols: dim, passes: 2,
      make: (be) => {
        const bufs = [allocRandom(be, e), be.alloc(e * 4)];
        return { bufs, run: () => be.copyStrided({ buf: bufs[0]!, offset: 0, strides: [1] }, { buf: bufs[1]!, offset: 0, strides: [1] }, [e], false) };
      },
    },
    {
      kernel: 'rmsnorm fwd', rows, cols: dim, passes: 2,
      make: (be) => {
        const [x, w, out, rstd] = norm(be) as [DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer];
        return { bufs: [x, w, out, rstd], run: () => be.rmsnorm(x, w, out, rstd, rows, dim, 1e-6) };
      },
    },
    {
      kernel: 'rmsnorm bwd', rows, cols: dim, passes: 3,
      make: (be) => {
        const [x, w, out, rstd] = norm(be) as [DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer];
        be.rmsnorm(x, w, out, rstd, rows, dim, 1e-6);
        const dx = be.alloc(e * 4), dw = be.alloc(dim * 4);
        return { bufs: [x, w, out, rstd, dx, dw], run: () => be.rmsnormBackward(out, x, w, rstd, dx, dw, rows, dim) };
      },
    },
    {
      kernel: 'softmax fwd', rows, cols: dim, passes: 2,
      make: (be) => {
        const x = allocRandom(be, e), y = be.alloc(e * 4);
        return { bufs: [x, y], run: () => be.softmax(x, y, rows, dim) };
      },
    },
    {
      kernel: 'softmax bwd', rows, cols: dim, passes: 3,
      make: (be) => {
        const x = allocRandom(be, e), y = be.alloc(e * 4), dy = allocRandom(be, e), dx = be.alloc(e * 4);
        be.softmax(x, y, rows, dim);
        return { bufs: [x, y, dy, dx], run: () => be.softmaxBackward(y, dy, dx, rows, dim) };
      },
    },
    {
      kernel: 'logprobEntropy fwd', rows: lpRows, cols: vocab, passes: 1,
      make: (be) => {
        const lg = allocRandom(be, lpRows * vocab, 8), ids = allocIds(be, lpRows, vocab);
        const lp = be.alloc(lpRows * 4), ent = be.alloc(lpRows * 4), lse = be.alloc(lpRows * 4);
        return { bufs: [lg, ids, lp, ent, lse], run: () => be.logprobEntropy(lg, ids, lp, ent, lse, lpRows, vocab, 1) };
      },
    },
    {
      kernel: 'logprobEntropy bwd', rows: lpRows, cols: vocab, passes: 2,
      make: (be) => {
        const lg = allocRandom(be, lpRows * vocab, 8), ids = allocIds(be, lpRows, vocab);
        const lp = be.alloc(lpRows * 4), ent = be.alloc(lpRows * 4), lse = be.alloc(lpRows * 4);
        be.logprobEntropy(lg, ids, lp, ent, lse, lpRows, vocab, 1);
        const dlp = allocRandom(be, lpRows), dent = allocRandom(be, lpRows), dlg = be.alloc(lpRows * vocab * 4);
        return {
          bufs: [lg, ids, lp, ent, lse, dlp, dent, dlg],
          run: () => be.logprobEntropyBackward(lg, ids, lse, ent, dlp, dent, dlg, lpRows, vocab, 1),
        };
      },
    },
  ];
}

/** rows x dim for the norms and softmax, lpRows x vocab for the log-prob kernels. */
export async function benchFused(pair: BackendPair, sizes: { rows: number; dim: number; lpRows: number; vocab: number },
  opts: RaceOptions): Promise<FusedRow[]> {
  const backends: [string, Backend][] = pair.one ? [['1t', pair.one], ['pool', pair.pool]] : [['pool', pair.pool]];
  const rows: FusedRow[] = [];
  const copyGbs: Record<string, number> = {};
  for (const c of cases(sizes.rows, sizes.dim, sizes.lpRows, sizes.vocab)) {
    const bytes = c.passes * c.rows * c.cols * 4;
    const made = backends.map(([, be]) => c.make(be));
    const contenders: Contender[] = made.map((m) => ({ run: m.run, sync: pair.sync }));
    const secs = await race(contenders, opts);
    backends.forEach(([, be], i) => { for (const b of made[i]!.bufs) be.free(b); });
    const gbs: Record<string, number> = {};
    backends.forEach(([name], i) => { gbs[name] = round(bytes / secs[i]! / 1e9, 2); });
    if (c.kernel === 'copy') Object.assign(copyGbs, gbs);
    const ofCopy: Record<string, number | null> = {};
    for (const [name] of backends) ofCopy[name] = ratio(gbs[name], copyGbs[name]);
    rows.push({ kernel: c.kernel, shape: `${c.rows}x${c.cols}`, bytes, gbs, ofCopy });
  }
  return rows;
}
