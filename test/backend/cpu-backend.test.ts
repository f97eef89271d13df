// Every CpuBackend kernel against ReferenceBackend on seeded random inputs: odd sizes, size-1
// axes, broadcasts, strided and transposed views, GQA attention with a KV cache, and shapes large
// enough that the work is split across the worker pool.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionArgs, Backend, BinaryOp, DeviceBuffer, MatmulArgs, UnaryOp } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { Rng } from '../helpers/rng.js';
import { assertSame, packedKeyStart, runCase, VARLEN_ATTENTION_CONFIGS, varlenAttentionCase } from './cpu-harness.js';

let cpu: CpuBackend;
const ref = new ReferenceBackend();
const rng = new Rng(1234);

before(async () => {
  cpu = await CpuBackend.create({ threads: 2 });
});
after(() => cpu.destroy());

const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);
const positive = (n: number): Float32Array => Float32Array.from({ length: n }, () => 0.05 + rng.uniform() * 3);
const ints = (n: number, max: number): Int32Array => Int32Array.from({ length: n }, () => rng.int(max));
const dense = (shape: number[]): number[] => {
  const s: number[] = [];
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
};

describe('element-wise', () => {
  test('fill writes f32 values and i32 bit patterns', () => {
    for (const n of [1, 3, 4, 37, 70001]) {
      const f = cpu.alloc(n * 4);
      cpu.fill(f, n, -2.5, 'f32');
      assert.ok((cpu.readSync(f, 'f32', 0, n) as Float32Array).every((v) => v === -2.5));
      cpu.fill(f, n, 123456789, 'i32');
      assert.ok((cpu.readSync(f, 'i32', 0, n) as Int32Array).every((v) => v === 123456789));
      cpu.free(f);
    }
  });

  const unaryOps: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'silu', 'sigmoid', 'abs', 'sign', 'square',
    'reciprocal', 'siluGrad', 'affine', 'clamp', 'inRange'];
  for (const op of unaryOps) {
    test(`unary ${op}`, () => {
      for (const n of [1, 3, 4, 9, 1001, 100_003]) {
        const x = ['log', 'sqrt', 'rsqrt'].includes(op) ? positive(n) : rng.floats(n, 3);
        if (op === 'sign' && n > 3) x[2] = 0;
        assertSame(cpu, ref, `${op} n=${n}`, {
          inputs: { x }, outputs: { out: n }, compare: ['out'],
          call: (be, b) => be.unary(op, b.x!, b.out!, n, -0.7, 1.3),
        });
      }
    });
  }

  test('swiglu and its backward: the reference within rounding, the separate kernels bit for bit', () => {
    for (const n of [1, 3, 4, 9, 1001, 100_003]) {
      const c = {
        inputs: { g: rng.floats(n, 4), u: rng.floats(n, 2), d: rng.floats(n, 1) }, outputs: { out: n, dg: n, du: n, s: n, t: n, sg: n },
        compare: ['out', 'dg', 'du'],
        call: (be: Backend, b: Record<string, DeviceBuffer>) => {
          be.swiglu(b.g!, b.u!, b.out!, n);
          be.swigluBackward(b.g!, b.u!, b.d!, b.dg!, b.du!, n);
        },
      };
      assertSame(cpu, ref, `swiglu n=${n}`, c);
      // What the tensor layer ran before: silu, mul; mul(dOut, up) times siluGrad, dOut times silu.
      const dense = (buf: DeviceBuffer) => ({ buf, offset: 0, strides: [1] });
      const got = runCase(cpu, c);
      const plain = runCase(cpu, {
        ...c,
        call: (be, b) => {
          be.unary('silu', b.g!, b.s!, n, 0, 0);
          be.binary('mul', dense(b.s!), dense(b.u!), b.out!, [n]);
          be.binary('mul', dense(b.d!), dense(b.u!), b.t!, [n]);
          be.unary('siluGrad', b.g!, b.sg!, n, 0, 0);
          be.binary('mul', dense(b.t!), dense(b.sg!), b.dg!, [n]);
          be.binary('mul', dense(b.d!), dense(b.s!), b.du!, [n]);
        },
      });
      for (const name of ['out', 'dg', 'du']) assert.deepEqual(got[name], plain[name], `swiglu n=${n}: ${name}`);
    }
  });

  const binaryOps: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'gt', 'ge'];
  // [shape, aStrides, bStrides, aLen, bLen, aOffset, bOffset]
  const layouts: [number[], number[], number[], number, number, number, number][] = [
    [[7, 13], [13, 1], [13, 1], 91, 91, 0, 0], // contiguous, same shape
    [[7, 13], [13, 1], [0, 0], 91, 1, 0, 0], // scalar broadcast
    [[5, 9], [1, 0], [0, 1], 5, 9, 0, 0], // outer product broadcast
    [[6, 5], [1, 6], [5, 1], 30, 30, 0, 0], // transposed a
    [[1, 3, 1, 7], [21, 7, 7, 1], [0, 0, 0, 1], 21, 7, 0, 0], // size-1 axes
    [[2, 3, 2, 3, 2], [36, 12, 6, 2, 1], [0, 1, 0, 3, 0], 80, 9, 8, 0], // rank 5 with offset
    [[300, 1001], [1001, 1], [0, 1], 300 * 1001, 1001, 0, 0], // big: split across threads
    [[4, 5], [10, 2], [5, 1], 45, 25, 3, 5], // strided with offsets
  ];
  for (const op of binaryOps) {
    test(`binary ${op}`, () => {
      for (const [shape, as, bs, an, bn, ao, bo] of layouts) {
        const a = rng.floats(an + ao, 2);
        const bdata = op === 'div' ? positive(bn + bo) : rng.floats(bn + bo, 2);
        // Exact ties exercise eq/ge/maximum.
        if (op === 'eq' || op === 'ge' || op === 'maximum') for (let i = 0; i < Math.min(an, bn); i += 3) a[ao + i] = bdata[bo + i]!;
        assertSame(cpu, ref, `${op} [${shape}]`, {
          inputs: { a, b: bdata }, outputs: { out: prod(shape) }, compare: ['out'],
          call: (be, b) => be.binary(op, { buf: b.a!, offset: ao, strides: as }, { buf: b.b!, offset: bo, strides: bs }, b.out!, shape),
        });
      }
    });
  }

  test('where with broadcast condition', () => {
    for (const [shape, cs] of [[[4, 7], [1, 0]], [[3, 1, 5], [0, 0, 1]], [[200, 333], [333, 1]]] as [number[], number[]][]) {
      const cn = prod(shape);
      const cond = Float32Array.from({ length: cn }, () => (rng.uniform() < 0.5 ? 0 : 1));
      assertSame(cpu, ref, `where [${shape}]`, {
        inputs: { c: cond, a: rng.floats(prod(shape)), b: rng.floats(shape[shape.length - 1]!) },
        outputs: { out: prod(shape) }, compare: ['out'],
        call: (be, b) => be.where({ buf: b.c!, offset: 0, strides: cs }, { buf: b.a!, offset: 0, strides: dense(shape) },
          { buf: b.b!, offset: 0, strides: shape.map((_, d) => (d === shape.length - 1 ? 1 : 0)) }, b.out!, shape),
      });
    }
  });

  test('adamw over several steps', () => {
    for (const n of [1, 7, 50_001]) {
      assertSame(cpu, ref, `adamw n=${n}`, {
        inputs: { p: rng.floats(n), g: rng.floats(n), m: rng.floats(n, 0.1), v: positive(n) },
        compare: ['p', 'm', 'v'],
        call: (be, b) => {
          for (let step = 1; step <= 3; step++) be.adamw(b.p!, b.g!, b.m!, b.v!, { n, lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step });
        },
      });
    }
  });
});

