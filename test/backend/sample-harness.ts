/**
 * Backend.sample against the host sampler (src/generation/sampler.ts), the reference of every draw.
 * A case is rows of logits with a sampling setting and each row's 32 random bits; the host sampler
 * gets the same uniform through a stand-in Prng. A backend's token must be the host's unless the
 * uniform lies within `boundaryTol` (relative to the mass it is drawn over) of an end of the host
 * token's CDF interval, or the top-p cut itself sits within that of topP (then the kept set can
 * differ by one token); its log-prob must be the exact log softmax(z / T) of its own token within
 * 1e-5. The reference backend must match the host bit for bit (the host draws through its
 * sampleRow, so this checks its rows, offsets and uniforms).
 */
import assert from 'node:assert/strict';
import type { Backend, SampleArgs } from '../../src/backend/backend.js';
import { sampleToken } from '../../src/generation/sampler.js';
import type { Prng } from '../../src/util/prng.js';
import { Rng } from '../helpers/rng.js';

export interface SampleCase {
  label: string;
  logits: Float32Array;
  rows: number;
  vocab: number;
  args: SampleArgs;
  bits: Int32Array;
}

const uniformOf = (bits: number): number => (bits >>> 0) / 4294967296;

/** A Prng stand-in that hands out one given uniform. */
function fixedUniform(u: number): Prng {
  return { uniform: () => u } as unknown as Prng;
}

/** The host's draw, and how far (relative) its uniform is from a decision boundary. */
export function hostDraw(z: Float32Array, offset: number, vocab: number, args: SampleArgs, bits: number): { token: number; logprob: number; margin: number } {
  const u = uniformOf(bits);
  const { token, logprob } = sampleToken(z, offset, vocab, args, fixedUniform(u));
  if (args.temperature === 0) return { token, logprob, margin: Infinity };
  const row = Array.from(z.subarray(offset, offset + vocab));
  const max = Math.max(...row);
  const w = row.map((v) => Math.exp((v - max) / args.temperature));
  const plain = !(args.topK > 0 && args.topK < vocab) && args.topP >= 1;
  let order = row.map((_, i) => i);
  let margin = Infinity;
  if (!plain) {
    order.sort((a, b) => row[b]! - row[a]! || a - b);
    const k = args.topK > 0 ? Math.min(args.topK, vocab) : vocab;
    order = order.slice(0, k);
    const kMass = order.reduce((s, i) => s + w[i]!, 0);
    let kept = 0, n = 0;
    for (const i of order) {
      kept += w[i]!;
      n++;
      margin = Math.min(margin, Math.abs(kept / kMass - args.topP));
      if (kept / kMass >= args.topP) break;
    }
    order = order.slice(0, n);
  }
  const mass = order.reduce((s, i) => s + w[i]!, 0);
  let before = 0;
  for (const i of order) {
    if (i === token) break;
    before += w[i]!;
  }
  const through = before + w[token]!;
  return { token, logprob, margin: Math.min(margin, Math.abs(u - before / mass), Math.abs(u - through / mass)) };
}

export function exactLogprob(z: Float32Array, offset: number, vocab: number, temperature: number, token: number): number {
  const t = temperature > 0 ? temperature : 1;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, z[offset + i]!);
  let s = 0;
  for (let i = 0; i < vocab; i++) s += Math.exp((z[offset + i]! - max) / t);
  return (z[offset + token]! - max) / t - Math.log(s);
}

export async function runSample(be: Backend, c: SampleCase): Promise<{ tokens: Int32Array; logprobs: Float32Array }> {
  const z = be.alloc(c.logits.length * 4), u = be.alloc(c.rows * 4), tk = be.alloc(c.rows * 4), lp = be.alloc(c.rows * 4);
  try {
    be.write(z, c.logits);
    be.write(u, c.bits);
    be.sample(z, u, tk, lp, c.rows, c.vocab, c.args);
    const tokens = (await be.read(tk, 'i32', 0, c.rows)) as Int32Array;
    const logprobs = (await be.read(lp, 'f32', 0, c.rows)) as Float32Array;
    return { tokens, logprobs };
  } finally {
    for (const b of [z, u, tk, lp]) be.free(b);
  }
}

