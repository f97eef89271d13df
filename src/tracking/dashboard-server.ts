/**
 * The dashboard's HTTP server (node:http, 127.0.0.1 only):
 *   GET /            the page (dashboard-page.ts)
 *   GET /client/*.js its script: the browser build of src/tracking/dashboard-client (ES modules)
 *   GET /metrics     every metrics line so far, as a JSON array (the metrics.jsonl objects)
 *   GET /metrics?from=OFFSET[&generation=G]
 *                    an increment: `{generation, from, next, more, reset, rows}` with the lines from
 *                    byte OFFSET (0 first, then the `next` of the previous answer), about 1 MB at
 *                    most; `more` says whether to ask again. `generation` counts the times the
 *                    history was replaced (a resume rewrote metrics.jsonl): a cursor from an older
 *                    generation gets `reset: true` and the rows from the start.
 *   GET /events      Server-Sent Events: `metrics` per logged step, one event per tracker event
 *                    (`run_start`, `samples`, `validation`, `run_end`), `status` when the run's
 *                    phase changes (dashboard-run-state.ts), `more` when many lines arrived at once
 *                    (fetch them with /metrics?from=), `reset` when the history was replaced; on
 *                    connect it replays the latest event of each kind and the status.
 * Both /metrics forms read the lines in bounded chunks (dashboard-metrics-log.ts), so memory does
 * not grow with the history or with the number of requests.
 * Requests whose Host header is not this loopback address are refused, so a web page elsewhere
 * cannot read the run through DNS rebinding; no page may frame this one. Unless `keepAlive` is
 * set, the server, its sockets and its timers are unref'd, so a trainer that forgets close() still
 * exits.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboardHtml } from './dashboard-page.js';
import { CursorError, MemoryMetricsLog, PrefixedMetricsLog, type MetricsLog } from './dashboard-metrics-log.js';
import { nextRunState, runStateOf, stoppedWithoutEnd, writerGone, type RunState } from './dashboard-run-state.js';
import { jsonReplacer, type EventRecord, type FlatMetrics } from './jsonl-records.js';

export const DASHBOARD_HOST = '127.0.0.1';

/** Where the browser build of dashboard-client/ lands (tsconfig.client.json's outDir). */
export const DASHBOARD_CLIENT_DIR = fileURLToPath(new URL('../../dashboard-client/', import.meta.url));

export interface DashboardServerOptions {
  /** 0 picks a free port. */
  port: number;
  title?: string;
  /** Keep the process alive while the server runs (the standalone `tinyzero dashboard`). */
  keepAlive?: boolean;
  /** Where /metrics reads; default: in memory, seeded with `history`, grown by pushMetrics. */
  metrics?: MetricsLog;
  history?: FlatMetrics[];
  events?: EventRecord[];
}

const HEARTBEAT_MS = 15_000;
/** Bytes of metrics lines per /metrics increment, and per write of the full array. */
export const METRICS_CHUNK_BYTES = 1 << 20;