describe('copyStrided', () => {
  // [shape, srcStrides, srcOffset, srcLen, dstStrides, dstOffset, dstLen]
  const cases: [number[], number[], number, number, number[], number, number][] = [
    [[3, 5], [1, 3], 0, 15, [5, 1], 0, 15], // transpose to dense
    [[2, 3, 4, 5], [60, 1, 15, 3], 0, 120, [60, 20, 5, 1], 0, 120], // permuted rank 4
    [[4, 6], [0, 1], 2, 8, [6, 1], 0, 24], // broadcast rows from an offset
    [[5], [-1], 4, 5, [1], 0, 5], // reversed
    [[2, 1, 3, 1, 2, 2, 3], [72, 0, 24, 0, 12, 6, 2], 1, 200, [72, 72, 24, 24, 6, 3, 1], 0, 144], // rank 7
    [[7], [2], 1, 16, [3], 2, 24], // both strided
    [[130, 517], [1, 130], 0, 130 * 517, [517, 1], 0, 130 * 517], // big transpose: split across threads
  ];
  for (const accumulate of [false, true]) {
    test(`copyStrided accumulate=${accumulate}`, () => {
      for (const [shape, ss, so, sn, ds, dOff, dn] of cases) {
        assertSame(cpu, ref, `copy [${shape}]`, {
          inputs: { src: rng.floats(sn), dst: rng.floats(dn) }, compare: ['dst'],
          call: (be, b) => be.copyStrided({ buf: b.src!, offset: so, strides: ss }, { buf: b.dst!, offset: dOff, strides: ds }, shape, accumulate),
        }, 0);
      }
    });
  }

  test('copyStrided copies i32 bits unchanged', () => {
    const src = Int32Array.from({ length: 12 }, (_, i) => (i * 0x01010101) ^ 0x7fc00001);
    const s = cpu.alloc(48);
    const d = cpu.alloc(48);
    cpu.write(s, src);
    cpu.copyStrided({ buf: s, offset: 0, strides: [1, 4] }, { buf: d, offset: 0, strides: [3, 1] }, [4, 3], false);
    const got = cpu.readSync(d, 'i32', 0, 12);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) assert.equal(got[i * 3 + j], src[j * 4 + i]);
    cpu.free(s);
    cpu.free(d);
  });

  test('a view that leaves its buffer is rejected before any kernel runs', () => {
    const s = cpu.alloc(40);
    const d = cpu.alloc(40);
    assert.throws(() => cpu.copyStrided({ buf: s, offset: 5, strides: [1] }, { buf: d, offset: 0, strides: [1] }, [6], false), /copyStrided: src view .* outside its 40-byte buffer/);
    assert.throws(() => cpu.copyStrided({ buf: s, offset: 0, strides: [-1] }, { buf: d, offset: 0, strides: [1] }, [2], false), /copyStrided: src view/);
    cpu.free(s);
    cpu.free(d);
  });

  test('where rejects a view with an offset on both backends, naming the operand', () => {
    for (const be of [ref, cpu]) {
      const x = be.alloc(40);
      const at = (offset: number) => ({ buf: x, offset, strides: [1] });
      assert.throws(() => be.where(at(0), at(2), at(0), x, [4]), /where: a view has offset 2; where reads its operands from element 0/, be.name);
      assert.throws(() => be.where(at(1), at(0), at(0), x, [4]), /where: cond view has offset 1/, be.name);
      be.free(x);
    }
  });
});

