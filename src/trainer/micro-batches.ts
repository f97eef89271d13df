/**
 * Splitting rows into mini- and micro-batches. Fixed sizes split in order (after an optional
 * shuffle); dynamic sizes (`use_dynamic_bsz`) pack rows under a token budget: k = ceil(total / budget)
 * groups, filled longest first into the lightest group (veRL uses Karmarkar-Karp for the same
 * balancing; both keep every group near total / k).
 */

export function chunks<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Groups `rows` (with their token counts) into micro-batches holding at most `budget` tokens where
 * possible. `rowLength`: the most tokens one row can cost (the padded length, or with packing the
 * longest row's valid tokens), which the budget must hold.
 */
export function tokenBudgetBatches(rows: readonly number[], tokens: readonly number[], budget: number, rowLength: number): number[][] {
  if (budget < rowLength) {
    throw new Error(`ppo_max_token_len_per_gpu ${budget} is smaller than one sequence (${rowLength} tokens)`);
  }
  const total = rows.reduce((s, _, i) => s + tokens[i]!, 0);
  const k = Math.max(1, Math.min(rows.length, Math.ceil(total / budget)));
  const order = rows.map((_, i) => i).sort((a, b) => tokens[b]! - tokens[a]! || a - b);
  const groups: number[][] = Array.from({ length: k }, () => []);
  const load = new Array<number>(k).fill(0);
  for (const i of order) {
    let best = 0;
    for (let g = 1; g < k; g++) if (load[g]! < load[best]!) best = g;
    groups[best]!.push(rows[i]!);
    load[best]! += tokens[i]!;
  }
  return groups.filter((g) => g.length > 0).map((g) => g.sort((a, b) => a - b));
}
