/**
 * A whole run: resolve what the config asks for, set up models and data, attach the trackers and
 * progress display, run fit(), and always release the backend, servers and files.
 */
import { join } from 'node:path';
import { configWarnings, saveConfig, type TinyZeroConfig } from '../config/index.js';
import { createTracker, ProgressDisplay } from '../tracking/index.js';
import { listCheckpoints } from './checkpoint.js';
import { fit, type FitSummary } from './fit.js';
import type { RewardFn } from './reward.js';
import { disposeRun, setupRun } from './setup.js';

export interface TrainOptions {
  /** Where status lines and notices go (default stderr). */
  log?: (line: string) => void;
  /** Show the progress display (default true). */
  progress?: boolean;
}

/** Reward routing for the run: digit completion's dense reward when the data asks for it. */
export function rewardFnOf(config: TinyZeroConfig): RewardFn {
  return config.reward_model.reward_fn;
}

export async function train(config: TinyZeroConfig, options: TrainOptions = {}): Promise<FitSummary & { runDir: string; totalSteps: number }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const w of configWarnings(config)) log(`warning: ${w}`);
  const runDir = config.trainer.default_local_dir;
  saveConfig(config, join(runDir, 'config.yaml'), ['resolved tinyzero config of this run']);
  const run = await setupRun(config, log);
  const progress = options.progress === false ? null : new ProgressDisplay({ totalSteps: run.totalSteps });
  let tracker: Awaited<ReturnType<typeof createTracker>> | null = null;
  let status: 'completed' | 'failed' = 'failed';
  let lastStep = 0;
  try {
    // Records after the checkpoint we resume from (or all, on a fresh start) are dropped from the JSONL.
    const resumeFrom = config.trainer.resume_mode === 'auto' ? (listCheckpoints(runDir).at(-1)?.step ?? 0) : 0;
    tracker = await createTracker({
      loggers: config.trainer.logger,
      runDir,
      resumeFromStep: resumeFrom,
      title: `${config.trainer.project_name} / ${config.trainer.experiment_name}`,
      statusLine: progress ?? undefined,
      dashboardPort: config.trainer.dashboard_port,
      warn: log,
    });
    log(`train: ${run.train.length} prompts, ${run.val.length} validation prompts, ${run.totalSteps} steps ` +
      `(${run.stepsPerEpoch} per epoch${config.algorithm.filter_groups.enable ? `, dynamic sampling from batches of ${run.genBatchSize} prompts` : ''}); actor ${run.actor.model.numParameters().toLocaleString()} parameters` +
      `${run.critic ? ', critic' : ''}${run.ref ? ', reference' : ''}; backend ${run.backend.name}; run folder ${runDir}`);
    tracker.event('run_start', { config, totalSteps: run.totalSteps, project: config.trainer.project_name, experiment: config.trainer.experiment_name, runDir });
    const summary = await fit({ config, run, tracker, progress, rewardFn: rewardFnOf(config), runDir, log: (l) => (progress ? progress.printAbove(() => log(l)) : log(l)) });
    status = 'completed';
    lastStep = summary.lastStep;
    return { ...summary, runDir, totalSteps: run.totalSteps };
  } finally {
    progress?.close();
    if (tracker) {
      tracker.event('run_end', { step: lastStep, status });
      await tracker.close();
    }
    disposeRun(run);
  }
}
