/**
 * The dashboard's HTTP server (node:http, 127.0.0.1 only):
 *   GET /         the page (dashboard-page.ts), one self-contained HTML document
 *   GET /metrics  every metrics line so far, as a JSON array (the metrics.jsonl objects)
 *   GET /events   Server-Sent Events: `metrics` per logged step, one event per tracker event
 *                 (`run_start`, `samples`, `validation`, `run_end`), `reset` when the history was
 *                 replaced; on connect it replays the latest event of each kind.
 * Requests whose Host header is not this loopback address are refused, so a web page elsewhere
 * cannot read the run through DNS rebinding. Unless `keepAlive` is set, the server, its sockets and
 * its timers are unref'd, so a trainer that forgets close() still exits.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dashboardHtml } from './dashboard-page.js';
import { jsonReplacer, type EventRecord, type FlatMetrics } from './jsonl-records.js';

export const DASHBOARD_HOST = '127.0.0.1';

export interface DashboardServerOptions {
  /** 0 picks a free port. */
  port: number;
  title?: string;
  /** Keep the process alive while the server runs (the standalone `tinyzero dashboard`). */
  keepAlive?: boolean;
  history?: FlatMetrics[];
  events?: EventRecord[];
}

const HEARTBEAT_MS = 15_000;

// No external assets or connections: everything the page needs is inline, and it may only talk
// back to this server.
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
  'cache-control': 'no-store',
};

export class DashboardServer {
  private readonly clients = new Set<ServerResponse>();
  private metrics: FlatMetrics[];
  private readonly latest = new Map<string, EventRecord>();
  private readonly heartbeat: NodeJS.Timeout;
  private closing: Promise<void> | null = null;

  private constructor(private readonly server: Server, readonly port: number, private readonly html: string, options: DashboardServerOptions) {
    this.metrics = [...(options.history ?? [])];
    for (const e of options.events ?? []) this.latest.set(e.kind, e);
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), HEARTBEAT_MS);
    if (!options.keepAlive) this.heartbeat.unref();
  }

  static async start(options: DashboardServerOptions): Promise<DashboardServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, DASHBOARD_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const dashboard = new DashboardServer(server, port, dashboardHtml(options.title ?? 'tinyzero'), options);
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

  pushMetrics(record: FlatMetrics): void {
    this.metrics.push(record);
    this.broadcast(sse('metrics', record));
  }

  pushEvent(record: EventRecord): void {
    this.latest.set(record.kind, record);
    this.broadcast(sse(record.kind, record));
  }

  /**
   * Replaces the metrics history and/or the latest events (a watched file was rewritten); pages
   * drop what they had and reload /metrics. `null` keeps that part as it is.
   */
  reset(history: FlatMetrics[] | null, events: EventRecord[] | null): void {
    if (history) this.metrics = [...history];
    if (events) {
      this.latest.clear();
      for (const e of events) this.latest.set(e.kind, e);
    }
    this.broadcast(sse('reset', { steps: this.metrics.length }));
    for (const e of this.latest.values()) this.broadcast(sse(e.kind, e));
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
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, PAGE_HEADERS);
      res.end(this.html);
    } else if (path === '/metrics') {
      send(res, 200, 'application/json', JSON.stringify(this.metrics, jsonReplacer));
    } else if (path === '/events') {
      this.subscribe(req, res);
    } else {
      send(res, 404, 'text/plain', 'not found\n');
    }
  }

  private subscribe(req: IncomingMessage, res: ServerResponse): void {
    if (this.closing) {
      send(res, 503, 'text/plain', 'closing\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    for (const e of this.latest.values()) res.write(sse(e.kind, e));
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  private broadcast(chunk: string): void {
    for (const res of this.clients) res.write(chunk);
  }
}

function sse(event: string, data: unknown): string {
  // JSON never contains a raw newline, so the payload is a single data: line; the event name comes
  // from a file for the standalone dashboard, so it is reduced to a safe token.
  return `event: ${event.replace(/[^\w-]/g, '_') || 'event'}\ndata: ${JSON.stringify(data, jsonReplacer)}\n\n`;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
  res.end(body);
}
