/**
 * Follows a JSONL file another process appends to (the standalone dashboard watching a live run):
 * each `read()` returns the complete lines added since the last call. A line still being written
 * (no '\n' yet) waits for the next call. A file that shrank or was replaced (a resume rewrites it)
 * is read again from the start, with `reset` set so the caller can drop what it had.
 * `readChunk(maxBytes)` takes the new lines a bounded piece at a time, so following a file that is
 * already hundreds of megabytes long does not hold it all in memory.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export interface TailRead {
  reset: boolean;
  lines: string[];
}

export interface TailChunk extends TailRead {
  /** Complete lines may remain: call again. */
  more: boolean;
  /** Bytes the returned lines took in the file, newlines included. */
  bytes: number;
}

export class JsonlTail {
  private offset = 0;
  private inode = -1;

  constructor(readonly path: string) {}

  /** Offset after the last line returned (where the next read starts). */
  get position(): number {
    return this.offset;
  }

  read(): TailRead {
    const { reset, lines } = this.readChunk(Infinity);
    return { reset, lines };
  }

  readChunk(maxBytes: number): TailChunk {
    let size: number;
    let inode: number;
    try {
      const st = statSync(this.path);
      size = st.size;
      inode = st.ino;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { reset: false, lines: [], more: false, bytes: 0 };
      throw e;
    }
    let reset = false;
    if (inode !== this.inode || size < this.offset) {
      reset = this.inode !== -1;
      this.inode = inode;
      this.offset = 0;
    }
    if (size === this.offset) return { reset, lines: [], more: false, bytes: 0 };
    const fd = openSync(this.path, 'r');
    try {
      // Grow the window until it holds a whole line (a line longer than maxBytes still comes back).
      let want = Math.min(size - this.offset, Math.max(1, maxBytes));
      for (;;) {
        const buffer = Buffer.alloc(want);
        let got = 0;
        while (got < want) {
          const n = readSync(fd, buffer, got, want - got, this.offset + got);
          if (n === 0) break;
          got += n;
        }
        // Only whole lines: cut after the last newline and leave the rest for the next read.
        const end = buffer.subarray(0, got).lastIndexOf(0x0a) + 1;
        if (end === 0 && got === want && this.offset + want < size) {
          want = Math.min(size - this.offset, want * 2);
          continue;
        }
        this.offset += end;
        const lines = buffer.subarray(0, end).toString('utf8').split('\n').filter((l) => l.trim() !== '');
        return { reset, lines, more: this.offset + (got - end) < size && end > 0, bytes: end };
      }
    } finally {
      closeSync(fd);
    }
  }
}
