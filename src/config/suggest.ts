/** "Did you mean": the closest valid dotted key to a typo, by edit distance over full paths. */

export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidate nearest to `key`. A candidate that ends with the whole key wins first, because
 * veRL's docs abbreviate paths (`actor.ppo_epochs` for `actor_rollout_ref.actor.ppo_epochs`) and
 * the full-path distance would rather pick a short sibling such as `critic.ppo_epochs`.
 */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const suffix = candidates.filter((c) => c.endsWith(`.${key}`));
  const pool = suffix.length > 0 ? suffix : candidates;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of pool) {
    const d = editDistance(key, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
