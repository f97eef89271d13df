/**
 * Builds the trackers a run asked for with `trainer.logger` (veRL's list of backend names).
 *
 * Supported: 'console', 'jsonl', 'dashboard'. veRL's online backends ('wandb', its old alias
 * 'tracking', 'mlflow', 'swanlab', 'tensorboard') are accepted with a warning and skipped, because
 * TinyZero's own scripts say `trainer.logger=['wandb']` and should still run here, offline. If
 * nothing is left after skipping, 'console' is used so the metrics are not lost. Any other name
 * is an error that lists the supported ones.
 *
 * metrics.jsonl is the run's record (resume and the dashboard's history read it), so it is
 * written whenever a run folder is given, whether or not 'jsonl' is listed. The dashboard starts
 * when 'dashboard' is listed or a `dashboardPort` (trainer.dashboard_port) is given.
 */
import { ConsoleTracker } from './console-tracker.js';
import { DashboardTracker } from './dashboard-tracker.js';
import { JsonlTracker } from './jsonl-tracker.js';
import { MultiTracker } from './multi-tracker.js';
import type { StatusLine, TextSink, Tracker } from './types.js';

export const SUPPORTED_LOGGERS = ['console', 'jsonl', 'dashboard'] as const;
export type LoggerName = (typeof SUPPORTED_LOGGERS)[number];
export const OFFLINE_UNAVAILABLE_LOGGERS = ['wandb', 'tracking', 'mlflow', 'swanlab', 'tensorboard', 'vemlp_wandb', 'clearml'] as const;

export interface CreateTrackerOptions {
  /** `trainer.logger`; a single string is treated as a one-element list, as veRL does. */
  loggers: string | readonly string[];
  /** The run folder for metrics.jsonl and events.jsonl. */
  runDir?: string;
  /** `trainer.dashboard_port`; 0 picks a free port. Given (not null) means: start the dashboard. */
  dashboardPort?: number | null;
  /** Title of the dashboard page (e.g. project / experiment). */
  title?: string;
  /** The progress display, so console lines do not clobber its status line. */
  statusLine?: StatusLine;
  stdout?: TextSink;
  /** Warnings (skipped loggers, the dashboard URL); default writes to stderr. */
  warn?: (message: string) => void;
}

export interface ResolvedLoggers {
  loggers: LoggerName[];
  warnings: string[];
}

/** Validates the names; pure, so config validation can call it before any work starts. */
export function resolveLoggers(loggers: string | readonly string[]): ResolvedLoggers {
  const names = typeof loggers === 'string' ? [loggers] : [...loggers];
  const out: LoggerName[] = [];
  const warnings: string[] = [];
  for (const name of names) {
    if ((SUPPORTED_LOGGERS as readonly string[]).includes(name)) {
      if (!out.includes(name as LoggerName)) out.push(name as LoggerName);
    } else if ((OFFLINE_UNAVAILABLE_LOGGERS as readonly string[]).includes(name)) {
      warnings.push(`trainer.logger: '${name}' is not available (tinyzero runs offline, without online trackers); skipped. Metrics still go to metrics.jsonl; use 'dashboard' for charts`);
    } else {
      throw new Error(`trainer.logger: unknown logger '${name}'. Supported: ${SUPPORTED_LOGGERS.join(', ')} (accepted and skipped offline: ${OFFLINE_UNAVAILABLE_LOGGERS.join(', ')})`);
    }
  }
  if (out.length === 0) {
    out.push('console');
    if (names.length > 0) warnings.push("trainer.logger: no available logger left; using 'console'");
  }
  return { loggers: out, warnings };
}

export async function createTracker(options: CreateTrackerOptions): Promise<MultiTracker> {
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const { loggers, warnings } = resolveLoggers(options.loggers);
  for (const w of warnings) warn(w);
  if (loggers.includes('jsonl') && !options.runDir) throw new Error("trainer.logger: 'jsonl' needs a run folder");
  const trackers: Tracker[] = [];
  try {
    if (options.runDir) {
      trackers.push(new JsonlTracker({ runDir: options.runDir }));
    }
    if (loggers.includes('console')) {
      trackers.push(new ConsoleTracker({ out: options.stdout, statusLine: options.statusLine }));
    }
    const port = options.dashboardPort ?? (loggers.includes('dashboard') ? 0 : null);
    if (port !== null) {
      const dashboard = await DashboardTracker.start({ port, runDir: options.runDir, title: options.title });
      trackers.push(dashboard);
      warn(`dashboard: ${dashboard.url}`);
    }
  } catch (e) {
    await Promise.allSettled(trackers.map((t) => t.close()));
    throw e;
  }
  return new MultiTracker(trackers);
}
