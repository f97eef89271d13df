/**
 * Reverse-mode autograd over a tape of GradNodes. Each op that records itself stores its inputs and
 * a backward function mapping the output gradient to one gradient per input (null where an input
 * needs none). backward() walks the graph in reverse topological order, sums gradients that meet,
 * and accumulates into the `grad` of leaves that require it.
 */
import { isGradEnabled, keep, noGrad } from './runtime.js';
import { Tensor } from './tensor.js';
import { formatShape, sameShape } from './shape.js';

export interface GradNode {
  /** The op name, for error messages and debugging. */
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients for each input given the output gradient; runs with recording off. */
  readonly backward: (grad: Tensor) => (Tensor | null)[];
}

/** True when an op over these inputs must be recorded. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  return isGradEnabled() && inputs.some((t) => t.requiresGrad);
}

/** Marks `out` as produced by `op` from `inputs` when any input requires a gradient. */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: (grad: Tensor) => (Tensor | null)[]): Tensor {
  if (!needsGrad(inputs)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs, backward };
  return out;
}

function topoSort(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep graphs (long sequences of ops) must not overflow the JS stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const child = inputs[i]!;
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

export function backward(root: Tensor, seed?: Tensor): void {
  root.assertAlive('backward');
  if (!root.requiresGrad) throw new Error(`backward: tensor of shape ${formatShape(root.shape)} does not require grad`);
  if (!seed && root.size !== 1) {
    throw new Error(`backward: tensor of shape ${formatShape(root.shape)} is not a scalar; pass the upstream gradient`);
  }
  if (seed && !sameShape(seed.shape, root.shape)) {
    throw new Error(`backward: gradient shape ${formatShape(seed.shape)} does not match tensor shape ${formatShape(root.shape)}`);
  }
  noGrad(() => {
    const order = topoSort(root);
    const grads = new Map<Tensor, Tensor>();
    // Tensors created here, so they may be freed as soon as they are consumed.
    const owned = new Set<Tensor>();
    const initial = seed ?? fullLike(root, 1);
    if (!seed) owned.add(initial);
    grads.set(root, initial);

    // Whether a gradient still waits in the map for another tensor (add's backward hands one to both inputs).
    const pending = (g: Tensor): boolean => {
      for (const v of grads.values()) if (v === g) return true;
      return false;
    };
    const release = (g: Tensor): void => {
      if (!owned.has(g) || pending(g)) return;
      owned.delete(g);
      g.dispose();
    };

    for (const t of order) {
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!t.node) {
        // A leaf without a .grad yet takes a gradient made here and held by nothing else as it is,
        // saving a copy per parameter (and its dispatch, on a GPU) in the first backward after zeroGrad.
        if (!t.grad && owned.has(g) && adoptable(g) && !pending(g)) {
          owned.delete(g);
          t.grad = keep(g);
          continue;
        }
        accumulateLeafGrad(t, g);
        release(g);
        continue;
      }
      const inputGrads = t.node.backward(g);
      t.node.inputs.forEach((input, i) => {
        const gi = inputGrads[i];
        if (!gi || !input.requiresGrad) {
          if (gi && gi !== g) release(gi);
          return;
        }
        if (!sameShape(gi.shape, input.shape)) {
          throw new Error(`backward of ${t.node!.op}: gradient shape ${formatShape(gi.shape)} does not match input shape ${formatShape(input.shape)}`);
        }
        if (gi !== g) owned.add(gi);
        const prev = grads.get(input);
        if (prev) {
          const sum = prev.add(gi);
          owned.add(sum);
          grads.set(input, sum);
          release(prev);
          release(gi);
        } else {
          grads.set(input, gi);
        }
      });
      release(g);
      // The graph is used once: drop the closure so saved tensors can be collected.
      t.node = null;
    }
  });
}

function fullLike(t: Tensor, value: number): Tensor {
  const out = Tensor.empty(t.shape, 'f32', t.backend);
  out.backend.fill(out.buffer, out.size, value, 'f32');
  return out;
}

/** A dense f32 tensor that alone uses all of its storage, so it can stand as a leaf's gradient. */
function adoptable(g: Tensor): boolean {
  return g.dtype === 'f32' && g.offset === 0 && g.isContiguous() && g.storage.refs === 1 && g.storage.length === g.size;
}

/** leaf.grad += g, keeping the gradient alive beyond any scope. */
function accumulateLeafGrad(leaf: Tensor, g: Tensor): void {
  if (!leaf.grad) {
    leaf.grad = keep(Tensor.empty(leaf.shape, 'f32', leaf.backend));
    copyInto(g, leaf.grad, false);
    return;
  }
  copyInto(g, leaf.grad, true);
}

/** dst (dense) = or += src (any view of the same shape). */
export function copyInto(src: Tensor, dst: Tensor, accumulate: boolean): void {
  src.assertAlive('copyInto');
  dst.assertAlive('copyInto');
  // copyStrided moves 4-byte elements; f16 weights are only read in place by matmul and embedding.
  if (src.dtype === 'f16' || dst.dtype === 'f16') {
    throw new Error(`copyInto: f16 tensors cannot be copied (shape ${formatShape(src.shape)}); f16 weights are read in place by matmul and embedding only`);
  }
  src.backend.copyStrided({ buf: src.buffer, offset: src.offset, strides: src.strides.slice() },
    { buf: dst.buffer, offset: dst.offset, strides: dst.strides.slice() }, src.shape.slice(), accumulate);
}
