/**
 * One process at a time per run folder: `run.lock` holds the owner's PID, host and start time.
 * Creating it with O_EXCL is the claim; a lock whose process is gone (killed, Ctrl-C) is stale
 * and taken over. A lock from another host cannot be checked, so it counts as held.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'run.lock';

export interface LockOwner {
  pid: number;
  host: string;
  started: string;
  command: string;
}

export interface RunLock {
  readonly path: string;
  /** Removes the lock if it is still ours; safe to call twice. */
  release(): void;
}

/** Whether a process with this PID exists on this host (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof value.pid === 'number' ? { pid: value.pid, host: String(value.host), started: String(value.started), command: String(value.command) } : null;
  } catch {
    return null; // missing, or a claim cut short before its content was written: stale
  }
}

function isLive(owner: LockOwner | null): owner is LockOwner {
  if (!owner) return false;
  if (owner.host !== hostname()) return true;
  return processAlive(owner.pid);
}

/**
 * Claims `dir`/run.lock for this process or throws naming the process that holds it. `command`
 * (e.g. 'tinyzero train') is recorded for that message.
 */
export function acquireRunLock(dir: string, command: string): RunLock {
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the lock file ${path}: ${(e as Error).message}`);
      const owner = readOwner(path);
      if (isLive(owner)) {
        throw new Error(`${dir} is in use by another run: process ${owner.pid} on ${owner.host} (${owner.command}, started ${owner.started}) holds ${path}. ` +
          'Wait for it to finish or stop it, or write this run to another folder (trainer.default_local_dir=...). ' +
          'If that process is not a tinyzero run (the PID was reused), delete the lock file.');
      }
      // Stale: remove it unless another process replaced it meanwhile, then claim again.
      if (JSON.stringify(readOwner(path)) === JSON.stringify(owner)) rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      path,
      release() {
        if (released) return;
        released = true;
        if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
      },
    };
  }
  throw new Error(`${dir}: could not claim ${path} (another process keeps replacing it)`);
}
