// Every op's gradient against central finite differences in float64 (see helpers/gradcheck.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { gradCheck } from '../helpers/gradcheck.js';

describe('element-wise gradients', () => {
  const binaryCases: [string, number[], number[]][] = [
    ['same shape', [3, 5], [3, 5]],
    ['row broadcast', [4, 3], [3]],
    ['column broadcast', [2, 3, 5], [3, 1]],
    ['both broadcast', [2, 1, 3], [1, 4, 1]],
    ['scalar tensor', [7], []],
  ];
  for (const [name, sa, sb] of binaryCases) {
    test(`add/sub/mul/div, ${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, () => {
      gradCheck([{ shape: sa }, { shape: sb }], (a, b) => T.add(a!, b!));
      gradCheck([{ shape: sa }, { shape: sb }], (a, b) => T.sub(a!, b!));
      gradCheck([{ shape: sa }, { shape: sb }], (a, b) => T.mul(a!, b!));
      gradCheck([{ shape: sa }, { shape: sb, range: [0.5, 2] }], (a, b) => T.div(a!, b!));
      gradCheck([{ shape: sa }, { shape: sb }], (a, b) => T.maximum(a!, b!));
      gradCheck([{ shape: sa }, { shape: sb }], (a, b) => T.minimum(a!, b!));
    });
  }

  test('unary ops', () => {
    const shape = [3, 7];
    gradCheck([{ shape }], (x) => T.neg(x!));
    gradCheck([{ shape }], (x) => T.exp(x!));
    gradCheck([{ shape, range: [0.2, 3] }], (x) => T.log(x!));
    gradCheck([{ shape, range: [0.2, 3] }], (x) => T.sqrt(x!));
    gradCheck([{ shape, range: [0.2, 3] }], (x) => T.rsqrt(x!));
    gradCheck([{ shape }], (x) => T.silu(x!));
    gradCheck([{ shape }], (x) => T.sigmoid(x!));
    gradCheck([{ shape }], (x) => T.abs(x!));
    gradCheck([{ shape }], (x) => T.square(x!));
    gradCheck([{ shape, range: [0.5, 2] }], (x) => T.reciprocal(x!));
    gradCheck([{ shape }], (x) => T.affine(x!, -1.5, 0.25));
    gradCheck([{ shape }], (x) => T.clamp(x!, -0.5, 0.7));
    gradCheck([{ shape }], (x) => T.add(T.mul(x!, 3), 2));
    gradCheck([{ shape }], (x) => T.maximum(x!, 0.1));
  });

  test('swiglu, on dense tensors and on views', () => {
    gradCheck([{ shape: [3, 7] }, { shape: [3, 7] }], (g, u) => T.swiglu(g!, u!));
    gradCheck([{ shape: [7, 3] }, { shape: [3, 7] }], (g, u) => T.swiglu(T.transpose(g!), u!));
    assert.throws(() => T.swiglu(T.zeros([2, 3]), T.zeros([3, 2])), /swiglu: gate and up must have the same shape, got \[2, 3\] and \[3, 2\]/);
  });

  test('unary ops on strided views', () => {
    gradCheck([{ shape: [4, 5] }], (x) => T.exp(T.transpose(x!)));
    gradCheck([{ shape: [4, 6] }], (x) => T.silu(T.slice(x!, 1, 1, 5)));
  });

  test('where with broadcasting and a constant mask', () => {
    const mask = [1, 0, 1, 1, 0];
    gradCheck([{ shape: [5], values: mask, noGrad: true }, { shape: [3, 5] }, { shape: [1] }], (c, a, b) => T.where(c!, a!, b!));
  });
});

describe('reduction gradients', () => {
  for (const axis of [0, 1, 2, -1, undefined]) {
    test(`sum/mean/max over axis ${axis}`, () => {
      gradCheck([{ shape: [2, 3, 4] }], (x) => T.sum(x!, axis));
      gradCheck([{ shape: [2, 3, 4] }], (x) => T.mean(x!, axis, true));
      gradCheck([{ shape: [2, 3, 4] }], (x) => T.max(x!, axis));
    });
  }
});

describe('matmul gradients', () => {
  test('2-D, odd sizes', () => {
    gradCheck([{ shape: [3, 5] }, { shape: [5, 7] }], (a, b) => T.matmul(a!, b!));
  });
  test('batched', () => {
    gradCheck([{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }], (a, b) => T.matmul(a!, b!));
  });
  test('batch broadcast of the left operand', () => {
    gradCheck([{ shape: [3, 4] }, { shape: [2, 4, 5] }], (a, b) => T.matmul(a!, b!));
  });
  test('weights folded into rows (x @ W^T)', () => {
    gradCheck([{ shape: [2, 3, 4] }, { shape: [5, 4] }], (x, w) => T.linear(x!, w!));
  });
  test('linear with bias', () => {
    gradCheck([{ shape: [3, 4] }, { shape: [2, 4] }, { shape: [2] }], (x, w, b) => T.linear(x!, w!, b!));
  });
  test('transposed left operand', () => {
    gradCheck([{ shape: [2, 5, 3] }, { shape: [2, 5, 4] }], (a, b) => T.matmul(T.transpose(a!), b!));
  });
  test('4-D with broadcast batch axes', () => {
    gradCheck([{ shape: [2, 1, 3, 4] }, { shape: [1, 3, 4, 2] }], (a, b) => T.matmul(a!, b!));
  });
  test('non-collapsible strided operand', () => {
    gradCheck([{ shape: [3, 2, 4] }, { shape: [2, 4, 3] }], (a, b) => T.matmul(T.permute(a!, [1, 0, 2]), b!));
  });
});

describe('movement gradients', () => {
  test('reshape, permute, expand, contiguous', () => {
    gradCheck([{ shape: [2, 6] }], (x) => T.mul(T.reshape(x!, [3, 4]), T.reshape(x!, [3, 4])));
    gradCheck([{ shape: [2, 3, 4] }], (x) => T.contiguous(T.permute(x!, [2, 0, 1])));
    gradCheck([{ shape: [3, 1] }], (x) => T.expand(x!, [2, 3, 4]));
    gradCheck([{ shape: [3, 4] }], (x) => T.reshape(T.transpose(x!), [12]));
  });
  test('slice and concat', () => {
    gradCheck([{ shape: [4, 5] }], (x) => T.slice(x!, 1, 1, -1));
    gradCheck([{ shape: [2, 3] }, { shape: [2, 2] }, { shape: [2, 1] }], (a, b, c) => T.concat([a!, b!, c!], 1));
    gradCheck([{ shape: [1, 3] }, { shape: [2, 3] }], (a, b) => T.concat([a!, b!], 0));
  });
});

describe('fused op gradients', () => {
  test('softmax and log-softmax', () => {
    gradCheck([{ shape: [3, 7] }], (x) => T.softmax(x!));
    gradCheck([{ shape: [2, 2, 5] }], (x) => T.logSoftmax(x!));
  });

  test('embedding (scatter-add with repeated ids)', () => {
    gradCheck([{ shape: [5, 3] }, { shape: [2, 4], values: [0, 3, 3, 1, 4, 0, 3, 2], ints: { max: 5 }, noGrad: true }], (table, ids) => T.embedding(table!, ids!));
  });

  test('rmsnorm', () => {
    gradCheck([{ shape: [2, 3, 6] }, { shape: [6] }], (x, w) => T.rmsnorm(x!, w!, 1e-5));
    gradCheck([{ shape: [1, 5] }, { shape: [5] }], (x, w) => T.rmsnorm(x!, w!, 1e-2));
  });

  test('rope (rotate-half) at given positions', () => {
    const [B, Tn, H, D] = [2, 3, 2, 4];
    const maxPos = 8;
    const cos: number[] = [];
    const sin: number[] = [];
    for (let p = 0; p < maxPos; p++) for (let j = 0; j < D / 2; j++) {
      const angle = p / 10000 ** ((2 * j) / D);
      cos.push(Math.cos(angle));
      sin.push(Math.sin(angle));
    }
    gradCheck([
      { shape: [B, Tn, H, D] },
      { shape: [B, Tn], ints: { max: maxPos }, noGrad: true },
      { shape: [maxPos, D / 2], values: cos, noGrad: true },
      { shape: [maxPos, D / 2], values: sin, noGrad: true },
    ], (x, pos, c, s) => T.rope(x!, pos!, c!, s!));
  });

  test('attention: causal, grouped KV heads', () => {
    gradCheck([{ shape: [2, 4, 4, 3] }, { shape: [2, 4, 2, 3] }, { shape: [2, 4, 2, 3] }], (q, k, v) => T.attention(q!, k!, v!));
  });

  test('attention: padding bias, pastLen and a longer cache', () => {
    const bias = [0, 0, -1e9, 0, 0, 0, 0, 0, -1e9, -1e9, 0, 0];
    gradCheck([
      { shape: [2, 2, 2, 3] },
      { shape: [2, 7, 1, 3] },
      { shape: [2, 7, 1, 3] },
      { shape: [2, 6], values: bias, noGrad: true },
    ], (q, k, v, b) => T.attention(q!, k!, v!, { pastLen: 4, keyBias: b! }));
  });

  test('attention: keyStart, sequences of 3, 1 and 2 tokens packed in one row, and free first keys in another', () => {
    const keyStart = [0, 0, 0, 3, 4, 4, 0, 1, 1, 2, 2, 5];
    gradCheck([{ shape: [2, 6, 2, 3] }, { shape: [2, 6, 1, 3] }, { shape: [2, 6, 1, 3] }],
      (q, k, v) => T.attention(q!, k!, v!, { keyStart: T.tensor(Int32Array.from(keyStart), [2, 6], 'i32') }));
  });

  test('attention: keyStart with pastLen and a padding bias', () => {
    const bias = [-1e9, 0, 0, 0, 0, 0, 0, 0, 0, -1e9, 0, 0];
    gradCheck([
      { shape: [2, 3, 2, 3] },
      { shape: [2, 7, 1, 3] },
      { shape: [2, 7, 1, 3] },
      { shape: [2, 6], values: bias, noGrad: true },
    ], (q, k, v, b) => T.attention(q!, k!, v!, { pastLen: 3, keyBias: b!, keyStart: T.tensor(Int32Array.from([1, 1, 4, 0, 3, 5]), [2, 3], 'i32') }));
  });

  test('log-prob + entropy at temperature 1 and 0.7', () => {
    for (const temperature of [1, 0.7]) {
      gradCheck([{ shape: [2, 3, 6] }, { shape: [2, 3], ints: { max: 6 }, noGrad: true }], (logits, ids) => {
        const { logp, entropy } = T.logprobEntropy(logits!, ids!, temperature);
        return T.add(logp, T.mul(entropy, 0.7));
      });
    }
  });
});
