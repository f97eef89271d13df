// A minimal Server-Sent Events client for the dashboard tests (127.0.0.1 only, bounded waits).
import { get, type ClientRequest } from 'node:http';

export interface SseMessage {
  event: string;
  data: string;
}

export class SseClient {
  readonly messages: SseMessage[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  private constructor(private readonly request: ClientRequest) {}

  static connect(url: string, timeoutMs = 5000): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`SSE connect to ${url} timed out`)), timeoutMs);
      const req = get(url, (res) => {
        clearTimeout(timer);
        if (res.statusCode !== 200) {
          reject(new Error(`SSE status ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => client.feed(chunk));
        resolve(client);
      });
      const client = new SseClient(req);
      req.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  /** Resolves with the first message (already received or future) that matches; rejects after timeoutMs. */
  async waitFor(match: (m: SseMessage) => boolean, timeoutMs = 5000): Promise<SseMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching SSE message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  close(): void {
    this.request.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) this.messages.push({ event, data: data.join('\n') });
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
