/**
 * Which prompts the data loader's batch number `batchNumber` (1-based over the run) holds: epochs of
 * `batchesPerEpoch` batches over a shuffle of the training set drawn from (seed, epoch), dropping
 * the last partial batch (veRL's DataLoader: shuffle=True, drop_last=True). A pure function of the
 * batch number, so a resumed run that knows its position sees the same data order. Without dynamic
 * sampling the batch number is the step; with it a step may draw several batches.
 */
import { permutation, Prng } from '../util/prng.js';
import type { PromptRow } from './dataset.js';

export function epochPrompts(train: readonly PromptRow[], batchSize: number, batchesPerEpoch: number, batchNumber: number, seed: number): PromptRow[] {
  const epoch = Math.floor((batchNumber - 1) / batchesPerEpoch);
  const position = (batchNumber - 1) % batchesPerEpoch;
  const order = permutation(train.length, new Prng(seed * 1_000_033 + epoch));
  return order.slice(position * batchSize, (position + 1) * batchSize).map((i) => train[i]!);
}
