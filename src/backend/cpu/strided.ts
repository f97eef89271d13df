/**
 * Shape and stride bookkeeping for the strided-map kernel (binary, where, copyStrided): simplify a
 * layout before it reaches wasm, and bound the elements it can touch.
 */

/** The kernel walks at most this many axes; larger ranks loop over their leading axes in TS. */
export const MAP_RANK = 6;

export interface StridedLayout {
  shape: number[];
  /** One stride array per operand, each as long as shape. */
  strides: number[][];
}

/**
 * Drops size-1 axes and merges neighbours that every operand walks as one (stride[d] ==
 * stride[d+1] * shape[d+1]), so a contiguous or scalar-broadcast operation becomes a single run,
 * which is the kernel's fast path. Never returns rank 0: a scalar is shape [1].
 */
export function collapse(shape: number[], strides: number[][]): StridedLayout {
  const keep = shape.map((_, d) => d).filter((d) => shape[d] !== 1);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const d of keep) {
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, o) => outStrides[o]![last] === s[d]! * shape[d]!)) {
      outShape[last] = outShape[last]! * shape[d]!;
      strides.forEach((s, o) => { outStrides[o]![last] = s[d]!; });
    } else {
      outShape.push(shape[d]!);
      strides.forEach((s, o) => outStrides[o]!.push(s[d]!));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

/** Element strides of a dense row-major array of `shape`. */
export function denseStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

/** [lowest, highest] element index reached from `offset` through `strides` over a non-empty shape. */
export function extent(shape: number[], strides: number[], offset: number): [number, number] {
  let lo = offset;
  let hi = offset;
  shape.forEach((n, d) => {
    const span = (n - 1) * strides[d]!;
    if (span < 0) lo += span;
    else hi += span;
  });
  return [lo, hi];
}
