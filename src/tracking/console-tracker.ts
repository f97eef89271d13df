/**
 * The 'console' logger: one veRL line per step on stdout (see console-format.ts). Events print
 * nothing here: stdout carries only step lines, which is what veRL's e2e check reads.
 */
import { formatStepLine } from './console-format.js';
import type { EventKind, EventPayloads, StatusLine, TextSink, Tracker } from './types.js';

export interface ConsoleTrackerOptions {
  /** Default process.stdout. */
  out?: TextSink;
  /** The progress display, cleared around each line so the two never share a terminal row. */
  statusLine?: StatusLine;
}

export class ConsoleTracker implements Tracker {
  private readonly out: TextSink;
  private readonly statusLine: StatusLine | undefined;

  constructor(options: ConsoleTrackerOptions = {}) {
    this.out = options.out ?? process.stdout;
    this.statusLine = options.statusLine;
  }

  log(metrics: Readonly<Record<string, number>>, step: number): void {
    const line = formatStepLine(step, metrics) + '\n';
    if (this.statusLine) this.statusLine.printAbove(() => this.out.write(line));
    else this.out.write(line);
  }

  event<K extends EventKind>(_kind: K, _payload: EventPayloads[K]): void {}

  async close(): Promise<void> {}
}
