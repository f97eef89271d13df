/**
 * The HTTP server: routing on node:http, the API key, and a graceful close. The model is loaded
 * on the backend already selected (setBackend) by the caller.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleHealth, handleLoadLora, handleModelInfo, handleModels, handleUnloadLora, handleUpdateWeights, type AdminRouteContext } from './admin-routes.js';
import { ApiError } from './errors.js';
import { handleChat, handleCompletion, type GenerationRouteContext } from './generation-routes.js';
import { sendError } from './http-io.js';
import { ModelHost, type ModelHostOptions } from './model-host.js';
import { Scheduler, type SchedulerOptions, type SchedulerStats } from './scheduler.js';

export interface ServeOptions extends ModelHostOptions, Partial<SchedulerOptions> {
  /** Default 127.0.0.1: reachable from this machine only. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** When set, every endpoint but GET /health needs `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Largest request body in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Most choices (prompts x n) one request may ask for (default: maxBatchRows). */
  maxChoices?: number;
  log?: (line: string) => void;
}

export interface RunningServer {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  readonly host: ModelHost;
  readonly stats: SchedulerStats;
  /** Stops accepting requests, fails the queued ones (503), lets the running generation answer, frees the model. */
  close(): Promise<void>;
}

export const serveDefaults = {
  host: '127.0.0.1',
  port: 8000,
  maxBodyBytes: 4 * 1024 * 1024,
  maxQueuedRows: 1024,
  maxBatchRows: 128,
  maxBatchTokens: 65536,
  batchWindowMs: 5,
  seed: 0,
  prefixCacheBytes: 256 * 1024 * 1024,
};

type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const log = options.log ?? (() => {});
  const host = new ModelHost(options);
  const scheduler = new Scheduler(host, {
    maxQueuedRows: options.maxQueuedRows ?? serveDefaults.maxQueuedRows,
    maxBatchRows: options.maxBatchRows ?? serveDefaults.maxBatchRows,
    maxBatchTokens: options.maxBatchTokens ?? serveDefaults.maxBatchTokens,
    batchWindowMs: options.batchWindowMs ?? serveDefaults.batchWindowMs,
    seed: options.seed ?? serveDefaults.seed,
    prefixCacheBytes: options.prefixCacheBytes ?? serveDefaults.prefixCacheBytes,
  });
  const maxBodyBytes = options.maxBodyBytes ?? serveDefaults.maxBodyBytes;
  const gen: GenerationRouteContext = {
    host, scheduler, maxBodyBytes,
    limits: { maxChoices: options.maxChoices ?? options.maxBatchRows ?? serveDefaults.maxBatchRows, maxStops: 64 },
  };
  const admin: AdminRouteContext = { host, scheduler, maxBodyBytes, log };
  const routes: Record<string, Route> = {
    'GET /health': (_q, r) => handleHealth(admin, r),
    'GET /v1/models': (_q, r) => handleModels(admin, r),
    'GET /get_model_info': (_q, r) => handleModelInfo(admin, r),
    'POST /v1/completions': (q, r) => handleCompletion(gen, q, r),
    'POST /v1/chat/completions': (q, r) => handleChat(gen, q, r),
    'POST /update_weights_from_disk': (q, r) => handleUpdateWeights(admin, q, r),
    'POST /v1/load_lora_adapter': (q, r) => handleLoadLora(admin, q, r),
    'POST /v1/unload_lora_adapter': (q, r) => handleUnloadLora(admin, q, r),
  };
  const paths = new Set(Object.keys(routes).map((k) => k.slice(k.indexOf(' ') + 1)));
  const key = options.apiKey === undefined ? null : Buffer.from(`Bearer ${options.apiKey}`);
  const authorized = (req: IncomingMessage): boolean => {
    if (key === null) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === key.length && timingSafeEqual(given, key);
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[`${req.method} ${path}`];
    const run = async (): Promise<void> => {
      if (!route) {
        if (paths.has(path)) throw new ApiError(405, `${req.method} is not allowed on ${path}`, null, 'method_not_allowed');
        throw new ApiError(404, `no route ${req.method} ${path}`, null, 'not_found');
      }
      if (path !== '/health' && !authorized(req)) throw new ApiError(401, 'missing or wrong API key (send Authorization: Bearer <key>)', null, 'invalid_api_key');
      await route(req, res);
    };
    run().catch((err: unknown) => {
      if (!(err instanceof ApiError) || err.status >= 500) log(`${req.method} ${path}: ${(err as Error)?.stack ?? String(err)}`);
      if (res.headersSent) res.end();
      else sendError(res, err);
    });
  });
  // A client error (bad request line, headers too large) is answered by node itself; keep serving.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  const listenHost = options.host ?? serveDefaults.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? serveDefaults.port, listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    host.dispose();
    throw e;
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    stats: scheduler.stats,
    close: () => closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await scheduler.close();
      // Answers of the last generation are written; idle keep-alive connections would hold close() open.
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), 2000);
      await stopped;
      clearTimeout(grace);
      host.dispose();
    })(),
  };
}