/**
 * Checks `be` on every case; returns how many draws differed from the host (all of them within
 * the boundary tolerance), not counting the uniforms at the extremes, which sit on a boundary by
 * construction (u = 1 - 2^-32 lands within rounding of the end of the CDF). `exact`: tokens and log-probs must equal the host's bit for bit.
 */
export async function checkBackend(be: Backend, cases: SampleCase[], exact: boolean, boundaryTol = 1e-5): Promise<number> {
  let flips = 0;
  for (const c of cases) {
    const got = await runSample(be, c);
    for (let r = 0; r < c.rows; r++) {
      const where = `${be.name} ${c.label} row ${r} (${JSON.stringify(c.args)}, u bits ${c.bits[r]! >>> 0})`;
      const host = hostDraw(c.logits, r * c.vocab, c.vocab, c.args, c.bits[r]!);
      const token = got.tokens[r]!;
      assert.ok(token >= 0 && token < c.vocab, `${where}: token ${token} outside the vocabulary`);
      if (exact) {
        assert.equal(token, host.token, `${where}: token`);
        assert.equal(got.logprobs[r], Math.fround(host.logprob), `${where}: log-prob`);
        continue;
      }
      if (token !== host.token) {
        assert.ok(host.margin < boundaryTol, `${where}: token ${token}, host ${host.token}, with the uniform ${host.margin.toExponential(2)} from a boundary`);
        if (c.bits[r] !== 0 && c.bits[r] !== -1) flips++;
      }
      const want = exactLogprob(c.logits, r * c.vocab, c.vocab, c.args.temperature, token);
      if (want === -Infinity) {
        assert.equal(got.logprobs[r], -Infinity, `${where}: log-prob of a -inf logit`);
        continue;
      }
      assert.ok(Math.abs(got.logprobs[r]! - want) <= 1e-5 * Math.max(1, Math.abs(want)),
        `${where}: log-prob ${got.logprobs[r]} against ${want}`);
    }
  }
  return flips;
}

/** Settings that take every path: greedy, plain, tiny and large temperatures, top-k, top-p, both. */
export const SETTINGS: SampleArgs[] = [
  { temperature: 0, topK: -1, topP: 1 },
  { temperature: 1, topK: -1, topP: 1 },
  { temperature: 0.7, topK: 0, topP: 1 },
  { temperature: 1e-7, topK: -1, topP: 1 },
  { temperature: 3, topK: -1, topP: 1 },
  { temperature: 1, topK: 1, topP: 1 },
  { temperature: 1, topK: 5, topP: 1 },
  { temperature: 0.8, topK: -1, topP: 1e-9 },
  { temperature: 1, topK: -1, topP: 0.9 },
  { temperature: 0.6, topK: 40, topP: 0.7 },
  { temperature: 1, topK: 100000, topP: 0.95 },
];

/**
 * Rows of several kinds for `vocab`: normal logits at two scales, a peaked row, rows with -inf and
 * very negative entries, a row of ties (quantised logits, +0 and -0 included), and uniforms at the
 * extremes (bits 0 and 2^32 - 1) besides seeded ones.
 */
export function makeCases(vocab: number, seed: number): SampleCase[] {
  const rng = new Rng(seed);
  const rowKinds: ((i: number) => number)[] = [
    () => rng.normal(),
    () => rng.normal() * 4,
    (i) => (i === vocab >> 1 ? 12 : rng.normal()),
    (i) => (i % 3 === 1 ? -Infinity : i % 3 === 2 ? -1e30 : rng.normal()),
    () => Math.round(rng.normal() * 2) / 2 || (rng.uniform() < 0.5 ? -0 : 0),
    () => rng.normal() * 0.01,
  ];
  const rows = rowKinds.length * 2;
  const logits = new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) for (let i = 0; i < vocab; i++) logits[r * vocab + i] = rowKinds[r % rowKinds.length]!(i);
  return SETTINGS.map((args, s) => {
    const bits = Int32Array.from({ length: rows }, (_, r) => (r === 0 ? 0 : r === 1 ? -1 : Math.floor(rng.uniform() * 4294967296) | 0));
    return { label: `vocab ${vocab} setting ${s}`, logits, rows, vocab, args, bits };
  });
}
