/**
 * Whether the run a dashboard shows is still going, from the events in the order they were
 * logged: `run_start` means running, `run_end` means finished (status completed) or stopped
 * (failed, interrupted), and a later `run_start` (a resume) means running again. A run that was
 * killed before it could log `run_end` stays "running" here; the page shows how long ago its
 * last step was logged.
 */
import type { EventRecord } from './jsonl-records.js';

export type RunPhase = 'unknown' | 'running' | 'finished' | 'stopped';

export interface RunState {
  phase: RunPhase;
  /** The last step, the end status and its message, from `run_end`. */
  step?: number;
  status?: string;
  message?: string;
}

export function nextRunState(state: RunState, event: EventRecord): RunState {
  if (event.kind === 'run_start') return { phase: 'running' };
  if (event.kind !== 'run_end') return state;
  const status = typeof event.status === 'string' ? event.status : 'unknown';
  const out: RunState = { phase: status === 'completed' ? 'finished' : 'stopped', status };
  if (typeof event.step === 'number') out.step = event.step;
  if (typeof event.message === 'string') out.message = event.message;
  return out;
}

export function runStateOf(events: readonly EventRecord[]): RunState {
  return events.reduce(nextRunState, { phase: 'unknown' } as RunState);
}
