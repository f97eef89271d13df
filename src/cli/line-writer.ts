/**
 * Where a streaming command's output lines go: a file written through a temp file and renamed at
 * the end (readers never see half of it, and a failed run leaves the old file as it was), or
 * stdout. Both wait for the reader when it is slower than the writer, so memory stays bounded.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';

export interface LineWriter {
  /** Writes text; false when the reader has gone away (stdout closed) and nothing more is wanted. */
  write(text: string): Promise<boolean>;
  /** Everything was written: make it visible. */
  finish(): Promise<void>;
  /** The command failed: drop what was written. */
  abort(): Promise<void>;
}

/** Buffers up to this many bytes before a write to the temp file (one syscall per batch, not per line). */
const BATCH_BYTES = 1 << 20;

export class AtomicLineWriter implements LineWriter {
  private readonly tmp: string;
  private fd: number | null;
  private pending: string[] = [];
  private pendingBytes = 0;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
    this.fd = openSync(this.tmp, 'w');
  }

  async write(text: string): Promise<boolean> {
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= BATCH_BYTES) this.flush();
    return true;
  }

  async finish(): Promise<void> {
    this.flush();
    const fd = this.take();
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.tmp, this.path);
  }

  async abort(): Promise<void> {
    if (this.fd !== null) closeSync(this.take());
    rmSync(this.tmp, { force: true });
  }

  private flush(): void {
    if (this.pending.length === 0 || this.fd === null) return;
    const bytes = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingBytes = 0;
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
  }

  private take(): number {
    if (this.fd === null) throw new Error(`${this.path}: output already closed`);
    const fd = this.fd;
    this.fd = null;
    return fd;
  }
}

export class StdoutLineWriter implements LineWriter {
  private closed = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    // A reader that exits early (`| head`) is not an error: stop writing.
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  async write(text: string): Promise<boolean> {
    if (this.closed) return false;
    if (!this.out.write(text)) await Promise.race([once(this.out, 'drain'), once(this.out, 'close')]);
    return !this.closed;
  }

  async finish(): Promise<void> {}

  async abort(): Promise<void> {}
}
