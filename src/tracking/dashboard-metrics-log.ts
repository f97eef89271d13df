/**
 * What the dashboard serves on /metrics: the metrics.jsonl lines, addressed by byte offset so a
 * page asks only for what it has not seen (`/metrics?from=OFFSET`). The lines are served as they
 * are stored (metrics.jsonl already holds the flat `{step, ...metrics, time}` objects the page
 * wants), so the server parses nothing and holds one bounded chunk per request, however large the
 * file: re-serialising a parsed copy of a 100 MB history for each request is what took gigabytes.
 *
 * Offsets are always at the start of a line. Only complete lines are served: a last line still
 * being written (no '\n' yet) waits for the next read.
 */
import { open } from 'node:fs/promises';

export interface MetricsChunk {
  /** The complete lines (each one JSON object) joined by commas: the inside of a JSON array, UTF-8. */
  body: Buffer;
  /** Lines in `body`. */
  count: number;
  /** Offset of the first line not returned. */
  next: number;
  /** True when complete lines beyond `next` existed at the time of the read. */
  more: boolean;
}

export interface MetricsLog {
  /** Lines from `from` (a line start) up to about `maxBytes` (at least one line when there is one). */
  read(from: number, maxBytes: number): Promise<MetricsChunk>;
}

/** A bad `from` (past the end, or not at the start of a line); the server answers 400 with it. */
export class CursorError extends Error {}

const isSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;

/**
 * Turns whole lines into the inside of a JSON array, in place: each line trimmed, the newlines
 * made commas. Only lines that look like JSON objects by their first and last byte are kept (a
 * cheap guard against a damaged line, not a parse); bytes, not strings, so a chunk costs a copy.
 */
export function joinObjectLines(buffer: Buffer): { body: Buffer; count: number } {
  let out = 0;
  let count = 0;
  for (let start = 0; start < buffer.length;) {
    let end = buffer.indexOf(0x0a, start);
    if (end < 0) end = buffer.length;
    const next = end + 1;
    while (start < end && isSpace(buffer[start]!)) start++;
    while (end > start && isSpace(buffer[end - 1]!)) end--;
    if (end > start && buffer[start] === 0x7b && buffer[end - 1] === 0x7d) {
      if (count > 0) buffer[out++] = 0x2c;
      buffer.copyWithin(out, start, end);
      out += end - start;
      count++;
    }
    start = next;
  }
  return { body: buffer.subarray(0, out), count };
}

/** metrics.jsonl on disk, read at request time; `limit` caps what is served (see PrefixedMetricsLog). */
export class FileMetricsLog implements MetricsLog {
  constructor(readonly path: string, private readonly limit = Infinity) {}

  async read(from: number, maxBytes: number): Promise<MetricsChunk> {
    let file;
    try {
      file = await open(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (from > 0) throw new CursorError(`from=${from} is past the end of ${this.path} (it does not exist)`);
      return { body: Buffer.alloc(0), count: 0, next: 0, more: false };
    }
    try {
      const size = Math.min((await file.stat()).size, this.limit);
      if (from > size) throw new CursorError(`from=${from} is past the end of ${this.path} (${size} bytes)`);
      if (from > 0) {
        const before = Buffer.alloc(1);
        await file.read(before, 0, 1, from - 1);
        if (before[0] !== 0x0a) throw new CursorError(`from=${from} is not at the start of a line of ${this.path}`);
      }
      // Grow the window until it holds a whole line (a line longer than maxBytes is still served).
      let want = Math.min(size - from, Math.max(1, maxBytes));
      for (;;) {
        const buffer = Buffer.alloc(want);
        const { bytesRead } = await file.read(buffer, 0, want, from);
        const cut = buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
        if (cut === 0 && from + bytesRead < size && bytesRead === want) {
          want = Math.min(size - from, want * 2);
          continue;
        }
        return { ...joinObjectLines(buffer.subarray(0, cut)), next: from + cut, more: from + want < size };
      }
    } finally {
      await file.close();
    }
  }
}

/** Lines held in memory, from byte offset `base` on (a dashboard without a run folder, or after one). */
export class MemoryMetricsLog implements MetricsLog {
  private readonly lines: string[] = [];
  /** starts[i] = offset of lines[i]; one more entry for the end. */
  private readonly starts: number[];

  constructor(readonly base = 0) {
    this.starts = [base];
  }

  get end(): number {
    return this.starts[this.starts.length - 1]!;
  }

  /** `line` is one JSON object without '\n'. */
  append(line: string): void {
    this.lines.push(line);
    this.starts.push(this.end + Buffer.byteLength(line, 'utf8') + 1);
  }

  async read(from: number, maxBytes: number): Promise<MetricsChunk> {
    let i = lowerBound(this.starts, from);
    if (this.starts[i] !== from) throw new CursorError(`from=${from} is ${from > this.end ? 'past the end of the metrics' : 'not at the start of a line'}`);
    const out: string[] = [];
    const first = i;
    while (i < this.lines.length && (i === first || this.starts[i + 1]! - from <= maxBytes)) out.push(this.lines[i++]!);
    return { body: Buffer.from(out.join(','), 'utf8'), count: out.length, next: this.starts[i]!, more: i < this.lines.length };
  }
}

/**
 * The in-process dashboard: the run folder's metrics.jsonl as it was when the dashboard started,
 * then the steps this process logs, held in memory with offsets continuing the file's.
 */
export class PrefixedMetricsLog implements MetricsLog {
  private readonly file: FileMetricsLog;
  readonly live: MemoryMetricsLog;

  constructor(path: string, prefixEnd: number) {
    this.file = new FileMetricsLog(path, prefixEnd);
    this.live = new MemoryMetricsLog(prefixEnd);
  }

  async read(from: number, maxBytes: number): Promise<MetricsChunk> {
    if (from >= this.live.base) return this.live.read(from, maxBytes);
    const chunk = await this.file.read(from, maxBytes);
    return { ...chunk, more: chunk.more || chunk.next < this.live.end };
  }
}

function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Offset just after the last complete line of `path` (0 when it is missing), reading only its tail. */
export async function completeLinesEnd(path: string): Promise<number> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  try {
    const size = (await file.stat()).size;
    const buffer = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0;) {
      const start = Math.max(0, end - buffer.length);
      const { bytesRead } = await file.read(buffer, 0, end - start, start);
      const at = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (at >= 0) return start + at + 1;
      end = start;
    }
    return 0;
  } finally {
    await file.close();
  }
}
