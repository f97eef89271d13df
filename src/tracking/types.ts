/**
 * The contract between the trainer and the metric backends. The trainer builds one flat metrics
 * dict per step (veRL's names, docs/verl-compat.md#metrics) and hands it to `log`; everything that is not a number
 * per step (sample responses, validation summaries, run start/end) goes through `event`.
 */

/** One sampled response, shown on the dashboard and kept in events.jsonl. */
export interface SampleRecord {
  prompt: string;
  response: string;
  /** The reward the response earned (sum over its tokens). */
  score?: number;
  groundTruth?: string;
  dataSource?: string;
}

/** The payload of each non-metric event, keyed by its kind. */
export interface EventPayloads {
  /** `config` is the resolved run config; it is stored as JSON, so it must be JSON-serialisable. */
  run_start: {
    config: unknown;
    totalSteps?: number;
    /** The first step this process runs (greater than 1 after a resume). */
    startStep?: number;
    /** On a resume: the step of the checkpoint it continues from (0: none, the run started over). */
    resumedFrom?: number;
    /** On a resume: the config keys that differ from the run's earlier config. */
    configChanges?: { key: string; from: unknown; to: unknown }[];
    project?: string;
    experiment?: string;
    runDir?: string;
    /** The writing process and its host; JsonlTracker adds them (see dashboard-run-state.ts). */
    pid?: number;
    host?: string;
  };
  samples: { step: number; split?: 'train' | 'val'; samples: SampleRecord[] };
  validation: { step: number; metrics: Record<string, number>; samples?: SampleRecord[] };
  run_end: { step: number; status: 'completed' | 'failed' | 'interrupted'; message?: string };
}

export type EventKind = keyof EventPayloads;

export const EVENT_KINDS: readonly EventKind[] = ['run_start', 'samples', 'validation', 'run_end'];

export interface Tracker {
  /** One call per step; `metrics` is flat, keys in the order the console should print them. */
  log(metrics: Readonly<Record<string, number>>, step: number): void;
  event<K extends EventKind>(kind: K, payload: EventPayloads[K]): void;
  /** Flushes and releases files, servers and timers; safe to call twice. */
  close(): Promise<void>;
}

/** The part of a Node stream the backends write to, so tests can pass a fake. */
export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
  /** Terminal width; the status line is cut to it so it never wraps (a wrapped line cannot be cleared with \r). */
  columns?: number;
}

/** Something that draws a status line the console must not clobber (see ProgressDisplay). */
export interface StatusLine {
  /** Clears the status line, runs `print`, then redraws the status line below what was printed. */
  printAbove(print: () => void): void;
}
