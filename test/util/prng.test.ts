import { test } from 'node:test';
import assert from 'node:assert/strict';
import { permutation, Prng } from '../../src/util/prng.js';

test('Prng.uniform is mulberry32: the first draws for seed 0 match the published algorithm', () => {
  // mulberry32 written out independently (the reference C code, in 32-bit JS arithmetic).
  let a = 0;
  const mulberry32 = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng = new Prng(0);
  for (let i = 0; i < 100; i++) assert.equal(rng.uniform(), mulberry32());
});

test('Prng.int covers [lo, hi] inclusive, only that range, and rejects bad ranges', () => {
  const rng = new Prng(3);
  const seen = new Map<number, number>();
  for (let i = 0; i < 7000; i++) {
    const v = rng.int(-3, 3);
    seen.set(v, (seen.get(v) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort((x, y) => x - y), [-3, -2, -1, 0, 1, 2, 3]);
  // 1000 expected per value; a 5-sigma band (sigma ~ 30) cannot fail by chance in practice.
  for (const [v, count] of seen) assert.ok(Math.abs(count - 1000) < 150, `value ${v} drawn ${count} times`);
  assert.equal(new Prng(1).int(5, 5), 5);
  assert.throws(() => rng.int(2, 1), /Prng.int: bad range \[2, 1\]/);
  assert.throws(() => rng.int(0, 2 ** 33), /wider than 2\^32/);
  assert.throws(() => new Prng(0.5), /seed must be a safe integer, got 0.5/);
});

test('shuffle and permutation are the same Fisher-Yates draw, a permutation, deterministic by seed', () => {
  const items = Array.from({ length: 50 }, (_, i) => `x${i}`);
  const shuffled = new Prng(11).shuffle([...items]);
  assert.deepEqual([...shuffled].sort(), [...items].sort());
  assert.notDeepEqual(shuffled, items);
  const order = permutation(50, new Prng(11));
  assert.deepEqual(order.map((i) => items[i]), shuffled);
  assert.deepEqual(permutation(50, new Prng(11)), order);
  assert.notDeepEqual(permutation(50, new Prng(12)), order);
});

test('normal draws come in Box-Muller pairs and getState/setState resume the stream exactly', () => {
  const rng = new Prng(5);
  rng.normal();
  const state = rng.getState();
  assert.notEqual(state.spare, null);
  const next = [rng.normal(), rng.normal(), rng.uniform(), rng.int(0, 9)];
  const resumed = new Prng(99);
  resumed.setState(state);
  assert.deepEqual([resumed.normal(), resumed.normal(), resumed.uniform(), resumed.int(0, 9)], next);
});

test('fillNormal gives the values of normal() called once per element, bit for bit, and leaves the same state', () => {
  for (const pending of [false, true]) {
    for (const n of [0, 1, 2, 5, 1000, 1001]) {
      const a = new Prng(42);
      const b = new Prng(42);
      if (pending) { a.normal(); b.normal(); } // a spare value waits in both
      const filled = a.fillNormal(new Float32Array(n), 0.02, 0.5);
      const oneByOne = Float32Array.from({ length: n }, () => 0.5 + 0.02 * b.normal());
      assert.deepEqual(filled, oneByOne, `n ${n}, spare pending ${pending}`);
      assert.deepEqual(a.getState(), b.getState(), `state after n ${n}, spare pending ${pending}`);
      assert.deepEqual([a.normal(), a.uniform()], [b.normal(), b.uniform()]);
    }
  }
});

test('skipUniforms(n) lands where n uniforms would: a stream drawn in parts equals the stream drawn whole', () => {
  const whole = new Prng(7).fillNormal(new Float32Array(5000), 1);
  for (const start of [0, 2, 1000, 4098]) {
    const part = new Prng(7);
    part.skipUniforms(start);
    assert.deepEqual(part.fillNormal(new Float32Array(5000 - start), 1), whole.subarray(start), `from ${start}`);
  }
  const u = new Prng(3);
  const uniforms = Array.from({ length: 10 }, () => u.nextUint32());
  const skipped = new Prng(3);
  skipped.skipUniforms(7);
  assert.equal(skipped.nextUint32(), uniforms[7]);
  const pending = new Prng(1);
  pending.normal();
  assert.throws(() => pending.skipUniforms(2), /a normal value is pending/);
  assert.throws(() => new Prng(1).skipUniforms(-1), /non-negative integer/);
});
