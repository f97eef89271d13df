/** `tinyzero serve`: an OpenAI-compatible HTTP server with request batching and weight updates (docs/serve.md). */
export { startServer, serveDefaults, type RunningServer, type ServeOptions } from './server.js';
export { ApiError } from './errors.js';
export type { SchedulerStats } from './scheduler.js';
