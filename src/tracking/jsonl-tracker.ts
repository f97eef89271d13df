/**
 * Appends metrics and events to metrics.jsonl and events.jsonl in the run folder. Each line goes
 * to the OS in one synchronous write (and is fsync'ed unless disabled), so a crash or SIGKILL loses
 * at most the line being written; reopening the files trims such a partial line so later appends
 * start on a clean line.
 *
 * The files are only ever appended to. A resumed run logs the steps after its checkpoint again, so
 * lines an interrupted run wrote past that checkpoint stay as history, followed by the resumed
 * run's lines for the same steps: readers take the last line of each step (latestPerStep, as the
 * dashboard does), which is the run that continued.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync, ftruncateSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EVENTS_FILE, METRICS_FILE, encodeMetricsLine, jsonReplacer } from './jsonl-records.js';
import { errorNamingFile } from '../util/atomic-file.js';
import type { EventKind, EventPayloads, Tracker } from './types.js';

export interface JsonlTrackerOptions {
  runDir: string;
  /** fsync after every line (default true): one fsync per step is cheap next to a training step. */
  fsync?: boolean;
  /** Clock for the "time" field (tests pin it). */
  now?: () => Date;
}

export class JsonlTracker implements Tracker {
  readonly metricsPath: string;
  readonly eventsPath: string;
  private metricsFd: number | null;
  private eventsFd: number | null;
  private readonly fsync: boolean;
  private readonly now: () => Date;

  constructor(options: JsonlTrackerOptions) {
    mkdirSync(options.runDir, { recursive: true });
    this.metricsPath = join(options.runDir, METRICS_FILE);
    this.eventsPath = join(options.runDir, EVENTS_FILE);
    this.fsync = options.fsync ?? true;
    this.now = options.now ?? (() => new Date());
    this.metricsFd = openAppendTrimmed(this.metricsPath);
    this.eventsFd = openAppendTrimmed(this.eventsPath);
  }

  log(metrics: Readonly<Record<string, number>>, step: number): void {
    if (this.metricsFd === null) throw new Error('JsonlTracker: log() after close()');
    const line = encodeMetricsLine({ step, time: this.now().toISOString(), metrics: { ...metrics } });
    this.append(this.metricsFd, line, this.metricsPath);
  }

  event<K extends EventKind>(kind: K, payload: EventPayloads[K]): void {
    if (this.eventsFd === null) throw new Error('JsonlTracker: event() after close()');
    // The writer's identity lets a dashboard on this host tell a run killed before its run_end.
    const writer = kind === 'run_start' ? { pid: process.pid, host: hostname() } : {};
    const line = JSON.stringify({ kind, time: this.now().toISOString(), ...writer, ...payload }, jsonReplacer) + '\n';
    this.append(this.eventsFd, line, this.eventsPath);
  }

  async close(): Promise<void> {
    for (const fd of [this.metricsFd, this.eventsFd]) if (fd !== null) closeSync(fd);
    this.metricsFd = this.eventsFd = null;
  }

  private append(fd: number, line: string, path: string): void {
    const bytes = Buffer.from(line, 'utf8');
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      if (this.fsync) fsyncSync(fd);
    } catch (e) {
      throw errorNamingFile(e, path); // a full disk's ENOSPC names no file by itself
    }
  }
}

/** Opens for append after cutting a partial last line (one without '\n') left by a crash. */
function openAppendTrimmed(path: string): number {
  const fd = openSync(path, 'a+');
  const text = readFileSync(fd);
  if (text.length > 0 && text[text.length - 1] !== 0x0a) {
    ftruncateSync(fd, text.lastIndexOf(0x0a) + 1);
  }
  return fd;
}
