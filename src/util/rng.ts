/**
 * A small seeded PRNG (sfc32, state expanded from the seed with splitmix32) so that dataset
 * generation is reproducible for a seed on every platform. Not for cryptography.
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Rng: seed must be a safe integer, got ${seed}`);
    // Fold both halves of a 53-bit seed into the 32-bit splitmix state so distinct seeds stay distinct.
    let s = (seed >>> 0) ^ Math.floor(seed / 2 ** 32) * 0x9e3779b1;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  random(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** Uniform integer in [lo, hi], both inclusive, without modulo bias (rejection sampling). */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new Error(`Rng.int: bad range [${lo}, ${hi}]`);
    const n = hi - lo + 1;
    if (n > 2 ** 32) throw new Error(`Rng.int: range [${lo}, ${hi}] wider than 2^32`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let r = this.nextUint32();
    while (r >= limit) r = this.nextUint32();
    return lo + (r % n);
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }
}
