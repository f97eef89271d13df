/**
 * Which prompts a step trains on: epochs of `stepsPerEpoch` batches over a shuffle of the training
 * set drawn from (seed, epoch), dropping the last partial batch (veRL's DataLoader: shuffle=True,
 * drop_last=True). A pure function of the step, so a resumed run sees the same data order.
 */
import { permutation, Prng } from '../nn/index.js';
import type { PromptRow } from './dataset.js';

export function epochPrompts(train: readonly PromptRow[], batchSize: number, stepsPerEpoch: number, step: number, seed: number): PromptRow[] {
  const epoch = Math.floor((step - 1) / stepsPerEpoch);
  const position = (step - 1) % stepsPerEpoch;
  const order = permutation(train.length, new Prng(seed * 1_000_033 + epoch));
  return order.slice(position * batchSize, (position + 1) * batchSize).map((i) => train[i]!);
}
