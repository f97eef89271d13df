/**
 * The checkpoints of one run folder, for every job (`tinyzero train`, `tinyzero sft`):
 *   global_step_N/                    one complete checkpoint; complete = it holds the job's state file
 *   latest_checkpointed_iteration.txt N of the newest (as upstream veRL writes it)
 * A checkpoint is written into `.global_step_N.tmp-PID` and renamed into place, so a crash never
 * leaves a half-written global_step_N; a kill mid-save leaves the temporary folder, which the next
 * run removes (cleanStaleTemps, called while it holds the folder's lock).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';

const STEP_DIR = /^global_step_(\d+)$/;
const STEP_TEMP = /^\.global_step_\d+\.tmp-(\d+)(?:-old)?$/;
/** Temporary files of the atomic writers (`.NAME.tmp-PID-RANDOM`, `.NAME.PID.TIME.tmp`). */
const FILE_TEMP = /^\..+(?:\.tmp-(\d+)-[a-z0-9]+|\.(\d+)\.\d+\.tmp)$/;
export const LATEST_FILE = 'latest_checkpointed_iteration.txt';

export interface CheckpointRef {
  step: number;
  dir: string;
}

export class CheckpointStore {
  /** `stateFile` (e.g. trainer_state.json) marks a checkpoint complete; it is written last. */
  constructor(readonly root: string, readonly stateFile: string) {}

  /** Complete checkpoints, oldest first. */
  list(): CheckpointRef[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .map((name) => ({ name, m: STEP_DIR.exec(name) }))
      .filter((e) => e.m && existsSync(join(this.root, e.name, this.stateFile)))
      .map((e) => ({ step: Number(e.m![1]), dir: join(this.root, e.name) }))
      .sort((a, b) => a.step - b.step);
  }

  latest(): CheckpointRef | null {
    return this.list().at(-1) ?? null;
  }

  readState<T>(dir: string): T {
    const file = join(dir, this.stateFile);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch (e) {
      throw new Error(`${file}: cannot read the checkpoint state: ${(e as Error).message}`);
    }
  }

  /**
   * Writes checkpoint `step`: `write(dir)` fills a temporary folder (the state file last), which
   * is then renamed to global_step_N; the pointer file follows, then checkpoints beyond `keep`
   * (null or ≤ 0: keep all) are removed, oldest first. On a write error (ENOSPC, ...) the
   * temporary folder is removed and the error names the checkpoint and the cause; the earlier
   * checkpoints and the pointer are untouched.
   */
  async save(step: number, write: (dir: string) => Promise<void>, keep: number | null): Promise<string> {
    mkdirSync(this.root, { recursive: true });
    const final = join(this.root, `global_step_${step}`);
    const tmp = join(this.root, `.global_step_${step}.tmp-${process.pid}`);
    try {
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      await write(tmp);
      if (!existsSync(join(tmp, this.stateFile))) throw new Error(`the checkpoint writer did not write ${this.stateFile}`);
      // A folder of that name can only be an incomplete leftover (a run resumes from its newest
      // complete checkpoint); it is moved out of the way first and removed once the new one is in.
      const old = join(this.root, `.global_step_${step}.tmp-${process.pid}-old`);
      if (existsSync(final)) renameSync(final, old);
      renameSync(tmp, final);
      rmSync(old, { recursive: true, force: true });
      writeFileAtomic(join(this.root, LATEST_FILE), `${step}\n`);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      const hint = code === 'ENOSPC' ? ' (the disk is full: free space, or lower trainer.max_actor_ckpt_to_keep / save_freq)' : '';
      const err = new Error(`saving checkpoint ${final} failed${hint}: ${(e as Error).message}. ` +
        `The partial checkpoint was removed; earlier checkpoints in ${this.root} are intact`, { cause: e });
      (err as NodeJS.ErrnoException).code = code;
      throw err;
    }
    this.prune(keep);
    return final;
  }

  /** Removes complete checkpoints beyond the newest `keep` (null or ≤ 0: keeps all). */
  prune(keep: number | null): void {
    if (keep === null || keep <= 0) return;
    const all = this.list();
    for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.dir, { recursive: true, force: true });
  }

  /**
   * Removes the temporary checkpoint folders and files that killed or failed saves left behind.
   * Call it only while holding the folder's lock: every temp not of this process is then stale.
   * Returns the names removed.
   */
  cleanStaleTemps(): string[] {
    if (!existsSync(this.root)) return [];
    const removed: string[] = [];
    for (const name of readdirSync(this.root)) {
      const m = STEP_TEMP.exec(name) ?? FILE_TEMP.exec(name);
      if (!m) continue;
      const pid = Number(m[1] ?? m[2]);
      if (pid === process.pid) continue;
      rmSync(join(this.root, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }
}
