/**
 * Runs the same kernel call on the CPU backend and the reference backend with identical inputs and
 * compares the results. Error is measured as max |cpu - ref| / max |ref| over each output, so a
 * value near zero in a large tensor is judged on the tensor's scale, as f32 rounding is.
 */
import assert from 'node:assert/strict';
import type { Backend, DeviceBuffer } from '../../src/backend/backend.js';

export type HostData = Float32Array | Int32Array;

export interface Case {
  /** Buffers to create and fill, by name (outputs that are accumulated into belong here too). */
  inputs: Record<string, HostData>;
  /** Output buffers to create zero-filled, by name and element count. */
  outputs?: Record<string, number>;
  /** Names to read back and compare (f32). */
  compare: string[];
  call: (be: Backend, b: Record<string, DeviceBuffer>) => void;
}

/** Allocates the case's inputs (written) and outputs (zeroed); returns the buffers and their element counts. */
export function setUpCase(be: Backend, c: Case): { bufs: Record<string, DeviceBuffer>; sizes: Record<string, number> } {
  const bufs: Record<string, DeviceBuffer> = {};
  const sizes: Record<string, number> = {};
  for (const [name, data] of Object.entries(c.inputs)) {
    sizes[name] = Math.max(data.length, 1);
    bufs[name] = be.alloc(sizes[name]! * 4);
    be.write(bufs[name]!, data);
  }
  for (const [name, n] of Object.entries(c.outputs ?? {})) {
    sizes[name] = Math.max(n, 1);
    bufs[name] = be.alloc(sizes[name]! * 4);
    be.fill(bufs[name]!, sizes[name]!, 0, 'f32');
  }
  return { bufs, sizes };
}

export function runCase(be: Backend, c: Case): Record<string, Float32Array> {
  const { bufs } = setUpCase(be, c);
  c.call(be, bufs);
  const out: Record<string, Float32Array> = {};
  for (const name of c.compare) {
    const buf = bufs[name]!;
    out[name] = be.readSync!(buf, 'f32', 0, buf.byteLength / 4) as Float32Array;
  }
  for (const buf of Object.values(bufs)) be.free(buf);
  return out;
}

/** max |a - b| / max |b| (NaNs must match), with max |b| floored at 1e-30. */
export function relError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 1e-30;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i]!) || Number.isNaN(a[i]!)) {
      assert.ok(Number.isNaN(a[i]!) && Number.isNaN(b[i]!), `NaN mismatch at ${i}: ${a[i]} vs ${b[i]}`);
      continue;
    }
    if (!Number.isFinite(b[i]!)) {
      assert.equal(a[i], b[i], `infinity mismatch at ${i}`);
      continue;
    }
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / scale;
}

/** Runs `c` on both backends and asserts every compared output agrees within `tol`. */
export function assertSame(cpu: Backend, ref: Backend, label: string, c: Case, tol = 1e-5): void {
  const got = runCase(cpu, c);
  const want = runCase(ref, c);
  for (const name of c.compare) {
    const err = relError(got[name]!, want[name]!);
    assert.ok(err <= tol, `${label}: ${name} differs from the reference by ${err.toExponential(2)} (tolerance ${tol})`);
  }
}
