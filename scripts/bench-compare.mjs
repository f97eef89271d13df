// Before/after of the CPU backend, side by side in one process: two builds (their dist/src folders),
// each on 1 thread and on the pool, timed in interleaved rounds (src/bench/timing.js). Prints GFLOP/s
// (attention, matmul) and GB/s of ideal traffic (the memory-bound kernels, as src/bench/fused.ts
// counts it), and new/old on 1 thread and on the pool: the median over rounds of the speedup within a
// round, with its 95% confidence interval (pairedSpeedupText; an interval holding 1 means this
// run does not tell the builds apart). --only attention|matmul|fused runs one section.
// Usage: git worktree add /tmp/old <commit> && (cd /tmp/old && ln -s "$PWD/node_modules" . && npm run build)
//        node scripts/bench-compare.mjs /tmp/old/dist/src dist/src [--threads 2] [--only SECTION] [--rounds 5]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [oldRoot, newRoot] = process.argv.slice(2, 4).map((p) => pathToFileURL(resolve(p)).href);
if (!oldRoot || !newRoot) {
  console.error('usage: node scripts/bench-compare.mjs OLD_DIST_SRC NEW_DIST_SRC [--threads N]');
  process.exit(2);
}
const ti = process.argv.indexOf('--threads');
const threads = ti > 0 ? Number(process.argv[ti + 1]) : 2;
const oi = process.argv.indexOf('--only');
const only = oi > 0 ? process.argv[oi + 1] : null;
const want = (section) => only === null || only === section;
const { pairedSpeedupText, raceRounds } = await import(`${newRoot}/bench/timing.js`);
const builds = [];
for (const [tag, root] of [['old', oldRoot], ['new', newRoot]]) {
  const { CpuBackend } = await import(`${root}/backend/cpu/index.js`);
  builds.push([`${tag}_1t`, await CpuBackend.create({ threads: 1 })], [`${tag}_pool`, await CpuBackend.create({ threads })]);
}
const rnd = (be, n) => {
  const b = be.alloc(n * 4);
  be.write(b, Float32Array.from({ length: n }, () => Math.random() - 0.5));
  return b;
};
const ri = process.argv.indexOf('--rounds');
// 5 rounds: the interval is the smallest and largest speedup (94% coverage); 9 or more narrow it.
const opts = { rounds: ri > 0 ? Number(process.argv[ri + 1]) : 5, minMs: 100 };
// builds: old_1t, old_pool, new_1t, new_pool.
/** Times one contender per build; prints each build's rate (amount per second of its best round, in G) and new/old. */
async function show(label, amount, contenders) {
  const rounds = await raceRounds(contenders, opts);
  const rates = builds.map(([n], i) => `${n} ${(amount / Math.min(...rounds[i]) / 1e9).toFixed(2)}`).join('  ');
  console.log(`${label}: ${rates}  new/old 1t ${pairedSpeedupText(rounds, 2, 0)} pool ${pairedSpeedupText(rounds, 3, 1)}`);
}