describe('reductions and row kernels', () => {
  test('reduce sum and max over the middle axis', () => {
    for (const op of ['sum', 'max'] as const) {
      for (const [outer, len, inner] of [[1, 1, 1], [3, 7, 1], [2, 5, 9], [4, 1, 70], [1, 1001, 1], [3, 4, 130], [300, 257, 1], [9, 100, 300], [2, 0, 3]]) {
        assertSame(cpu, ref, `${op} [${outer},${len},${inner}]`, {
          inputs: { x: rng.floats(outer * len * inner) }, outputs: { out: outer * inner }, compare: ['out'],
          call: (be, b) => be.reduce(op, b.x!, b.out!, outer!, len!, inner!),
        });
      }
    }
  });

  const rowShapes = [[1, 1], [3, 7], [5, 130], [200, 333]];
  test('softmax and its backward', () => {
    for (const [rows, cols] of rowShapes) {
      const n = rows! * cols!;
      assertSame(cpu, ref, `softmax [${rows},${cols}]`, {
        inputs: { x: rng.floats(n, 4), dy: rng.floats(n) }, outputs: { y: n, dx: n }, compare: ['y', 'dx'],
        call: (be, b) => {
          be.softmax(b.x!, b.y!, rows!, cols!);
          be.softmaxBackward(b.y!, b.dy!, b.dx!, rows!, cols!);
        },
      });
    }
  });

  // The row kernels run two vectors per step and finish with a masked tail, and their exp is the
  // fast one for arguments <= 0 (kernels/simd.ts expNeg): every tail length 1..16 past a full
  // step, one row, entries masked to -inf, and a spread wide enough that exp underflows.
  const awkward = [[1, 1], [1, 8], [2, 9], [3, 15], [2, 16], [3, 17], [1, 23], [4, 24], [2, 31], [3, 33]];
  test('softmax family at ragged row lengths, with -inf entries and underflow', () => {
    for (const [rows, cols] of awkward) {
      const n = rows! * cols!;
      for (const spread of [1, 40]) {
        const x = rng.floats(n, spread);
        // Mask a few entries, never a whole row (that row is NaN on both sides, as 0/0).
        for (let r = 0; r < rows!; r++) if (cols! > 1) x[r * cols! + rng.int(cols!)] = -Infinity;
        for (const op of ['softmax', 'logSoftmax'] as const) {
          assertSame(cpu, ref, `${op} [${rows},${cols}] spread ${spread}`, {
            // A wide spread makes a row nearly one-hot, and dx = y(dy - sum(dy y)) then cancels to
            // f32 noise against its own tiny scale: its backward is judged at spread 1 only.
            inputs: { x, dy: rng.floats(n) }, outputs: { y: n, dx: n }, compare: op === 'softmax' && spread === 1 ? ['y', 'dx'] : ['y'],
            call: (be, b) => {
              if (op === 'softmax') {
                be.softmax(b.x!, b.y!, rows!, cols!);
                be.softmaxBackward(b.y!, b.dy!, b.dx!, rows!, cols!);
              } else {
                be.logSoftmax(b.x!, b.y!, rows!, cols!);
              }
            },
          });
        }
      }
    }
  });

  test('logSoftmax and its backward', () => {
    for (const [rows, cols] of rowShapes) {
      const n = rows! * cols!;
      assertSame(cpu, ref, `logSoftmax [${rows},${cols}]`, {
        inputs: { x: rng.floats(n, 4), dy: rng.floats(n) }, outputs: { y: n, dx: n }, compare: ['y', 'dx'],
        call: (be, b) => {
          be.logSoftmax(b.x!, b.y!, rows!, cols!);
          be.logSoftmaxBackward(b.y!, b.dy!, b.dx!, rows!, cols!);
        },
      });
    }
  });

  test('rmsnorm and its backward (dw accumulates)', () => {
    // dim 1 is left out: there dx = 0 up to f32 cancellation, which a relative test cannot judge.
    // Rows cross the backward's blocks of 32 (partial dw sums per block): 33, 65 and 130 rows.
    for (const [rows, dim] of [[1, 2], [3, 7], [4, 64], [33, 9], [65, 17], [130, 257]]) {
      const n = rows! * dim!;
      assertSame(cpu, ref, `rmsnorm [${rows},${dim}]`, {
        inputs: { x: rng.floats(n), w: rng.floats(dim!), dy: rng.floats(n), dw: rng.floats(dim!) },
        outputs: { y: n, rstd: rows!, dx: n }, compare: ['y', 'rstd', 'dx', 'dw'],
        call: (be, b) => {
          be.rmsnorm(b.x!, b.w!, b.y!, b.rstd!, rows!, dim!, 1e-6);
          be.rmsnormBackward(b.dy!, b.x!, b.w!, b.rstd!, b.dx!, b.dw!, rows!, dim!);
        },
      });
    }
  });

  test('embedding gather and scatter-add backward with repeated ids', () => {
    for (const [rows, dim, vocab] of [[1, 1, 1], [5, 7, 3], [300, 200, 50]]) {
      const ids = ints(rows!, vocab!);
      assertSame(cpu, ref, `embedding [${rows},${dim}]`, {
        inputs: { t: rng.floats(vocab! * dim!), ids, d: rng.floats(rows! * dim!), dt: rng.floats(vocab! * dim!) },
        outputs: { out: rows! * dim! }, compare: ['out', 'dt'],
        call: (be, b) => {
          be.embedding(b.t!, b.ids!, b.out!, rows!, dim!);
          be.embeddingBackward(b.d!, b.ids!, b.dt!, rows!, dim!);
        },
      });
    }
  });

  test('embedding rejects an id outside the table', () => {
    const t = cpu.alloc(4 * 8);
    const ids = cpu.alloc(8);
    const out = cpu.alloc(16);
    cpu.write(ids, new Int32Array([1, 4]));
    assert.throws(() => cpu.embedding(t, ids, out, 2, 2), /embedding: token id 4 at row 1 is outside \[0, 4\)/);
    for (const b of [t, ids, out]) cpu.free(b);
  });

  test('rope forward and inverse', () => {
    for (const [rows, H, D, maxPos] of [[1, 1, 2, 1], [5, 3, 6, 9], [64, 4, 64, 100]]) {
      const n = rows! * H! * D!;
      const half = D! / 2;
      const angles = Float32Array.from({ length: maxPos! * half }, () => rng.uniform() * 6);
      for (const inverse of [false, true]) {
        assertSame(cpu, ref, `rope [${rows},${H},${D}] inverse=${inverse}`, {
          inputs: { x: rng.floats(n), pos: ints(rows!, maxPos!), cos: angles.map(Math.cos), sin: angles.map(Math.sin) },
          outputs: { out: n }, compare: ['out'],
          call: (be, b) => be.rope(b.x!, b.pos!, b.cos!, b.sin!, b.out!, rows!, H!, D!, inverse),
        });
      }
    }
  });

  test('logprobEntropy and its backward', () => {
    for (const [rows, vocab, invT] of [[1, 1, 1], [3, 7, 1], [1, 8, 1], [2, 9, 1.3], [3, 17, 1], [2, 31, 0.5], [4, 1000, 0.7], [64, 1001, 1]]) {
      assertSame(cpu, ref, `logprobEntropy [${rows},${vocab}]`, {
        inputs: { z: rng.floats(rows! * vocab!, 3), ids: ints(rows!, vocab!), dl: rng.floats(rows!), de: rng.floats(rows!) },
        outputs: { lp: rows!, ent: rows!, lse: rows!, dz: rows! * vocab! }, compare: ['lp', 'lse', 'dz'],
        call: (be, b) => {
          be.logprobEntropy(b.z!, b.ids!, b.lp!, b.ent!, b.lse!, rows!, vocab!, invT!);
          be.logprobEntropyBackward(b.z!, b.ids!, b.lse!, b.ent!, b.dl!, b.de!, b.dz!, rows!, vocab!, invT!);
        },
      });
    }
  });

  // Entropy is left out here: it is ~1e-25, and the reference's l - sum(p z) cancels to f64 noise.
  test('logprobEntropy on peaked rows (one logit far above the rest, exps that underflow)', () => {
    for (const [rows, vocab] of [[1, 9], [3, 33], [2, 1000]]) {
      const z = rng.floats(rows! * vocab!, 2);
      for (let r = 0; r < rows!; r++) z[r * vocab! + rng.int(vocab!)] = 60 + rng.uniform() * 40;
      assertSame(cpu, ref, `logprobEntropy peaked [${rows},${vocab}]`, {
        inputs: { z, ids: ints(rows!, vocab!), dl: rng.floats(rows!), de: rng.floats(rows!) },
        outputs: { lp: rows!, ent: rows!, lse: rows!, dz: rows! * vocab! }, compare: ['lp', 'lse', 'dz'],
        call: (be, b) => {
          be.logprobEntropy(b.z!, b.ids!, b.lp!, b.ent!, b.lse!, rows!, vocab!, 1);
          be.logprobEntropyBackward(b.z!, b.ids!, b.lse!, b.ent!, b.dl!, b.de!, b.dz!, rows!, vocab!, 1);
        },
      });
    }
  });
});

