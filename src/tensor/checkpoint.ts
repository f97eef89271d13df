/**
 * Activation checkpointing (`enable_gradient_checkpointing`, docs/verl-compat.md#gradient-checkpointing):
 * a block's intermediates are not kept for the backward but recomputed when it gets there, so a
 * training forward holds each block's output only, at the price of running every block's forward
 * twice. torch.utils.checkpoint's contract: fn must compute the same values both times (nothing
 * random, no cache writes) and read no tensor that the caller changes in between.
 */
import { backward } from './autograd.js';
import { enableGrad, isGradEnabled, noGrad, tidy } from './runtime.js';
import type { Tensor } from './tensor.js';

/**
 * fn(inputs), its intermediates freed at once. While gradients are recorded the result carries one
 * node whose backward reruns fn on the inputs' values with recording on and backpropagates the
 * output gradient through that rerun: the parameters fn reads (captured, not passed) get their
 * gradients there, added into their .grad as any backward adds them, and the inputs get theirs
 * through the node. Without recording it is fn(inputs).
 */
export function checkpoint(fn: (inputs: Tensor[]) => Tensor, inputs: Tensor[]): Tensor {
  if (!isGradEnabled()) return fn(inputs);
  const out = tidy(() => noGrad(() => fn(inputs)));
  // Recorded whether or not an input requires a gradient: the parameters fn reads may (a LoRA
  // adapter's, under a frozen embedding's output), and they are not inputs of the node.
  out.requiresGrad = true;
  out.node = {
    op: 'checkpoint',
    inputs,
    backward: (g) => tidy(() => {
      const leaves = inputs.map((x) => {
        const leaf = x.detach();
        leaf.requiresGrad = x.requiresGrad;
        return leaf;
      });
      const y = enableGrad(() => fn(leaves));
      if (!y.requiresGrad) return inputs.map(() => null);
      backward(y, g);
      // Leaf gradients are kept beyond scopes; the caller's backward owns and frees them.
      return leaves.map((leaf) => (leaf.requiresGrad ? leaf.grad : null));
    }),
  };
  return out;
}
