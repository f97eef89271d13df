/**
 * Writes that a reader, or a crash half-way, never sees half done: the content goes to a temp
 * sibling first, is flushed to the disk (fsync), and is then renamed over the target, which replaces
 * it atomically on POSIX file systems (a rename within one folder). The one way the project writes a
 * file the user keeps: checkpoints, model and tokenizer files, configs, data sets, metrics rewrites.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** What `writeFileAtomic` writes: text (UTF-8), bytes, or a callback that writes to the open file itself. */
export type FileContent = string | Uint8Array | ((fd: number) => void);

const chunkBytes = 1 << 30; // writeSync lengths are limited to 2 GiB

/** Writes all of `data` at the descriptor's current position. */
export function writeFully(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, Math.min(chunkBytes, data.length - done));
}

/** A write error naming `file` (writeSync's ENOSPC and EIO do not), keeping its code. */
export function errorNamingFile(e: unknown, file: string): unknown {
  if (!(e instanceof Error) || e.message.includes(file)) return e;
  const err = new Error(`writing ${file}: ${e.message}`, { cause: e });
  (err as NodeJS.ErrnoException).code = (e as NodeJS.ErrnoException).code;
  return err;
}

/** A fresh name beside `path` that no other process or call picks. */
function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
}

/**
 * Makes the renames in `dir` durable. Best effort: some platforms (Windows) cannot open a folder for
 * syncing, and the rename is atomic without it; only its survival of a power cut needs it.
 */
function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // see above: not supported here
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `content` to `file` atomically (temp sibling, fsync, rename), creating the parent folder
 * if needed. On any error the temp file is removed, `file` keeps its old content, and the error names `file`.
 */
export function writeFileAtomic(file: string, content: FileContent): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = tempSibling(file);
  const fd = openSync(tmp, 'wx');
  let open = true;
  try {
    if (typeof content === 'function') content(fd);
    else writeFully(fd, typeof content === 'string' ? new TextEncoder().encode(content) : content);
    fsyncSync(fd);
    open = false;
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw errorNamingFile(e, file);
  }
  syncDir(dir);
}
