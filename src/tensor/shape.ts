/** Shape arithmetic shared by the tensor ops. Shapes are plain number arrays, row-major. */

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Resolves a possibly negative axis against `rank`, naming the op on error. */
export function normalizeAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** NumPy broadcasting of two shapes; throws naming the op and both shapes when they do not broadcast. */
export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides that read a tensor of `shape` with `strides` as if it had `target` shape (broadcast):
 * leading missing axes and size-1 axes that are expanded get stride 0.
 */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const off = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[off + i] = shape[i] === 1 && target[off + i] !== 1 ? 0 : strides[i]!;
  return out;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Resolves one -1 in a reshape target. */
export function inferShape(shape: readonly number[], size: number, op: string): number[] {
  const unknown = shape.indexOf(-1);
  if (unknown >= 0 && shape.indexOf(-1, unknown + 1) >= 0) throw new Error(`${op}: only one dimension may be -1, got ${formatShape(shape)}`);
  const known = shape.reduce((a, d, i) => (i === unknown ? a : a * d), 1);
  const out = shape.slice();
  if (unknown >= 0) {
    if (known === 0 || size % known !== 0) throw new Error(`${op}: cannot reshape ${size} elements to ${formatShape(shape)}`);
    out[unknown] = size / known;
  }
  if (out.some((d) => !Number.isInteger(d) || d < 0) || numel(out) !== size) {
    throw new Error(`${op}: cannot reshape ${size} elements to ${formatShape(shape)}`);
  }
  return out;
}