describe('matmul', () => {
  const mm = (a: Partial<MatmulArgs> & { m: number; n: number; k: number }): MatmulArgs => ({
    batch: 1, transA: false, transB: false, aBatchStride: a.m * a.k, bBatchStride: a.k * a.n, accumulate: false, ...a,
  });
  test('every transpose combination, odd sizes, gemv and packed paths', () => {
    for (const [m, n, k] of [[1, 1, 1], [1, 7, 5], [3, 9, 16], [5, 7, 31], [17, 33, 9], [64, 20, 70], [4, 40, 3], [130, 67, 129], [8, 300, 40], [3, 500, 70]]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const args = mm({ m: m!, n: n!, k: k!, transA, transB });
          assertSame(cpu, ref, `matmul ${m}x${n}x${k} tA=${transA} tB=${transB}`, {
            inputs: { a: rng.floats(m! * k!), b: rng.floats(k! * n!) }, outputs: { out: m! * n! }, compare: ['out'],
            call: (be, b) => be.matmul(b.a!, b.b!, b.out!, args),
          }, 1e-4);
        }
      }
    }
  });

  test('batches with offsets, a broadcast B (stride 0) and accumulate', () => {
    for (const [batch, m, n, k] of [[3, 5, 7, 9], [4, 1, 13, 6], [2, 33, 17, 40]]) {
      for (const transB of [false, true]) {
        const args: MatmulArgs = {
          batch: batch!, m: m!, n: n!, k: k!, transA: false, transB, aBatchStride: m! * k! + 2, bBatchStride: 0,
          aOffset: 3, bOffset: 1, accumulate: true,
        };
        assertSame(cpu, ref, `batched matmul ${batch}x${m}x${n}x${k} tB=${transB}`, {
          inputs: { a: rng.floats(3 + batch! * (m! * k! + 2)), b: rng.floats(1 + k! * n!), out: rng.floats(batch! * m! * n!) },
          compare: ['out'],
          call: (be, b) => be.matmul(b.a!, b.b!, b.out!, args),
        }, 1e-4);
      }
    }
  });

  test('A stored transposed and large enough to pack (batched, offset, accumulate)', () => {
    const [batch, m, n, k] = [2, 260, 24, 256];
    const args: MatmulArgs = { batch, m, n, k, transA: true, transB: true, aBatchStride: m * k + 5, bBatchStride: n * k, aOffset: 2, accumulate: true };
    assertSame(cpu, ref, 'matmul TN packed A', {
      inputs: { a: rng.floats(2 + batch * (m * k + 5)), b: rng.floats(batch * n * k), out: rng.floats(batch * m * n) }, compare: ['out'],
      call: (be, b) => be.matmul(b.a!, b.b!, b.out!, args),
    }, 1e-4);
  });

  test('A stored transposed, k-blocked: k past and not a multiple of the k block, ragged rows, batch strides', () => {
    // With 33-256 columns and m % 4 == 0, A is packed 16 columns at a time (tnAMode): 516 x 36 and
    // 516 x 40, 72 x 40 over 2 items in 36-row units (groups of 16, 16 and 4 columns) and k = 1100
    // (two 512-step blocks and one of 76), 36 x 64 in one unit split by panels between the threads.
    // With 32 or fewer and m < 256 it is read in place (68 x 24, 72 x 16). A narrow B (n <= 32) with
    // m >= 256 sweeps A instead (gemmTNNarrow): 516 x 20, and 258 x 5 (rows past a block of 4;
    // 37 = two 16-step sweeps and one of 5), over 2 items each split in two ranges. Not packed a unit
    // at a time, with n % 8 == 0 and B not transposed (68 x 24 over 2 items, 72 x 16 with one B for
    // 3 items, 516 x 40, 72 x 40, 36 x 64), the products read B where it lies (tnBMode: B_IN_PLACE),
    // from bOffset. With B not transposed and no more row units than threads, the others pack B a k
    // block at a time (B_SLICES): 130 x 37 (two row units, a ragged last panel; 777 = 512 + 265
    // steps) and 5 x 300 (one unit, its panels split between the threads); 5 x 131100 has 16388
    // panels, more than a thread's slices hold at 16 steps when a thread takes 2049 or all of them,
    // which then go a part at a time (kernels/matmul.ts SLICE_PANELS). 1024 x 20 over 2 items sweeps
    // copies of A's rows (4 KB apart), each item's 1024 columns in chunks of 80, the last sweep 5 steps.
    for (const [batch, m, n, k] of [[1, 130, 37, 777], [3, 7, 9, 513], [2, 68, 24, 256], [3, 72, 16, 100], [1, 5, 300, 1030], [1, 5, 131100, 3],
      [1, 516, 36, 300], [1, 516, 40, 300], [2, 72, 40, 1100], [1, 36, 64, 600], [1, 516, 20, 300], [2, 258, 5, 37], [3, 300, 32, 40],
      [2, 1024, 20, 37]]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          const args: MatmulArgs = {
            batch: batch!, m: m!, n: n!, k: k!, transA: true, transB, aBatchStride: m! * k! + 3,
            bBatchStride: batch === 3 ? 0 : n! * k!, aOffset: 1, bOffset: 2, accumulate,
          };
          assertSame(cpu, ref, `matmul TN ${batch}x${m}x${n}x${k} tB=${transB} acc=${accumulate}`, {
            inputs: { a: rng.floats(1 + batch! * (m! * k! + 3)), b: rng.floats(2 + batch! * n! * k!), out: rng.floats(batch! * m! * n!) },
            compare: ['out'],
            call: (be, b) => be.matmul(b.a!, b.b!, b.out!, args),
          }, 1e-4);
        }
      }
    }
  });

  test('A stored transposed gives bit for bit the product of the same A stored row-major (one k-long sum per output)', async () => {
    // m = 70 packs A a block at a time; m = 72 (rows in whole blocks of 4) reads it in place with up
    // to 32 columns, each row block through all its panels before the next (36-row units: four tiles
    // of 5 rows, then four of 4). With 33-256 columns A
    // is packed 20 columns at a time in tiles of 5 rows (72 x 40: two 36-row units, groups of 20 and
    // 16, the last tile 1 row; 104 x 40: groups of 20, 20 and 12, the last tile 2 rows), as for m =
    // 384, 1028 and 1024 and 512 (multiples of 512: a row of A is 2 or 4 KB), each group through all
    // its panels (the last of 384 x 37 holds 5 columns) in a 512-step block and one of 88.
    // Packed in units of more than 64 rows: 600 x 300 (a wide B) in 152-row units, and 2102 in
    // 212-row units, of which the pool hands a thread two at a time (ten units: so one call walks two
    // packed blocks, the last with 2 rows past a block of 4). From m = 64 the packed blocks hold 5 rows
    // (packABlock), a unit's last 1-4 rows a shorter tile: 1024 x 264 in 256-row units (52 blocks, the
    // most a thread's scratch holds, the last with 1 row), 133 x 264 in units of 68 and 65 rows (3 rows
    // past a block, and none). Swept (n <= 32, m >= 256:
    // gemmTNNarrow, tiles of 5 rows): 896 x 16 (a LoRA dA), 1030 x 32, 259 x 3 and 262 x 8 (at 2
    // threads ranges ending 0-4 rows past a block of 5, a panel mostly padding; 600 = 37 sweeps of
    // 16 steps and one of 8); 1024 x 16 and 2048 x 5 (rows 4 KB apart or a multiple: the sweeps read
    // copies, 80 columns at a time, a range's last chunk ending 4 and 3 rows past a block); 9000 x 32
    // and 10240 x 32 (copied) in ranges of 4060 rows, the most whose partial sums a thread's scratch
    // holds beside the copies, so three ranges where the threads are two. B is read where it lies (A not packed
    // a unit at a time, n % 8 == 0) for 72 x 24, 72 x 40, 384 x 40, 1028 x 40, 1024 x 40 and 512 x 128.
    for (const [m, n, k] of [[70, 19, 600], [72, 19, 600], [72, 24, 600], [72, 40, 600], [384, 37, 600], [384, 40, 600], [1028, 40, 600],
      [1024, 40, 600], [512, 128, 600], [600, 300, 600], [2102, 40, 600], [896, 16, 600], [1030, 32, 600], [259, 3, 600],
      [262, 8, 600], [1024, 16, 600], [2048, 5, 37], [1024, 264, 520], [133, 264, 100], [104, 40, 600], [9000, 32, 20], [10240, 32, 20]] as const) {
      const aT = rng.floats(k * m);
      const aN = new Float32Array(m * k);
      for (let p = 0; p < k; p++) for (let i = 0; i < m; i++) aN[i * k + p] = aT[p * m + i]!;
      const b = rng.floats(k * n);
      const run = async (a: Float32Array, transA: boolean): Promise<Float32Array> => {
        const [ab, bb, ob] = [cpu.alloc(a.length * 4), cpu.alloc(b.length * 4), cpu.alloc(m * n * 4)];
        cpu.write(ab, a);
        cpu.write(bb, b);
        cpu.matmul(ab, bb, ob, mm({ m, n, k, transA }));
        const out = (await cpu.read(ob, 'f32', 0, m * n)) as Float32Array;
        for (const x of [ab, bb, ob]) cpu.free(x);
        return out;
      };
      assert.deepEqual(await run(aT, true), await run(aN, false));
    }
  });

  test('per-item B (batch stride != 0) across chunks', () => {
    const [batch, m, n, k] = [6, 12, 10, 8];
    assertSame(cpu, ref, 'batched per-item B', {
      inputs: { a: rng.floats(batch * m * k), b: rng.floats(batch * k * n) }, outputs: { out: batch * m * n }, compare: ['out'],
      call: (be, b) => be.matmul(b.a!, b.b!, b.out!, mm({ batch, m, n, k, transA: true })),
    }, 1e-4);
  });
});

