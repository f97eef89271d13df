// Metrics and progress for a training run: veRL's console lines, metrics.jsonl/events.jsonl in the
// run folder, a progress line, and a local dashboard. Sits below src/trainer and imports nothing above it.
export type { EventKind, EventPayloads, SampleRecord, StatusLine, TextSink, Tracker } from './types.js';
export { EVENT_KINDS } from './types.js';
export { bestMetricInLog, consoleKey, formatMetricValue, formatStepLine, parsePythonFloat, parseStepLine } from './console-format.js';
export { ConsoleTracker, type ConsoleTrackerOptions } from './console-tracker.js';
export {
  EVENTS_FILE, METRICS_FILE, decodeEventLine, decodeMetricsLine, encodeMetricsLine, flattenMetrics, jsonReplacer,
  latestPerStep, readEventsJsonl, readMetricsJsonl, type EventRecord, type FlatMetrics, type MetricsRecord,
} from './jsonl-records.js';
export { JsonlTracker, type JsonlTrackerOptions } from './jsonl-tracker.js';
export { JsonlTail, type TailChunk, type TailRead } from './jsonl-tail.js';
export { RateWindow, estimateEtaSeconds, fitToWidth, formatDuration, formatProgress, formatRate, type ProgressState } from './progress-format.js';
export { ProgressDisplay, type ProgressOptions } from './progress.js';
export { DASHBOARD_CLIENT_DIR, DASHBOARD_HOST, DashboardServer, METRICS_CHUNK_BYTES, type DashboardServerOptions } from './dashboard-server.js';
export { CursorError, FileMetricsLog, MemoryMetricsLog, PrefixedMetricsLog, completeLinesEnd, joinObjectLines, type MetricsChunk, type MetricsLog } from './dashboard-metrics-log.js';
export { nextRunState, runStateOf, type RunPhase, type RunState } from './dashboard-run-state.js';
export { DASHBOARD_SCRIPT_PATH, DEFAULT_CHARTS, dashboardHtml } from './dashboard-page.js';
export { DashboardTracker, type DashboardTrackerOptions } from './dashboard-tracker.js';
export { MultiTracker } from './multi-tracker.js';
export { RunFolderWatcher } from './run-watcher.js';
export {
  OFFLINE_UNAVAILABLE_LOGGERS, SUPPORTED_LOGGERS, createTracker, resolveLoggers,
  type CreateTrackerOptions, type LoggerName, type ResolvedLoggers,
} from './create-tracker.js';
