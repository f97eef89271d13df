/**
 * A job's claim on its run folder (trainer.default_local_dir) and what it may do there. Nothing an
 * earlier run wrote is deleted:
 *  - an empty or new folder starts a fresh run, and so does one whose run never logged a step nor
 *    saved a checkpoint (it failed during setup);
 *  - with resume_mode=auto a folder holding a run continues it from its latest complete checkpoint
 *    (from step 0 when it has none), if its config allows an exact resume (the job's `resumeRules`);
 *    a run already finished at the asked number of steps is reported and left alone, and asking
 *    for fewer steps than were saved is refused;
 *  - with resume_mode=disable a folder holding a run is refused, unless
 *    trainer.overwrite_run_dir=true, which moves that run aside to `<folder>.replaced-<time>`.
 * The folder is locked (run.lock) for the whole job, and stale temporaries of killed saves are
 * removed once the lock is held.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { readYamlFile, saveConfig, type TinyZeroConfig, type YamlValue } from '../config/index.js';
import { changedKeys, formatChange, resumeApplies, type KeyChange } from './config-changes.js';
import { acquireRunLock, LOCK_FILE, type RunLock } from './lock.js';
import { CheckpointStore, type CheckpointRef } from './store.js';

export const CONFIG_FILE = 'config.yaml';
const RESUME_CONFIG = /^config-resume-(\d+)\.yaml$/;

export interface RunFolderOptions {
  /** 'train' or 'sft', for messages and the lock. */
  job: string;
  config: TinyZeroConfig;
  /** The job's checkpoint state file (trainer_state.json, sft_state.json). */
  stateFile: string;
  /**
   * Which changed keys a resumed run applies (see `resumeApplies`); a change of any other key is
   * refused unless trainer.resume_allow_changes is true.
   */
  resumeRules: readonly string[];
  log: (line: string) => void;
}

export type RunPlan =
  | { kind: 'fresh' }
  /** `from` null: the folder holds a run without a complete checkpoint, which starts over at step 0. */
  | { kind: 'resume'; from: CheckpointRef | null; changes: KeyChange[] };

/** The three ways out of a folder that holds a run, for every refusal. */
function choices(runDir: string): string {
  return `Choices: continue that run (trainer.resume_mode=auto, with its settings); write this run to another folder ` +
    `(trainer.default_local_dir=...); or start over with trainer.resume_mode=disable trainer.overwrite_run_dir=true, ` +
    `which moves the earlier run to ${runDir}.replaced-<time>`;
}

function stamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-');
}

export class RunFolder {
  readonly store: CheckpointStore;
  readonly plan: RunPlan;
  #lock: RunLock;

  private constructor(readonly runDir: string, private readonly options: RunFolderOptions) {
    this.store = new CheckpointStore(runDir, options.stateFile);
    mkdirSync(runDir, { recursive: true });
    this.#lock = acquireRunLock(runDir, `tinyzero ${options.job}`);
    try {
      const removed = this.store.cleanStaleTemps();
      if (removed.length > 0) options.log(`removed ${removed.length} temporary file(s) of interrupted saves in ${runDir}: ${removed.join(', ')}`);
      this.plan = this.#decide();
    } catch (e) {
      this.#lock.release();
      throw e;
    }
  }

  /** Locks `runDir` and decides how the job starts there; throws (lock released) when it must not. */
  static open(runDir: string, options: RunFolderOptions): RunFolder {
    return new RunFolder(runDir, options);
  }

  /** The checkpoint the job resumes from, if any. */
  get resumeFrom(): CheckpointRef | null {
    return this.plan.kind === 'resume' ? this.plan.from : null;
  }

  /**
   * Once the job knows how many steps it runs: a message when the run in the folder already
   * finished them (null otherwise); throws when more steps than that were saved.
   */
  finishedAt(totalSteps: number, stepsKey: string): string | null {
    const saved = this.resumeFrom?.step ?? 0;
    if (saved === 0 || saved < totalSteps) return null;
    if (saved > totalSteps) {
      throw new Error(`${this.runDir} holds a run saved at step ${saved} (${this.resumeFrom!.dir}), but this run asks for ${totalSteps} steps in all (${stepsKey}); ` +
        `it would not train and would mix two runs. ${choices(this.runDir)}; to train that run further, ask for more than ${saved} steps`);
    }
    return `${this.runDir}: the run there already finished its ${totalSteps} steps (checkpoint ${this.resumeFrom!.dir}); nothing to train. ` +
      `To train it further, ask for more steps (${stepsKey}); to run it again, use another folder (trainer.default_local_dir=...) ` +
      'or trainer.resume_mode=disable trainer.overwrite_run_dir=true';
  }

  /**
   * Saves the resolved config: config.yaml for a fresh run (or a folder without one); on a resume
   * with changed keys, config.yaml stays the first run's and the new config goes to
   * config-resume-N.yaml. Returns the file written, if any.
   */
  recordConfig(header: string): string | null {
    const { config } = this.options;
    const plan = this.plan;
    let file: string | null = null;
    if (plan.kind === 'fresh' || !existsSync(join(this.runDir, CONFIG_FILE))) file = CONFIG_FILE;
    else if (plan.changes.length > 0) file = `config-resume-${(this.#resumeConfigs().at(-1)?.n ?? 0) + 1}.yaml`;
    if (file === null) return null;
    const path = join(this.runDir, file);
    saveConfig(config, path, [header]);
    return path;
  }

