/**
 * A whole run: claim the run folder (lock; fresh, resume or refuse: src/checkpoint/run-folder.ts),
 * set up models and data, attach the trackers and progress display, run fit(), and always release
 * the backend, servers, files and the folder's lock.
 */
import { RunFolder } from '../checkpoint/index.js';
import { configWarnings, type TinyZeroConfig } from '../config/index.js';
import { createTracker, ProgressDisplay } from '../tracking/index.js';
import { TRAINER_STATE_FILE } from './checkpoint.js';
import { fit, type FitSummary } from './fit.js';
import { TRAIN_RESUME_RULES } from './resume-rules.js';
import type { RewardFn } from './reward.js';
import { disposeRun, loadRunData, setupRun, type RunData } from './setup.js';

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

export type TrainResult = FitSummary & {
  runDir: string;
  totalSteps: number;
  /** Set when the run folder held a run already finished at totalSteps: nothing was trained (the message says so). */
  alreadyFinished?: string;
};

export async function train(config: TinyZeroConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const w of configWarnings(config)) log(`warning: ${w}`);
  const runDir = config.trainer.default_local_dir;
  const folder = RunFolder.open(runDir, { job: 'train', config, stateFile: TRAINER_STATE_FILE, resumeRules: TRAIN_RESUME_RULES, log });
  try {
    const data = await loadRunData(config);
    const finished = folder.finishedAt(data.totalSteps, 'trainer.total_training_steps');
    if (finished !== null) {
      log(finished);
      const step = folder.resumeFrom!.step;
      return {
        firstStep: step + 1, lastStep: step, resumedFrom: step, initialValidation: null, finalValidation: null, lastCheckpoint: folder.resumeFrom!.dir,
        seconds: 0, lastMetrics: null, story: null, runDir, totalSteps: data.totalSteps, alreadyFinished: finished,
      };
    }
    folder.recordConfig('resolved tinyzero config of this run');
    return await trainInFolder(config, folder, data, options, log);
  } finally {
    folder.close();
  }
}

async function trainInFolder(config: TinyZeroConfig, folder: RunFolder, data: RunData, options: TrainOptions, log: (line: string) => void): Promise<TrainResult> {
  const runDir = folder.runDir;
  const run = await setupRun(config, { data, resumeFrom: folder.resumeFrom?.dir ?? null, log });
  const progress = options.progress === false ? null : new ProgressDisplay({ totalSteps: run.totalSteps });
  let tracker: Awaited<ReturnType<typeof createTracker>> | null = null;
  let status: 'completed' | 'failed' = 'failed';
  let lastStep = 0;
  try {
    tracker = await createTracker({
      loggers: config.trainer.logger,
      runDir,
      title: `${config.trainer.project_name} / ${config.trainer.experiment_name}`,
      statusLine: progress ?? undefined,
      dashboardPort: config.trainer.dashboard_port,
      warn: log,
    });
    log(`train: ${run.train.length} prompts, ${run.val.length} validation prompts, ${run.totalSteps} steps ` +
      `(${run.stepsPerEpoch} per epoch${config.algorithm.filter_groups.enable ? `, dynamic sampling from batches of ${run.genBatchSize} prompts` : ''}); actor ${run.actor.model.numParameters().toLocaleString()} parameters` +
      `${run.critic ? ', critic' : ''}${run.ref ? ', reference' : ''}; backend ${run.backend.name}; run folder ${runDir}`);
    tracker.event('run_start', {
      config, totalSteps: run.totalSteps, project: config.trainer.project_name, experiment: config.trainer.experiment_name, runDir,
      ...folder.startFields(),
    });
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