for (const s of !want('attention') ? [] : [{ B: 8, T: 48, H: 4, Hkv: 4, D: 32 }, { B: 1, T: 512, H: 14, Hkv: 2, D: 64 }, { B: 1, T: 512, H: 8, Hkv: 1, D: 64 }]) {
  const pairs = s.B * s.H * s.T * (s.T + 1) / 2;
  const calls = builds.map(([, be]) => {
    const qe = s.B * s.T * s.H * s.D, kve = s.B * s.T * s.Hkv * s.D;
    const q = rnd(be, qe), k = rnd(be, kve), v = rnd(be, kve), dO = rnd(be, qe);
    const out = be.alloc(qe * 4), lse = be.alloc(s.B * s.H * s.T * 4), dq = be.alloc(qe * 4), dk = be.alloc(kve * 4), dv = be.alloc(kve * 4);
    const args = { B: s.B, Tq: s.T, H: s.H, Hkv: s.Hkv, D: s.D, pastLen: 0, kvBatchStride: s.T * s.Hkv * s.D, scale: 1 / Math.sqrt(s.D) };
    be.attention(q, k, v, null, out, lse, args);
    return {
      fwd: { run: () => be.attention(q, k, v, null, out, lse, args) },
      bwd: { run: () => be.attentionBackward(q, k, v, null, out, lse, dO, dq, dk, dv, args) },
    };
  });
  const name = `B=${s.B} T=${s.T} H=${s.H} Hkv=${s.Hkv} D=${s.D}`;
  await show(`attention fwd ${name} (GFLOP/s)`, 4 * s.D * pairs, calls.map((c) => c.fwd));
  await show(`attention bwd ${name} (GFLOP/s)`, 10 * s.D * pairs, calls.map((c) => c.bwd));
}
for (const [m, n, k] of !want('matmul') ? [] : [[1024, 1024, 1024], [256, 4864, 896], [8, 896, 896], [200, 128, 344], [800, 128, 16]]) {
  for (const layout of ['NN', 'NT', 'TN']) {
    const cs = builds.map(([, be]) => {
      const a = rnd(be, m * k), b = rnd(be, k * n), o = be.alloc(m * n * 4);
      const args = { batch: 1, m, n, k, transA: layout === 'TN', transB: layout === 'NT', aBatchStride: 0, bBatchStride: 0, accumulate: false };
      return { run: () => be.matmul(a, b, o, args) };
    });
    await show(`matmul ${m}x${n}x${k} ${layout} (GFLOP/s)`, 2 * m * n * k, cs);
  }
}
if (want('fused')) {
  // The memory-bound kernels at the bench's sizes; bytes = each input read once, each output written once.
  const [rows, dim, lpRows, vocab] = [4096, 1024, 128, 32768];
  const e = rows * dim, lpe = lpRows * vocab;
  const ids = (be) => {
    const b = be.alloc(lpRows * 4);
    be.write(b, Int32Array.from({ length: lpRows }, () => Math.floor(Math.random() * vocab)));
    return b;
  };
  const kernels = [
    ['copy', 8 * e, (be) => { const x = rnd(be, e), y = be.alloc(e * 4); return () => be.copyStrided({ buf: x, offset: 0, strides: [1] }, { buf: y, offset: 0, strides: [1] }, [e], false); }],
    ['rmsnorm fwd', 8 * e, (be) => {
      const x = rnd(be, e), w = rnd(be, dim), y = be.alloc(e * 4), r = be.alloc(rows * 4);
      return () => be.rmsnorm(x, w, y, r, rows, dim, 1e-6);
    }],
    ['rmsnorm bwd', 12 * e, (be) => {
      const x = rnd(be, e), w = rnd(be, dim), y = be.alloc(e * 4), r = be.alloc(rows * 4), dx = be.alloc(e * 4), dw = rnd(be, dim);
      be.rmsnorm(x, w, y, r, rows, dim, 1e-6);
      return () => be.rmsnormBackward(y, x, w, r, dx, dw, rows, dim);
    }],
    ['softmax fwd', 8 * e, (be) => { const x = rnd(be, e), y = be.alloc(e * 4); return () => be.softmax(x, y, rows, dim); }],
    ['softmax bwd', 12 * e, (be) => {
      const x = rnd(be, e), y = be.alloc(e * 4), dy = rnd(be, e), dx = be.alloc(e * 4);
      be.softmax(x, y, rows, dim);
      return () => be.softmaxBackward(y, dy, dx, rows, dim);
    }],
    ['logprobEntropy fwd', 4 * lpe, (be) => {
      const z = rnd(be, lpe), id = ids(be), lp = be.alloc(lpRows * 4), ent = be.alloc(lpRows * 4), lse = be.alloc(lpRows * 4);
      return () => be.logprobEntropy(z, id, lp, ent, lse, lpRows, vocab, 1);
    }],
    ['logprobEntropy bwd', 8 * lpe, (be) => {
      const z = rnd(be, lpe), id = ids(be), lp = be.alloc(lpRows * 4), ent = be.alloc(lpRows * 4), lse = be.alloc(lpRows * 4);
      const dl = rnd(be, lpRows), de = rnd(be, lpRows), dz = be.alloc(lpe * 4);
      be.logprobEntropy(z, id, lp, ent, lse, lpRows, vocab, 1);
      return () => be.logprobEntropyBackward(z, id, lse, ent, dl, de, dz, lpRows, vocab, 1);
    }],
  ];
  for (const [name, bytes, make] of kernels) {
    await show(`${name} (GB/s)`, bytes, builds.map(([, be]) => ({ run: make(be) })));
  }
}
for (const [, be] of builds) be.destroy();
