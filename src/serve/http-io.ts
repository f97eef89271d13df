/** Reading bounded JSON bodies and writing JSON, text, errors and server-sent events with node:http. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors.js';

/**
 * A 413 sent before the body was read to its end: the connection is closed after it (the rest of the
 * body would be taken for the next request).
 */
class UnreadBodyError extends ApiError {}

/**
 * Bodies over the limit are still read, and dropped, up to this many times the limit before the 413
 * is sent: a client still sending its body then reads the answer on a connection that stays open,
 * where closing at once can reset the connection under it before it reads the answer.
 */
const DRAIN_FACTOR = 4;

/** Reads the body, refusing one over `limit` bytes with a 413. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const drainMax = DRAIN_FACTOR * limit;
  const tooLarge = (close: boolean): ApiError => {
    const message = Number.isFinite(declared) && declared > limit
      ? `the request body has ${declared} bytes, more than the server's limit of ${limit} (--max-body-bytes)`
      : `the request body exceeds the server's limit of ${limit} bytes (--max-body-bytes)`;
    return close ? new UnreadBodyError(413, message, null, 'request_too_large') : new ApiError(413, message, null, 'request_too_large');
  };
  if (Number.isFinite(declared) && declared > drainMax) return Promise.reject(tooLarge(true));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > drainMax) {
        failed = true;
        reject(tooLarge(true));
      } else if (size <= limit) {
        parts.push(chunk);
      }
    });
    req.on('end', () => {
      if (failed) return;
      if (size > limit) reject(tooLarge(false));
      else resolve(Buffer.concat(parts));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
      failed = true;
    });
  });
}

export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body.length === 0) throw new ApiError(400, 'the request has no body; expected a JSON object', 'body');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, `the body is not valid JSON: ${(e as Error).message}`, 'body');
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** An error as OpenAI's JSON; anything but an ApiError is a 500 whose message is still shown. */
export function sendError(res: ServerResponse, err: unknown): void {
  const e = err instanceof ApiError ? err : new ApiError(500, `internal error: ${(err as Error)?.message ?? String(err)}`, null, 'internal_error');
  const headers: Record<string, string> = e.status === 429 || e.status === 503 ? { 'retry-after': '1' } : {};
  // A body not read to its end leaves the connection unusable for the next request.
  if (e instanceof UnreadBodyError) headers.connection = 'close';
  sendJson(res, e.status, e.body(), headers);
}
