/**
 * Write-then-rename, so a reader (or a crash mid-save) never sees a half-written checkpoint file:
 * rename within one directory replaces the target atomically on POSIX file systems.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const chunkBytes = 1 << 30; // writeSync lengths are limited to 2 GiB

/** Writes all of `data` at the descriptor's current position. */
export function writeFully(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, Math.min(chunkBytes, data.length - done));
}

/** A write error naming `file` (writeSync's ENOSPC/EIO do not), keeping its code. */
function naming(e: unknown, file: string): unknown {
  if (!(e instanceof Error) || e.message.includes(file)) return e;
  const err = new Error(`writing ${file}: ${e.message}`, { cause: e });
  (err as NodeJS.ErrnoException).code = (e as NodeJS.ErrnoException).code;
  return err;
}

/**
 * Calls `write(fd)` on a temp file next to `file`, syncs it, then renames it over `file`. Errors
 * name `file`.
 */
export function writeFileAtomic(file: string, write: (fd: number) => void): void {
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const fd = openSync(tmp, 'wx');
  let open = true;
  try {
    write(fd);
    fsyncSync(fd);
    open = false;
    closeSync(fd);
  } catch (e) {
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw naming(e, file);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw naming(e, file);
  }
}

export function writeTextAtomic(file: string, text: string): void {
  writeFileAtomic(file, (fd) => writeFully(fd, new TextEncoder().encode(text)));
}