describe('attention', () => {
  const configs: (AttentionArgs & { Tmax: number; bias: boolean })[] = [
    { B: 2, Tq: 5, H: 4, Hkv: 2, D: 8, pastLen: 3, Tmax: 10, kvBatchStride: 0, scale: 0, bias: true },
    { B: 1, Tq: 1, H: 2, Hkv: 1, D: 5, pastLen: 7, Tmax: 8, kvBatchStride: 0, scale: 0, bias: false },
    { B: 3, Tq: 9, H: 3, Hkv: 3, D: 16, pastLen: 0, Tmax: 9, kvBatchStride: 0, scale: 0, bias: true },
    { B: 2, Tq: 33, H: 6, Hkv: 2, D: 64, pastLen: 4, Tmax: 40, kvBatchStride: 0, scale: 0, bias: true },
    // One (batch, kv head) pair: the backward splits query blocks over threads with private dk/dv copies.
    { B: 1, Tq: 37, H: 3, Hkv: 1, D: 32, pastLen: 2, Tmax: 41, kvBatchStride: 0, scale: 0, bias: true },
    // Three pairs on two threads: split too; D = 36 leaves a 4-wide tail after the 8-wide dq pass.
    { B: 3, Tq: 18, H: 2, Hkv: 1, D: 36, pastLen: 0, Tmax: 18, kvBatchStride: 0, scale: 0, bias: false },
    // Decoding (Tq < 4, D % 4 == 0: the row kernel 4 keys at a time): keys 4 at a time and a tail of 1-3, p @ V in
    // 32-feature passes and a tail of 4-feature ones (D = 8: none of 32; 36: one and a tail; 64: two).
    { B: 2, Tq: 1, H: 4, Hkv: 2, D: 8, pastLen: 6, Tmax: 9, kvBatchStride: 0, scale: 0, bias: true },
    { B: 3, Tq: 3, H: 2, Hkv: 2, D: 36, pastLen: 9, Tmax: 12, kvBatchStride: 0, scale: 0, bias: false },
    { B: 1, Tq: 2, H: 3, Hkv: 1, D: 64, pastLen: 30, Tmax: 35, kvBatchStride: 0, scale: 0, bias: true },
  ];
  for (const cfg of configs) {
    const { B, Tq, H, Hkv, D, pastLen, Tmax } = cfg;
    const args: AttentionArgs = { B, Tq, H, Hkv, D, pastLen, kvBatchStride: Tmax * Hkv * D, scale: 1 / Math.sqrt(D) };
    test(`forward and backward B=${B} Tq=${Tq} H=${H} Hkv=${Hkv} D=${D} past=${pastLen} bias=${cfg.bias}`, () => {
      const Tk = pastLen + Tq;
      const qn = B * Tq * H * D, kvn = B * Tmax * Hkv * D;
      const bias = Float32Array.from({ length: B * Tk }, () => (rng.uniform() < 0.2 ? -1e9 : 0));
      for (let b = 0; b < B; b++) bias[b * Tk] = 0; // every query keeps at least key 0
      assertSame(cpu, ref, 'attention', {
        inputs: { q: rng.floats(qn), k: rng.floats(kvn), v: rng.floats(kvn), bias, dOut: rng.floats(qn), dk: rng.floats(kvn), dv: rng.floats(kvn) },
        outputs: { out: qn, lse: B * H * Tq, dq: qn }, compare: ['out', 'lse', 'dq', 'dk', 'dv'],
        call: (be, b) => {
          const kb = cfg.bias ? b.bias! : null;
          be.attention(b.q!, b.k!, b.v!, kb, b.out!, b.lse!, args);
          be.attentionBackward(b.q!, b.k!, b.v!, kb, b.out!, b.lse!, b.dOut!, b.dq!, b.dk!, b.dv!, args);
        },
      }, 1e-4);
    });
  }
});

