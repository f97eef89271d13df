/**
 * The run folder's two JSONL files and how their lines are encoded and read back.
 *
 * metrics.jsonl: one `{"step": N, ...metrics, "time": ISO}` per logged step.
 * events.jsonl:  one `{"kind": K, "time": ISO, ...payload}` per event.
 *
 * JSON has no NaN or Infinity, and a diverging run is exactly when those matter, so non-finite
 * numbers are written as the strings "NaN", "Infinity" and "-Infinity" and turned back into
 * numbers on read.
 */
import { readFileSync } from 'node:fs';

export const METRICS_FILE = 'metrics.jsonl';
export const EVENTS_FILE = 'events.jsonl';

export interface MetricsRecord {
  step: number;
  /** ISO-8601 wall-clock time the step was logged. */
  time: string;
  metrics: Record<string, number>;
}

/** One events.jsonl line; the payload fields sit beside `kind` and `time`. */
export interface EventRecord {
  kind: string;
  time: string;
  [field: string]: unknown;
}

/** A metrics line as stored and served by the dashboard's /metrics: step, metrics, time. */
export type FlatMetrics = Record<string, number | string>;

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** JSON.stringify replacer that keeps NaN/±Infinity as strings instead of null. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

export function flattenMetrics(record: MetricsRecord): FlatMetrics {
  const flat: FlatMetrics = { step: record.step };
  for (const [key, value] of Object.entries(record.metrics)) {
    if (key === 'step' || key === 'time') {
      throw new Error(`metric name '${key}' is reserved in metrics.jsonl (it holds the step number and the log time)`);
    }
    flat[key] = value;
  }
  flat.time = record.time;
  return flat;
}

export function encodeMetricsLine(record: MetricsRecord): string {
  return JSON.stringify(flattenMetrics(record), jsonReplacer) + '\n';
}

/** Inverse of encodeMetricsLine; throws with the reason when the line is not a metrics record. */
export function decodeMetricsLine(line: string): MetricsRecord {
  const value: unknown = JSON.parse(line);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  const obj = value as Record<string, unknown>;
  const { step, time } = obj;
  if (typeof step !== 'number' || !Number.isInteger(step)) throw new Error('"step" is not an integer');
  if (typeof time !== 'string') throw new Error('"time" is not a string');
  const metrics: Record<string, number> = {};
  for (const [key, v] of Object.entries(obj)) {
    if (key === 'step' || key === 'time') continue;
    if (typeof v === 'number') metrics[key] = v;
    else if (typeof v === 'string' && v in NON_FINITE) metrics[key] = NON_FINITE[v]!;
    else throw new Error(`metric '${key}' is not a number: ${JSON.stringify(v)}`);
  }
  return { step, time, metrics };
}

export function decodeEventLine(line: string): EventRecord {
  const value: unknown = JSON.parse(line);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  const obj = value as Record<string, unknown>;
  if (typeof obj.kind !== 'string' || typeof obj.time !== 'string') throw new Error('missing "kind" or "time"');
  return obj as EventRecord;
}

/**
 * Splits a JSONL text into decoded lines. The last line may be cut short by a crash mid-write (it
 * has no final newline); it is dropped. A bad line anywhere else is corruption and throws with
 * the file name and line number, since resuming from a silently shortened history is worse.
 */
export function decodeJsonl<T>(text: string, decode: (line: string) => T, source: string): T[] {
  const lines = text.split('\n');
  const complete = text.endsWith('\n');
  const out: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const isLast = i === lines.length - 1;
    try {
      out.push(decode(line));
    } catch (e) {
      if (isLast && !complete) break; // truncated tail of a crashed write
      throw new Error(`${source}:${i + 1}: ${(e as Error).message}`);
    }
  }
  return out;
}

function readTextIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/** Loads metrics.jsonl (a missing file is an empty history); tolerates a truncated last line. */
export function readMetricsJsonl(path: string): MetricsRecord[] {
  return decodeJsonl(readTextIfExists(path), decodeMetricsLine, path);
}

/** Loads events.jsonl (a missing file is no events); tolerates a truncated last line. */
export function readEventsJsonl(path: string): EventRecord[] {
  return decodeJsonl(readTextIfExists(path), decodeEventLine, path);
}

/**
 * One record per step, the last one logged for it, in step order: the view of an append-only
 * metrics.jsonl in which a resumed run logged again the steps an interrupted run had logged past
 * its checkpoint.
 */
export function latestPerStep(records: readonly MetricsRecord[]): MetricsRecord[] {
  const byStep = new Map<number, MetricsRecord>();
  for (const r of records) byStep.set(r.step, r);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}
