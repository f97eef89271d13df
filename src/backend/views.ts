/** Checks on StridedView operands shared by the backends. */
import type { StridedView } from './backend.js';

/** Throws unless every view starts at element 0 (where's kernels take no offsets). */
export function requireZeroOffsets(op: string, views: Record<string, StridedView>): void {
  for (const [name, view] of Object.entries(views)) {
    if (view.offset !== 0) throw new Error(`${op}: ${name} view has offset ${view.offset}; ${op} reads its operands from element 0`);
  }
}
