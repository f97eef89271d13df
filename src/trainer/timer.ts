/** Phase timing for a step's `timing_s/{name}` metrics; a phase timed twice adds up. `afterPhase` runs as each phase ends. */
import type { ProgressDisplay } from '../tracking/index.js';

export class Timer {
  readonly timing: Record<string, number> = {};
  constructor(private readonly progress: ProgressDisplay | null, private readonly afterPhase?: () => void) {}
  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.progress?.phase(name);
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.timing[name] = (this.timing[name] ?? 0) + (performance.now() - start) / 1000;
      this.afterPhase?.();
    }
  }
}
