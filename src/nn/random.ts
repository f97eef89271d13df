/**
 * A small seeded PRNG for weight initialisation: mulberry32 for uniforms, Box-Muller for normals.
 * Deterministic for a seed on every platform (only 32-bit integer math and Math.log/cos/sin), so a
 * model built twice from the same seed has bit-identical weights. Not for cryptography.
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

  /** Uniform in [0, 1) with 32 bits of randomness. */
  uniform(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
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

  /** Fills `out` with normal(mean, std) values and returns it. */
  fillNormal(out: Float32Array, std: number, mean = 0): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
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

/** A Fisher-Yates permutation of 0..n-1 drawn from `rng` (the one shuffle every data order uses). */
export function permutation(n: number, rng: Prng): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