// On every answer: no MIME sniffing, and no framing (clickjacking) by any page.
const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};
// No external assets or connections: the page loads its own script and may only talk back here.
const PAGE_HEADERS = {
  ...COMMON_HEADERS,
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

export class DashboardServer {
  private readonly clients = new Set<ServerResponse>();
  private readonly metrics: MetricsLog;
  private readonly memory: MemoryMetricsLog | null;
  private generation = 0;
  private readonly latest = new Map<string, EventRecord>();
  private state: RunState;
  private readonly heartbeat: NodeJS.Timeout;
  private closing: Promise<void> | null = null;

  private constructor(private readonly server: Server, readonly port: number, private readonly html: string,
    private readonly client: ReadonlyMap<string, string>, options: DashboardServerOptions) {
    if (options.metrics) {
      this.metrics = options.metrics;
      // Steps pushed here are already in the file a FileMetricsLog reads; the others keep them.
      this.memory = options.metrics instanceof MemoryMetricsLog ? options.metrics
        : options.metrics instanceof PrefixedMetricsLog ? options.metrics.live : null;
    } else {
      this.memory = new MemoryMetricsLog();
      for (const r of options.history ?? []) this.memory.append(JSON.stringify(r, jsonReplacer));
      this.metrics = this.memory;
    }
    for (const e of options.events ?? []) this.latest.set(e.kind, e);
    this.state = runStateOf(options.events ?? []);
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), HEARTBEAT_MS);
    if (!options.keepAlive) this.heartbeat.unref();
  }

  static async start(options: DashboardServerOptions): Promise<DashboardServer> {
    const client = loadClient();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, DASHBOARD_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const dashboard = new DashboardServer(server, port, dashboardHtml(options.title ?? 'tinyzero'), client, options);
    if (!options.keepAlive) {
      server.unref();
      server.on('connection', (socket) => socket.unref());
    }
    server.on('request', (req, res) => dashboard.handle(req, res));
    return dashboard;
  }

  get url(): string {
    return `http://${DASHBOARD_HOST}:${this.port}/`;
  }

  /** Number of connected /events subscribers (tests wait on it). */
  get subscribers(): number {
    return this.clients.size;
  }

  /** The run's phase as the pages get it. */
  get runState(): RunState {
    return publicState(this.state);
  }

  /** A new step: kept in the in-memory log unless /metrics reads a file, and sent to the pages. */
  pushMetrics(record: FlatMetrics): void {
    const line = JSON.stringify(record, jsonReplacer);
    this.memory?.append(line);
    this.broadcast(sseRaw('metrics', line));
  }

  /** A line already in the file /metrics reads (the run-folder watcher), sent to the pages as is. */
  pushMetricsLine(line: string): void {
    this.broadcast(sseRaw('metrics', line));
  }

  /** Many lines arrived at once: the pages fetch them with /metrics?from= instead of one event each. */
  announceMoreMetrics(): void {
    this.broadcast(sse('more', { generation: this.generation }));
  }

  pushEvent(record: EventRecord): void {
    this.latest.set(record.kind, record);
    this.broadcast(sse(record.kind, record));
    const state = nextRunState(this.state, record);
    if (state !== this.state) {
      this.state = state;
      this.broadcast(sse('status', publicState(state)));
    }
  }

  /**
   * A run folder's writer may have died without a run_end: if so the run is stopped (the watcher
   * asks at each poll; `isAlive` is for tests). Returns true when the state changed.
   */
  checkWriter(isAlive?: (pid: number) => boolean): boolean {
    if (!writerGone(this.state, isAlive)) return false;
    this.state = stoppedWithoutEnd(this.state);
    this.broadcast(sse('status', publicState(this.state)));
    return true;
  }

  /**
   * The metrics file was replaced and/or the events were (a watched file was rewritten): pages
   * drop what they had and reload /metrics. `events` null keeps the latest events as they are.
   */
  reset(metricsReplaced: boolean, events: EventRecord[] | null): void {
    if (metricsReplaced) this.generation++;
    if (events) {
      this.latest.clear();
      for (const e of events) this.latest.set(e.kind, e);
      this.state = runStateOf(events);
    }
    this.broadcast(sse('reset', { generation: this.generation }));
    for (const e of this.latest.values()) this.broadcast(sse(e.kind, e));
    this.broadcast(sse('status', publicState(this.state)));
  }

  /** Ends every /events stream and stops listening. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      clearInterval(this.heartbeat);
      for (const res of this.clients) res.end();
      this.clients.clear();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const host = req.headers.host ?? '';
    if (host !== `${DASHBOARD_HOST}:${this.port}` && host !== `localhost:${this.port}`) {
      send(res, 403, 'text/plain', 'forbidden: the dashboard answers only to its loopback address\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    const script = path.startsWith('/client/') ? this.client.get(path.slice('/client/'.length)) : undefined;
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, PAGE_HEADERS);
      res.end(this.html);
    } else if (script !== undefined) {
      send(res, 200, 'text/javascript', script);
    } else if (path === '/metrics') {
      const from = url.searchParams.get('from');
      const served = from === null ? this.serveAllMetrics(res) : this.serveMetricsIncrement(res, from, url.searchParams.get('generation'));
      served.catch((e: unknown) => {
        if (!res.headersSent) send(res, 500, 'text/plain', `metrics: ${(e as Error).message}\n`);
        else res.destroy();
      });
    } else if (path === '/events') {
      this.subscribe(req, res);
    } else {
      send(res, 404, 'text/plain', 'not found\n');
    }
  }

  /** The whole history as one JSON array, written chunk by chunk as the client takes it. */
  private async serveAllMetrics(res: ServerResponse): Promise<void> {
    const generation = this.generation;
    let from = 0;
    let first = true;
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8' });
    res.write('[');
    for (;;) {
      const chunk = await this.metrics.read(from, METRICS_CHUNK_BYTES);
      // A replaced file mid-answer would mix two histories: stop; the page reloads on `reset`.
      if (generation !== this.generation || res.destroyed) break;
      if (chunk.count > 0) {
        if (!first) res.write(',');
        if (!res.write(chunk.body)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        first = false;
      }
      from = chunk.next;
      if (!chunk.more) break;
    }
    res.end(']');
  }

  private async serveMetricsIncrement(res: ServerResponse, fromText: string, generationText: string | null): Promise<void> {
    let from = Number(fromText);
    if (fromText === '' || !Number.isSafeInteger(from) || from < 0) {
      send(res, 400, 'text/plain', `metrics: 'from' must be a byte offset (an integer >= 0), got '${fromText}'\n`);
      return;
    }
    const generation = this.generation;
    const reset = generationText !== null && generationText !== String(generation);
    if (reset) from = 0;
    let chunk;
    try {
      chunk = await this.metrics.read(from, METRICS_CHUNK_BYTES);
    } catch (e) {
      if (!(e instanceof CursorError)) throw e;
      send(res, 400, 'text/plain', `metrics: ${e.message}\n`);
      return;
    }
    const head = JSON.stringify({ generation, from, next: chunk.next, more: chunk.more, reset });
    send(res, 200, 'application/json', Buffer.concat([Buffer.from(`${head.slice(0, -1)},"rows":[`), chunk.body, Buffer.from(']}')]));
  }

  private subscribe(req: IncomingMessage, res: ServerResponse): void {
    if (this.closing) {
      send(res, 503, 'text/plain', 'closing\n');
      return;
    }
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    for (const e of this.latest.values()) res.write(sse(e.kind, e));
    res.write(sse('status', publicState(this.state)));
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  private broadcast(chunk: string): void {
    for (const res of this.clients) res.write(chunk);
  }
}

/** The compiled client modules by path under the build folder, read once (they change only with a build). */
function loadClient(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(join(DASHBOARD_CLIENT_DIR, dir), { withFileTypes: true })) {
      if (entry.isDirectory() && /^[\w-]+$/.test(entry.name)) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.isFile() && /^[\w-]+\.js$/.test(entry.name)) files.set(`${prefix}${entry.name}`, readFileSync(join(DASHBOARD_CLIENT_DIR, dir, entry.name), 'utf8'));
    }
  };
  try {
    walk('.', '');
  } catch (e) {
    throw new Error(`dashboard: the page's script is not built (${(e as Error).message}); run 'npm run build'`);
  }
  return files;
}

/** The state as pages see it: without the writer's pid and host. */
function publicState(state: RunState): RunState {
  const { writer: _writer, ...rest } = state;
  return rest;
}

function sse(event: string, data: unknown): string {
  return sseRaw(event, JSON.stringify(data, jsonReplacer));
}

function sseRaw(event: string, json: string): string {
  // JSON never contains a raw newline, so the payload is a single data: line; the event name comes
  // from a file for the standalone dashboard, so it is reduced to a safe token.
  return `event: ${event.replace(/[^\w-]/g, '_') || 'event'}\ndata: ${json}\n\n`;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'content-type': `${type}; charset=utf-8`, ...extra });
  res.end(body);
}
