/**
 * Exhaustive Countdown solver: combines the numbers pairwise with + - * / in exact rational
 * arithmetic until one value is left, so every number is used exactly once, as TinyZero's reward
 * demands. 4 numbers is at most 3,888 complete expressions, so this is fast enough to check every
 * generated problem.
 */

interface Term {
  num: number; // numerator; the value is num / den with den > 0 and gcd(num, den) = 1
  den: number;
  expr: string;
  atomic: boolean;
}

const gcd = (a: number, b: number): number => {
  a = Math.abs(a);
  while (b) [a, b] = [b, a % b];
  return a;
};

function make(num: number, den: number, expr: string): Term {
  if (den < 0) { num = -num; den = -den; }
  const g = gcd(num, den) || 1;
  return { num: num / g, den: den / g, expr, atomic: false };
}

const wrap = (t: Term): string => (t.atomic ? t.expr : `(${t.expr})`);

function combine(a: Term, b: Term): Term[] {
  const out = [
    make(a.num * b.den + b.num * a.den, a.den * b.den, `${wrap(a)} + ${wrap(b)}`),
    make(a.num * b.den - b.num * a.den, a.den * b.den, `${wrap(a)} - ${wrap(b)}`),
    make(b.num * a.den - a.num * b.den, a.den * b.den, `${wrap(b)} - ${wrap(a)}`),
    make(a.num * b.num, a.den * b.den, `${wrap(a)} * ${wrap(b)}`),
  ];
  if (b.num !== 0) out.push(make(a.num * b.den, a.den * b.num, `${wrap(a)} / ${wrap(b)}`));
  if (a.num !== 0) out.push(make(b.num * a.den, b.den * a.num, `${wrap(b)} / ${wrap(a)}`));
  return out;
}

function search(terms: Term[], target: number): string | null {
  if (terms.length === 1) return terms[0]!.den === 1 && terms[0]!.num === target ? terms[0]!.expr : null;
  for (let i = 0; i < terms.length; i++) {
    for (let j = i + 1; j < terms.length; j++) {
      const rest = terms.filter((_, k) => k !== i && k !== j);
      for (const t of combine(terms[i]!, terms[j]!)) {
        const found = search([...rest, t], target);
        if (found !== null) return found;
      }
    }
  }
  return null;
}

/** An equation using every number once that equals `target`, e.g. `(44 + 19) + 35`, or null. */
export function solveCountdown(numbers: readonly number[], target: number): string | null {
  if (numbers.length === 0 || numbers.length > 6) throw new Error(`solveCountdown: expected 1 to 6 numbers, got ${numbers.length}`);
  return search(numbers.map((n) => ({ num: n, den: 1, expr: String(n), atomic: n >= 0 })), target);
}

/**
 * Every integer in [lo, hi] that the numbers can make using each exactly once, ascending. Enumerates
 * values per subset of the numbers (combining two disjoint subsets at a time), so a problem's full
 * target set costs about as much as one exhaustive search.
 */
export function reachableTargets(numbers: readonly number[], lo: number, hi: number): number[] {
  const n = numbers.length;
  if (n === 0 || n > 6) throw new Error(`reachableTargets: expected 1 to 6 numbers, got ${n}`);
  const memo = new Map<number, Map<string, [number, number]>>();
  const values = (mask: number): Map<string, [number, number]> => {
    const cached = memo.get(mask);
    if (cached) return cached;
    const out = new Map<string, [number, number]>();
    if ((mask & (mask - 1)) === 0) {
      const v = numbers[31 - Math.clz32(mask)]!;
      out.set(`${v}/1`, [v, 1]);
    } else {
      // each unordered split {a, b} once: a holds the lowest set bit of mask
      const low = mask & -mask;
      for (let a = (mask - 1) & mask; a > 0; a = (a - 1) & mask) {
        if (!(a & low)) continue;
        const b = mask ^ a;
        if (b === 0) continue;
        for (const [an, ad] of values(a).values()) {
          for (const [bn, bd] of values(b).values()) {
            const add = (num: number, den: number): void => {
              if (den === 0) return;
              if (den < 0) { num = -num; den = -den; }
              const g = gcd(num, den) || 1;
              out.set(`${num / g}/${den / g}`, [num / g, den / g]);
            };
            add(an * bd + bn * ad, ad * bd);
            add(an * bd - bn * ad, ad * bd);
            add(bn * ad - an * bd, ad * bd);
            add(an * bn, ad * bd);
            if (bn !== 0) add(an * bd, ad * bn);
            if (an !== 0) add(bn * ad, bd * an);
          }
        }
      }
    }
    memo.set(mask, out);
    return out;
  };
  const targets: number[] = [];
  for (const [num, den] of values((1 << n) - 1).values()) if (den === 1 && num >= lo && num <= hi) targets.push(num);
  return targets.sort((x, y) => x - y);
}
