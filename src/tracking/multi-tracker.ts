/**
 * Fans each call out to every backend. A backend that throws does not stop the others; the first
 * error is rethrown after all have run, so a full disk still fails the step loudly.
 */
import type { EventKind, EventPayloads, Tracker } from './types.js';

export class MultiTracker implements Tracker {
  private closed = false;

  constructor(readonly trackers: readonly Tracker[]) {}

  log(metrics: Readonly<Record<string, number>>, step: number): void {
    if (!Number.isInteger(step) || step < 0) throw new Error(`tracker: step must be a non-negative integer, got ${step}`);
    this.each((t) => t.log(metrics, step));
  }

  event<K extends EventKind>(kind: K, payload: EventPayloads[K]): void {
    this.each((t) => t.event(kind, payload));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled(this.trackers.map((t) => t.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private each(call: (t: Tracker) => void): void {
    let first: unknown = null;
    for (const t of this.trackers) {
      try {
        call(t);
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== null) throw first;
  }
}
