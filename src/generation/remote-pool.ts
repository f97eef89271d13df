/**
 * A set of inference servers that share work, with failover: jobs go to whichever live server has a
 * free slot (at most `concurrency` requests in flight per server, so each server batches what it
 * holds); a server that fails (no connection, timeout, 5xx, a broken answer) is dropped with a
 * warning naming it, and its jobs go to the others. A dropped server is probed again by its health
 * check when the owner calls `probeDropped` (the remote rollout does at each step's weight sync):
 * once it answers, and the owner's readmit hook (loading the current weights onto it) succeeds, it
 * is re-admitted with a log line. A probe that fails backs off: the server is skipped for 1, 3, 7,
 * ... probes (at most 31) before the next try. A job the server rejects as bad (another 4xx) fails
 * the whole dispatch: every server would reject it. When no server is left the dispatch fails with
 * an error naming each server and why it was dropped.
 */
import { RemoteServerError, type RemoteServer } from './remote-client.js';

export interface ServerPoolOptions {
  /** Requests in flight per server. */
  concurrency: number;
  warn: (line: string) => void;
  /** Waits after a 429 answer before the job is tried again (ms per earlier busy answer; default 100). */
  busyBackoffMs?: number;
  /** Busy answers one job may get before its server counts as failed (default 30). */
  maxBusyRetries?: number;
}

interface Dropped {
  reason: string;
  /** Failed probes since the drop. */
  failedProbes: number;
  /** Probes still to skip before the next try. */
  skip: number;
}

export class ServerPool {
  private readonly dropped = new Map<RemoteServer, Dropped>();

  constructor(readonly servers: readonly RemoteServer[], readonly options: ServerPoolOptions) {
    if (servers.length === 0) throw new Error('ServerPool: no servers');
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new Error(`ServerPool: concurrency must be a positive integer, got ${options.concurrency}`);
  }

  /** The servers not dropped, in their configured order. */
  get live(): RemoteServer[] {
    return this.servers.filter((s) => !this.dropped.has(s));
  }

  /** Drops `server` until a probe finds it healthy, with a warning that names it and says where its work goes. */
  drop(server: RemoteServer, reason: string): void {
    if (this.dropped.has(server)) return;
    this.dropped.set(server, { reason, failedProbes: 0, skip: 0 });
    const left = this.live;
    this.options.warn(`warning: rollout server ${server.url} failed (${reason}); ` +
      (left.length > 0 ? `its requests go to the other ${left.length} server${left.length === 1 ? '' : 's'} (${left.map((s) => s.url).join(', ')}) until it answers its health check again` : 'no rollout server is left'));
  }

  /**
   * Probes every dropped server not backing off: its health check (within `timeoutMs`), then
   * `readmit(server)` (the owner's catch-up, e.g. loading the current weights). A server that passes
   * both is live again, with a log line; one that fails either stays dropped and backs off. Returns
   * the re-admitted servers.
   */
  async probeDropped(timeoutMs: number, readmit: (server: RemoteServer) => Promise<void>): Promise<RemoteServer[]> {
    const back: RemoteServer[] = [];
    await Promise.all([...this.dropped].map(async ([server, d]) => {
      if (d.skip > 0) {
        d.skip--;
        return;
      }
      try {
        await server.health(timeoutMs);
        await readmit(server);
      } catch (err) {
        if (!(err instanceof RemoteServerError)) throw err;
        d.failedProbes++;
        d.skip = 2 ** Math.min(d.failedProbes, 5) - 1;
        return;
      }
      this.dropped.delete(server);
      back.push(server);
    }));
    for (const server of back) {
      const live = this.live;
      this.options.warn(`rollout server ${server.url} answers its health check again and serves the current weights; re-admitted (${live.length} server${live.length === 1 ? '' : 's'} live: ${live.map((s) => s.url).join(', ')})`);
    }
    return back;
  }

  /** The error when no server is left, naming each server's failure. */
  allFailed(): Error {
    const reasons = this.servers.map((s) => `${s.url}: ${this.dropped.get(s)?.reason ?? 'not tried'}`);
    return new Error(`every rollout server failed, so the step cannot generate: ${reasons.join('; ')}`);
  }

  /**
   * Runs every job on some live server and returns the results in job order. Throws when a job is
   * rejected as bad, or when every server has failed.
   */
  async dispatch<T>(jobs: readonly ((server: RemoteServer) => Promise<T>)[]): Promise<T[]> {
    const results = new Array<T>(jobs.length);
    const queue = jobs.map((_, i) => i);
    const busy = new Array<number>(jobs.length).fill(0);
    const backoff = this.options.busyBackoffMs ?? 100;
    const maxBusy = this.options.maxBusyRetries ?? 30;
    const failed: { fatal: Error | null } = { fatal: null };
    const worker = async (server: RemoteServer): Promise<void> => {
      while (!failed.fatal && !this.dropped.has(server) && queue.length > 0) {
        const job = queue.shift()!;
        try {
          results[job] = await jobs[job]!(server);
        } catch (err) {
          if (!(err instanceof RemoteServerError)) {
            failed.fatal ??= err as Error;
            return;
          }
          if (err.failure === 'rejected') {
            failed.fatal ??= new Error(`rollout server ${err.message} (a bad request: every server would refuse it)`);
            return;
          }
          // The job goes back to the front for whichever server is free next.
          queue.unshift(job);
          if (err.failure === 'busy' && ++busy[job]! <= maxBusy) {
            await new Promise((resolve) => setTimeout(resolve, backoff * busy[job]!));
            continue;
          }
          this.drop(server, err.message.slice(server.url.length + 2));
          return;
        }
      }
    };
    // A dropped server's workers stop; the others drain the queue. The loop restarts workers only
    // while jobs remain after every worker has stopped, which happens when the last one of a server
    // gave its job back just as the others finished.
    while (!failed.fatal && queue.length > 0) {
      const live = this.live;
      if (live.length === 0) throw this.allFailed();
      await Promise.all(live.flatMap((s) => Array.from({ length: this.options.concurrency }, () => worker(s))));
    }
    if (failed.fatal) throw failed.fatal;
    return results;
  }
}
