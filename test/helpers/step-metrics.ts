import assert from 'node:assert/strict';

/**
 * Two runs' per-step metrics agree on `keys`: each value present and finite in `want`, and within
 * `tol` relative (absolute below 1) in `got`.
 */
export function assertStepMetricsClose(got: Record<string, number>[], want: Record<string, number>[], keys: readonly string[], label: string, tol: number): void {
  assert.equal(got.length, want.length, `${label}: step count`);
  want.forEach((w, i) => {
    for (const k of keys) {
      assert.ok(Number.isFinite(w[k]), `${label} step ${i + 1} has ${k}`);
      assert.ok(Math.abs(got[i]![k]! - w[k]!) <= tol * Math.max(1, Math.abs(w[k]!)), `${label} step ${i + 1} ${k}: ${got[i]![k]} vs ${w[k]}`);
    }
  });
}
