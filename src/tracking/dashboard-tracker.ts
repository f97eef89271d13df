/**
 * The 'dashboard' logger: runs the dashboard server inside the training process and pushes each
 * step and event to the open pages. With a run folder it starts from the history already there
 * (a resumed run shows its earlier steps), read from metrics.jsonl as pages ask for it. Closing it closes the server; it never holds the process.
 */
import { join } from 'node:path';
import { DashboardServer } from './dashboard-server.js';
import { PrefixedMetricsLog, completeLinesEnd } from './dashboard-metrics-log.js';
import { EVENTS_FILE, METRICS_FILE, flattenMetrics, readEventsJsonl, type EventRecord } from './jsonl-records.js';
import type { EventKind, EventPayloads, Tracker } from './types.js';

export interface DashboardTrackerOptions {
  /** 0 picks a free port (the URL is in `url`). */
  port: number;
  /** Run folder whose metrics.jsonl/events.jsonl seed the history. */
  runDir?: string;
  title?: string;
  /** Clock for the "time" field (tests pin it). */
  now?: () => Date;
}

export class DashboardTracker implements Tracker {
  private constructor(readonly server: DashboardServer, private readonly now: () => Date) {}

  static async start(options: DashboardTrackerOptions): Promise<DashboardTracker> {
    // The history already in the run folder is served from the file, not loaded: it can be large.
    const path = options.runDir ? join(options.runDir, METRICS_FILE) : null;
    const metrics = path ? new PrefixedMetricsLog(path, await completeLinesEnd(path)) : undefined;
    const events = options.runDir ? readEventsJsonl(join(options.runDir, EVENTS_FILE)) : [];
    const server = await DashboardServer.start({ port: options.port, title: options.title, metrics, events });
    return new DashboardTracker(server, options.now ?? (() => new Date()));
  }

  get url(): string {
    return this.server.url;
  }

  log(metrics: Readonly<Record<string, number>>, step: number): void {
    this.server.pushMetrics(flattenMetrics({ step, time: this.now().toISOString(), metrics: { ...metrics } }));
  }

  event<K extends EventKind>(kind: K, payload: EventPayloads[K]): void {
    const record: EventRecord = { kind, time: this.now().toISOString(), ...payload };
    this.server.pushEvent(record);
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
