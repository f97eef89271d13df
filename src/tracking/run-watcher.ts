/**
 * Serves a run folder written by another process (`tinyzero dashboard --run DIR`): loads
 * metrics.jsonl and events.jsonl, then polls them and pushes new lines to the dashboard. A file
 * that was rewritten (replaced or cut short) resets the pages' history. A resumed run only appends,
 * logging again the steps after its checkpoint; the page keeps the last line of each step.
 */
import { join } from 'node:path';
import type { DashboardServer } from './dashboard-server.js';
import { JsonlTail } from './jsonl-tail.js';
import { EVENTS_FILE, METRICS_FILE, decodeEventLine, decodeMetricsLine, flattenMetrics } from './jsonl-records.js';

export class RunFolderWatcher {
  private readonly metricsTail: JsonlTail;
  private readonly eventsTail: JsonlTail;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly runDir: string, private readonly server: DashboardServer, private readonly onWarning: (m: string) => void = () => {}) {
    this.metricsTail = new JsonlTail(join(runDir, METRICS_FILE));
    this.eventsTail = new JsonlTail(join(runDir, EVENTS_FILE));
  }

  /** Reads what is new; returns the number of metrics lines taken in. */
  poll(): number {
    const m = this.metricsTail.read();
    const e = this.eventsTail.read();
    // After a reset the tail has read the file again from its start, so its lines are the whole file.
    const metrics = this.decodeAll(m.lines, METRICS_FILE, (line) => flattenMetrics(decodeMetricsLine(line)));
    const events = this.decodeAll(e.lines, EVENTS_FILE, decodeEventLine);
    if (m.reset || e.reset) {
      this.server.reset(m.reset ? metrics : null, e.reset ? events : null);
      if (!m.reset) for (const r of metrics) this.server.pushMetrics(r);
      if (!e.reset) for (const r of events) this.server.pushEvent(r);
      return metrics.length;
    }
    for (const r of metrics) this.server.pushMetrics(r);
    for (const r of events) this.server.pushEvent(r);
    return metrics.length;
  }

  private decodeAll<T>(lines: string[], file: string, decode: (line: string) => T): T[] {
    const out: T[] = [];
    for (const line of lines) {
      try {
        out.push(decode(line));
      } catch (err) {
        this.onWarning(`${file}: skipped a bad line: ${(err as Error).message}`);
      }
    }
    return out;
  }

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => this.poll(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