describe('attention with keyStart (sequences packed in one row)', () => {
  for (const cfg of VARLEN_ATTENTION_CONFIGS) {
    const { B, Tq, H, Hkv, D, pastLen, lengths } = cfg;
    test(`forward and backward B=${B} Tq=${Tq} H=${H} Hkv=${Hkv} D=${D} past=${pastLen} lengths=${JSON.stringify(lengths)}`, () => {
      assertSame(cpu, ref, 'attention', varlenAttentionCase(rng, { ...cfg, keyStart: packedKeyStart(lengths, pastLen) }), 1e-4);
    });
  }

  test('a keyStart past the query itself is refused, naming it', () => {
    const args: AttentionArgs = { B: 1, Tq: 2, H: 1, Hkv: 1, D: 4, pastLen: 0, kvBatchStride: 8, scale: 0.5 };
    for (const be of [cpu, ref]) {
      const [q, out, lse, ks] = [be.alloc(32), be.alloc(32), be.alloc(8), be.alloc(8)];
      be.write(ks, Int32Array.from([0, 2]));
      assert.throws(() => be.attention(q, q, q, null, out, lse, { ...args, keyStart: ks }), /attention: keyStart 2 at \[0, 1\] is outside \[0, pastLen \+ 1\] = \[0, 1\]/);
      for (const b of [q, out, lse, ks]) be.free(b);
    }
  });
});
