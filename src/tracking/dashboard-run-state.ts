/**
 * Whether the run a dashboard shows is still going, from the events in the order they were
 * logged: `run_start` means running, `run_end` means finished (status completed) or stopped
 * (failed, interrupted), and a later `run_start` (a resume) means running again. A run killed
 * before it could log `run_end` (SIGKILL, Ctrl-C, out of memory) is told by its writer being gone:
 * `run_start` records the writing process (pid, host), and a dashboard on the same host that finds
 * no such process says stopped. On another host, or if the pid was reused by another process, the
 * run stays "running"; the page shows when its last step was logged.
 */
import { hostname } from 'node:os';
import type { EventRecord } from './jsonl-records.js';

export type RunPhase = 'unknown' | 'running' | 'finished' | 'stopped';

export interface RunState {
  phase: RunPhase;
  /** The writer from `run_start` while running (not sent to pages). */
  writer?: { pid: number; host: string };
  /** The last step, the end status and its message, from `run_end`. */
  step?: number;
  status?: string;
  message?: string;
}

export function nextRunState(state: RunState, event: EventRecord): RunState {
  if (event.kind === 'run_start') {
    const { pid, host } = event;
    return typeof pid === 'number' && typeof host === 'string' ? { phase: 'running', writer: { pid, host } } : { phase: 'running' };
  }
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

/** Whether the process that logged `run_start` is known to be gone (same host, no such pid). */
export function writerGone(state: RunState, isAlive: (pid: number) => boolean = processAlive): boolean {
  return state.phase === 'running' && state.writer !== undefined && state.writer.host === hostname() && !isAlive(state.writer.pid);
}

/** The state once the writer is gone without a run_end. */
export function stoppedWithoutEnd(state: RunState): RunState {
  return { phase: 'stopped', status: 'no end', message: `the training process (pid ${state.writer?.pid}) exited without logging run_end` };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}
