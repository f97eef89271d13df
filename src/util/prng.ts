/**
 * The project's one seeded PRNG: mulberry32 for uniforms and integers, Box-Muller for normals. It
 * draws weight initialisations, samples tokens, orders training data and generates the task data
 * sets. Deterministic for a seed on every platform (only 32-bit integer math and Math.log/cos/sin),
 * so a model or data set built twice from the same seed is bit-identical. Not for cryptography.
 */
export interface PrngState {
  /** The mulberry32 counter (uint32). */
  s: number;
  /** The second Box-Muller value, not yet handed out. */
  spare: number | null;
}

export class Prng {
  #s: number;
  #spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Prng: seed must be a safe integer, got ${seed}`);
    // Fold the high bits in so seeds that differ only above 2^32 still give different streams.
    this.#s = ((seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32), 0x9e3779b1)) >>> 0;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * Moves the stream on by `n` uniforms in one step (mulberry32's state is a counter), so a worker
   * can draw the part of a stream that starts n values in: fillNormal uses one uniform per value.
   * Refused while a Box-Muller spare is pending, since it belongs to the values skipped.
   */
  skipUniforms(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Prng.skipUniforms: n must be a non-negative integer, got ${n}`);
    if (this.#spare !== null) throw new Error('Prng.skipUniforms: a normal value is pending; skip only at an even count of normals');
    // The product is taken mod 2^32, as the state's additions are (Math.imul reads n mod 2^32).
    this.#s = (this.#s + Math.imul(n % 2 ** 32, 0x6d2b79f5)) >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [lo, hi], both inclusive, without modulo bias (rejection sampling). */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new Error(`Prng.int: bad range [${lo}, ${hi}]`);
    const n = hi - lo + 1;
    if (n > 2 ** 32) throw new Error(`Prng.int: range [${lo}, ${hi}] wider than 2^32`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let r = this.nextUint32();
    while (r >= limit) r = this.nextUint32();
    return lo + (r % n);
  }

  /** Fisher-Yates shuffle in place (the one shuffle every data order uses); returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** Standard normal. Box-Muller makes two values per pair of uniforms; the second is kept for the next call. */
  normal(): number {
    if (this.#spare !== null) {
      const z = this.#spare;
      this.#spare = null;
      return z;
    }
    // 1 - u lies in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.#spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /**
   * Fills `out` with normal(mean, std) values and returns it: the values of `normal()` called
   * out.length times, bit for bit, but each Box-Muller pair drawn in one pass with the generator's
   * state in a local (init-model draws billions of them).
   */
  fillNormal(out: Float32Array, std: number, mean = 0): Float32Array {
    const n = out.length;
    let i = 0;
    if (n > 0 && this.#spare !== null) {
      out[i++] = mean + std * this.#spare;
      this.#spare = null;
    }
    let s = this.#s;
    const next = (): number => {
      let t = (s = (s + 0x6d2b79f5) >>> 0);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (; i + 1 < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - next()));
      const theta = 2 * Math.PI * next();
      out[i] = mean + std * (r * Math.cos(theta));
      out[i + 1] = mean + std * (r * Math.sin(theta));
    }
    this.#s = s;
    if (i < n) out[i] = mean + std * this.normal();
    return out;
  }

  /** The full generator state, for checkpoints. */
  getState(): PrngState {
    return { s: this.#s, spare: this.#spare };
  }

  setState(state: PrngState): void {
    if (!Number.isInteger(state.s) || state.s < 0 || state.s > 0xffffffff) throw new Error(`Prng.setState: bad counter ${state.s}`);
    this.#s = state.s;
    this.#spare = state.spare;
  }
}

/** A random permutation of 0..n-1 drawn from `rng`. */
export function permutation(n: number, rng: Prng): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}