  /** What run_start records in events.jsonl about a resume: the checkpoint's step and the changed keys. */
  startFields(): { resumedFrom?: number; configChanges?: KeyChange[] } {
    if (this.plan.kind !== 'resume') return {};
    return { resumedFrom: this.plan.from?.step ?? 0, ...(this.plan.changes.length > 0 ? { configChanges: this.plan.changes } : {}) };
  }

  /** Releases the lock; safe to call twice. */
  close(): void {
    this.#lock.release();
  }

  #resumeConfigs(): { n: number; name: string }[] {
    return readdirSync(this.runDir)
      .map((name) => ({ name, m: RESUME_CONFIG.exec(name) }))
      .filter((e) => e.m)
      .map((e) => ({ n: Number(e.m![1]), name: e.name }))
      .sort((a, b) => a.n - b.n);
  }

  /**
   * What the folder holds of an earlier run, in words; null when nothing worth keeping: no
   * complete checkpoint and no metrics line (a run that failed before logging anything).
   */
  #earlierRun(): string | null {
    const metricsFile = join(this.runDir, 'metrics.jsonl');
    const lines = existsSync(metricsFile) ? readFileSync(metricsFile, 'utf8').split('\n').filter((l) => l.trim() !== '').length : 0;
    const steps = this.store.list().map((c) => c.step);
    if (lines === 0 && steps.length === 0) return null;
    const parts: string[] = [];
    if (existsSync(join(this.runDir, CONFIG_FILE))) parts.push(CONFIG_FILE);
    if (lines > 0) parts.push(`metrics.jsonl with ${lines} line(s)`);
    if (steps.length > 0) parts.push(`checkpoint(s) at step ${steps.join(', ')}`);
    return parts.join(', ');
  }

  /** The config the folder's run last ran with: its newest config-resume-N.yaml, else config.yaml. */
  #earlierConfig(): { file: string; tree: YamlValue } | null {
    const name = this.#resumeConfigs().at(-1)?.name ?? CONFIG_FILE;
    const file = join(this.runDir, name);
    if (!existsSync(file)) return null;
    return { file, tree: readYamlFile(file) };
  }

  #decide(): RunPlan {
    const { config, log } = this.options;
    const { resume_mode: mode, overwrite_run_dir: overwrite, resume_allow_changes: allowChanges } = config.trainer;
    if (overwrite && mode === 'auto') {
      throw new Error('trainer.overwrite_run_dir=true starts the run over, but trainer.resume_mode=auto asks to continue it: set trainer.resume_mode=disable with it');
    }
    const earlier = this.#earlierRun();
    if (earlier === null) return { kind: 'fresh' };
    if (mode === 'disable') {
      if (!overwrite) {
        throw new Error(`${this.runDir} already holds a run (${earlier}) and trainer.resume_mode=disable would start a new one over it. ${choices(this.runDir)}`);
      }
      this.#moveAside();
      return { kind: 'fresh' };
    }
    const previous = this.#earlierConfig();
    const changes = previous ? changedKeys(previous.tree, config) : [];
    const breaking = changes.filter((c) => !resumeApplies(c.key, this.options.resumeRules));
    if (breaking.length > 0 && !allowChanges) {
      throw new Error(`${this.runDir} holds a run (${earlier}) whose settings differ in keys a resume cannot change and still continue that run exactly ` +
        `(against ${previous!.file}): ${breaking.map(formatChange).join('; ')}. ` +
        `${choices(this.runDir)}; or resume with the new values anyway: trainer.resume_allow_changes=true`);
    }
    if (!previous) log(`${this.runDir} has no ${CONFIG_FILE}: the settings of the run there cannot be checked against this one`);
    if (changes.length > 0) {
      log(`settings changed since ${previous!.file} (config.yaml is kept; this run's config goes to config-resume-N.yaml and events.jsonl):`);
      for (const c of changes) log(`  ${formatChange(c)}${breaking.includes(c) ? ' (accepted with trainer.resume_allow_changes=true: the run no longer reproduces an uninterrupted one)' : ''}`);
    }
    const from = this.store.latest();
    if (!from) log(`${this.runDir} holds a run without a complete checkpoint (${earlier}): starting it over from step 0; its earlier lines stay in metrics.jsonl`);
    return { kind: 'resume', from, changes };
  }

  /** Moves everything but the lock into a sibling `<folder>.replaced-<time>` (renames: nothing is copied or deleted). */
  #moveAside(): void {
    let dest = `${this.runDir}.replaced-${stamp(new Date())}`;
    for (let i = 2; existsSync(dest); i++) dest = `${this.runDir}.replaced-${stamp(new Date())}-${i}`;
    mkdirSync(dest);
    for (const name of readdirSync(this.runDir)) {
      if (name !== LOCK_FILE) renameSync(join(this.runDir, name), join(dest, name));
    }
    this.options.log(`trainer.overwrite_run_dir=true: moved the earlier run in ${this.runDir} to ${dest}`);
  }
}
