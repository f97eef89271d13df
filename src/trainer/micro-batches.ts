/**
 * Splitting rows into mini- and micro-batches. Fixed sizes split in order (after an optional
 * shuffle); dynamic sizes (`use_dynamic_bsz`) balance rows by valid tokens under a token budget as
 * veRL's seqlen_balancing does: k = ceil(total / budget) micro-batches, partitioned by the
 * Karmarkar-Karp largest differencing method (docs/verl-compat.md#update-loops).
 */

export function chunks<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One partition under construction: its sum and its (index, length) items in the order added. */
interface PartSet {
  sum: number;
  items: [number, number][];
}

/** Python's ordering of veRL's Set: by sum, then item count, then the (index, length) items lexicographically. */
function setLess(a: PartSet, b: PartSet): boolean {
  if (a.sum !== b.sum) return a.sum < b.sum;
  if (a.items.length !== b.items.length) return a.items.length < b.items.length;
  for (let i = 0; i < a.items.length; i++) {
    const [ai, av] = a.items[i]!, [bi, bv] = b.items[i]!;
    if (ai !== bi) return ai < bi;
    if (av !== bv) return av < bv;
  }
  return false;
}

/** k sets, kept in decreasing order. */
type PartState = PartSet[];

const spread = (s: PartState): number => s[0]!.sum - s[s.length - 1]!.sum;

/** The heap's order: the largest spread first, then the largest first set. */
function stateLess(a: PartState, b: PartState): boolean {
  const sa = spread(a), sb = spread(b);
  if (sa !== sb) return sa > sb;
  return setLess(b[0]!, a[0]!);
}

/** Decreasing, equal sets kept in their order (Python's stable sorted(reverse=True)). */
function sortDecreasing(s: PartState): PartState {
  return s.sort((a, b) => (setLess(b, a) ? -1 : setLess(a, b) ? 1 : 0));
}

/**
 * A binary min-heap laid out and sifted exactly as Python's heapq, so that states of equal rank
 * are popped in the order veRL's are and the partitions come out the same.
 */
class PyHeap<T> {
  readonly #a: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.#a.length;
  }

  push(item: T): void {
    this.#a.push(item);
    this.#siftDown(0, this.#a.length - 1);
  }

  pop(): T {
    const last = this.#a.pop();
    if (last === undefined) throw new Error('PyHeap.pop: empty heap');
    if (this.#a.length === 0) return last;
    const top = this.#a[0]!;
    this.#a[0] = last;
    this.#siftUp(0);
    return top;
  }

  #siftDown(start: number, pos: number): void {
    const a = this.#a, item = a[pos]!;
    while (pos > start) {
      const parent = (pos - 1) >> 1;
      if (!this.less(item, a[parent]!)) break;
      a[pos] = a[parent]!;
      pos = parent;
    }
    a[pos] = item;
  }

  #siftUp(pos: number): void {
    const a = this.#a, end = a.length, start = pos, item = a[pos]!;
    let child = 2 * pos + 1;
    while (child < end) {
      const right = child + 1;
      if (right < end && !this.less(a[child]!, a[right]!)) child = right;
      a[pos] = a[child]!;
      pos = child;
      child = 2 * pos + 1;
    }
    a[pos] = item;
    this.#siftDown(start, pos);
  }
}

/**
 * veRL's get_seqlen_balanced_partitions: `k` partitions of the indices of `lengths` with balanced
 * sums, by the largest differencing method. Every length starts as a state of k sets (one holding
 * it); the two states of largest spread are merged, the largest set of one with the smallest of the
 * other, until one state is left. `equalSize` starts from states of k items each (consecutive in
 * sorted order), so every partition gets lengths.length / k items. Partitions come in decreasing
 * order of their sums, each in increasing index order; none is empty.
 */
export function balancedPartitions(lengths: readonly number[], k: number, equalSize = false): number[][] {
  const n = lengths.length;
  if (!Number.isInteger(k) || k < 1) throw new Error(`balancedPartitions: the number of partitions must be a positive integer, got ${k}`);
  if (n < k) throw new Error(`balancedPartitions: ${n} items cannot fill ${k} partitions`);
  if (equalSize && n % k !== 0) throw new Error(`balancedPartitions: equal sizes need the item count (${n}) to be a multiple of the partitions (${k})`);
  const sorted = lengths.map((len, i) => [len, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const state = (items: (readonly [number, number])[]): PartState => {
    const sets: PartState = Array.from({ length: k }, () => ({ sum: 0, items: [] }));
    items.forEach(([len, i], s) => {
      sets[s]!.items.push([i, len]);
      sets[s]!.sum += len;
    });
    return sortDecreasing(sets);
  };
  const heap = new PyHeap<PartState>(stateLess);
  const step = equalSize ? k : 1;
  for (let o = 0; o < n; o += step) heap.push(state(sorted.slice(o, o + step)));
  while (heap.size > 1) {
    const a = heap.pop(), b = heap.pop();
    for (let s = 0; s < k; s++) {
      const into = a[s]!, from = b[k - 1 - s]!;
      for (const it of from.items) into.items.push(it);
      into.sum += from.sum;
    }
    heap.push(sortDecreasing(a));
  }
  const parts = heap.pop().map((s) => s.items.map(([i]) => i).sort((x, y) => x - y));
  if (parts.some((p) => p.length === 0)) throw new Error(`balancedPartitions: a partition of ${n} items into ${k} came out empty`);
  return parts;
}

/**
 * Groups `rows` (with their token counts) into micro-batches of balanced token counts, each at most
 * `budget` tokens. `rowLength`: the most tokens one row can cost (the padded length, or with packing
 * the longest row's valid tokens), which the budget must hold. `budgetKey` names the budget in the
 * error (veRL's ppo_max_token_len_per_gpu, log_prob_max_token_len_per_gpu or
 * forward_max_token_len_per_gpu). As veRL: k = ceil(total / budget) micro-batches (at most one per
 * row) partitioned by balancedPartitions. veRL keeps that k even when a partition passes the budget;
 * here k grows by one until none does, so the budget caps every micro-batch (the memory plan relies
 * on it). Micro-batches come in veRL's order (decreasing tokens), rows in increasing order.
 */
export function tokenBudgetBatches(rows: readonly number[], tokens: readonly number[], budget: number, rowLength: number,
  budgetKey = 'ppo_max_token_len_per_gpu'): number[][] {
  if (budget < rowLength) {
    throw new Error(`${budgetKey} ${budget} is smaller than one sequence (${rowLength} tokens)`);
  }
  if (rows.length === 0) return [];
  const lengths = rows.map((_, i) => tokens[i]!);
  const total = lengths.reduce((s, t) => s + t, 0);
  for (let k = Math.max(1, Math.min(rows.length, Math.ceil(total / budget))); ; k++) {
    const parts = balancedPartitions(lengths, k);
    const fits = parts.every((p) => p.reduce((s, i) => s + lengths[i]!, 0) <= budget);
    // k = rows.length puts one row in each, which the budget holds (checked above).
    if (fits || k >= rows.length) return parts.map((p) => p.map((i) => rows[i]!));
  }
}
