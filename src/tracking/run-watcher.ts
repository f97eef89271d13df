/**
 * Serves a run folder written by another process (`tinyzero dashboard --run DIR`): polls
 * metrics.jsonl and events.jsonl and tells the dashboard what is new. The server reads /metrics
 * from the file itself (FileMetricsLog), so the watcher keeps no history: it sends a few new steps
 * to the pages one by one, and when many arrive at once (the first poll of a long run) it only
 * says so and the pages fetch them in chunks. Events are read a chunk at a time and only the
 * latest of each kind is kept. Each poll also asks whether a running run's writer is still alive
 * (dashboard-run-state.ts). A file that was rewritten (replaced or cut short) resets the pages'
 * history. A resumed run only appends, logging again the steps after its checkpoint; the page
 * keeps the last line of each step.
 */
import { join } from 'node:path';
import type { DashboardServer } from './dashboard-server.js';
import { JsonlTail } from './jsonl-tail.js';
import { EVENTS_FILE, METRICS_FILE, decodeEventLine, decodeMetricsLine, type EventRecord } from './jsonl-records.js';

/** Bytes read from a file per step of a poll. */
const CHUNK_BYTES = 1 << 20;
/** New metrics up to this size go to the pages as one `metrics` event per step. */
const LIVE_METRICS_BYTES = 256 * 1024;

export class RunFolderWatcher {
  private readonly metricsTail: JsonlTail;
  private readonly eventsTail: JsonlTail;
  private timer: NodeJS.Timeout | null = null;
  private steps = 0;

  constructor(private readonly runDir: string, private readonly server: DashboardServer, private readonly onWarning: (m: string) => void = () => {}) {
    this.metricsTail = new JsonlTail(join(runDir, METRICS_FILE));
    this.eventsTail = new JsonlTail(join(runDir, EVENTS_FILE));
  }

  /** Lines in metrics.jsonl so far (the steps logged, counting a step logged twice twice). */
  get metricsLines(): number {
    return this.steps;
  }

  /** Reads what is new; returns the number of metrics lines taken in. */
  poll(): number {
    const events = this.pollEvents();
    const metrics = this.pollMetrics();
    if (metrics.reset || events.reset) {
      this.server.reset(metrics.reset, events.reset ? events.records : null);
      if (!events.reset) for (const r of events.records) this.server.pushEvent(r);
    } else {
      for (const r of events.records) this.server.pushEvent(r);
    }
    this.server.checkWriter();
    if (metrics.lines === null) this.server.announceMoreMetrics();
    else if (!metrics.reset) for (const line of metrics.lines) this.server.pushMetricsLine(line);
    return metrics.count;
  }

  /** New metrics lines, or null for "too many to send one by one" (then they were only counted). */
  private pollMetrics(): { reset: boolean; lines: string[] | null; count: number } {
    let reset = false;
    let lines: string[] | null = [];
    let count = 0;
    let bytes = 0;
    for (;;) {
      const chunk = this.metricsTail.readChunk(CHUNK_BYTES);
      if (chunk.reset) {
        reset = true;
        this.steps = 0;
        count = 0;
        bytes = 0;
        lines = [];
      }
      count += chunk.lines.length;
      bytes += chunk.bytes;
      if (lines !== null && bytes <= LIVE_METRICS_BYTES) lines.push(...chunk.lines.filter((l) => this.checkMetricsLine(l)));
      else lines = null;
      if (!chunk.more) break;
    }
    this.steps += count;
    return { reset, lines: count > 0 ? lines : [], count };
  }

  /** New events in order; after a reset, the whole file's (so the latest of each kind is right). */
  private pollEvents(): { reset: boolean; records: EventRecord[] } {
    let reset = false;
    let records: EventRecord[] = [];
    for (;;) {
      const chunk = this.eventsTail.readChunk(CHUNK_BYTES);
      if (chunk.reset) {
        reset = true;
        records = [];
      }
      for (const line of chunk.lines) {
        try {
          records.push(decodeEventLine(line));
        } catch (err) {
          this.onWarning(`${EVENTS_FILE}: skipped a bad line: ${(err as Error).message}`);
        }
      }
      // Only the latest of each kind matters once more than a chunk has come in: keep memory flat.
      if (chunk.more && records.length > 64) records = latestOfEachKind(records);
      if (!chunk.more) break;
    }
    return { reset, records };
  }

  private checkMetricsLine(line: string): boolean {
    try {
      decodeMetricsLine(line);
      return true;
    } catch (err) {
      this.onWarning(`${METRICS_FILE}: skipped a bad line: ${(err as Error).message}`);
      return false;
    }
  }

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => this.poll(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * The last event of each kind, in file order, keeping the order of run_start and run_end: the
 * run's phase depends on which came last.
 */
function latestOfEachKind(records: EventRecord[]): EventRecord[] {
  const last = new Map<string, number>();
  records.forEach((r, i) => last.set(r.kind, i));
  return records.filter((_, i) => [...last.values()].includes(i));
}
