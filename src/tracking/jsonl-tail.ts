/**
 * Follows a JSONL file another process appends to (the standalone dashboard watching a live run):
 * each `read()` returns the complete lines added since the last call. A line still being written
 * (no '\n' yet) waits for the next call. A file that shrank or was replaced (a resume rewrites it)
 * is read again from the start, with `reset` set so the caller can drop what it had.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export interface TailRead {
  reset: boolean;
  lines: string[];
}

export class JsonlTail {
  private offset = 0;
  private inode = -1;

  constructor(readonly path: string) {}

  read(): TailRead {
    let size: number;
    let inode: number;
    try {
      const st = statSync(this.path);
      size = st.size;
      inode = st.ino;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { reset: false, lines: [] };
      throw e;
    }
    let reset = false;
    if (inode !== this.inode || size < this.offset) {
      reset = this.inode !== -1;
      this.inode = inode;
      this.offset = 0;
    }
    if (size === this.offset) return { reset, lines: [] };
    const buffer = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    let got = 0;
    try {
      while (got < buffer.length) {
        const n = readSync(fd, buffer, got, buffer.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    // Only whole lines: cut after the last newline and leave the rest for the next read.
    const end = buffer.subarray(0, got).lastIndexOf(0x0a) + 1;
    this.offset += end;
    const lines = buffer.subarray(0, end).toString('utf8').split('\n').filter((l) => l.trim() !== '');
    return { reset, lines };
  }
}
