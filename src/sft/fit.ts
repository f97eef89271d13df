/**
 * `tinyzero sft`: causal-LM training of one model (veRL's fsdp_sft_trainer, on our engine). Each
 * step takes `train_batch_size` examples in a per-epoch shuffled order that depends only on
 * (seed, epoch), runs them as micro-batches with gradient accumulation, clips the gradient norm and
 * steps AdamW under the LR schedule. Eval loss every `test_freq` steps; checkpoints every
 * `save_freq` steps and at the end; with resume_mode auto it continues from the latest checkpoint and
 * reproduces the uninterrupted run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createBackend } from '../backend/index.js';
import { RunFolder } from '../checkpoint/index.js';
import type { TinyZeroConfig } from '../config/index.js';
import { CausalLM } from '../models/llama.js';
import { loadModelConfig } from '../models/config.js';
import { loadCausalLM } from '../models/load.js';
import { AdamW, LrScheduler, clipGradNormAsync, warmupStepsFromRatio } from '../nn/index.js';
import { permutation, Prng } from '../util/prng.js';
import { noGrad, setBackend, tidyAsync } from '../tensor/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { createTracker, ProgressDisplay } from '../tracking/index.js';
import { loadSftExamples, targetCount, type SftExample } from './data.js';
import { readSftState, restoreSftState, saveSftCheckpoint, SFT_STATE_FILE } from './checkpoint.js';
import { SFT_RESUME_RULES } from './resume-rules.js';
import { makeMicroBatch, microBatchLoss } from './loss.js';

export interface SftSummary {
  firstStep: number;
  lastStep: number;
  resumedFrom: number | null;
  /** Per completed step, the training loss (token mean over the step). */
  losses: number[];
  finalValLoss: number | null;
  lastCheckpoint: string | null;
  runDir: string;
  seconds: number;
  /** Set when the run folder held a run already finished at its steps: nothing was trained (the message says so). */
  alreadyFinished?: string;
}

export interface SftOptions {
  log?: (line: string) => void;
  progress?: boolean;
}

/** The examples of 1-based `step`: a shuffle per epoch from (seed, epoch), cut into batches. */
export function stepExamples<T>(items: readonly T[], batchSize: number, step: number, seed: number): T[] {
  const perEpoch = Math.floor(items.length / batchSize);
  const epoch = Math.floor((step - 1) / perEpoch);
  const within = (step - 1) % perEpoch;
  const order = permutation(items.length, new Prng(seed * 1_000_003 + epoch));
  return order.slice(within * batchSize, (within + 1) * batchSize).map((i) => items[i]!);
}

function hasWeights(dir: string): boolean {
  return existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'model.safetensors.index.json'));
}

/** Token-mean loss over `examples` without gradients. */
export async function evalLoss(model: CausalLM, examples: readonly SftExample[], micro: number, padId: number): Promise<number> {
  let total = 0;
  let tokens = 0;
  for (let i = 0; i < examples.length; i += micro) {
    const mb = makeMicroBatch(examples.slice(i, i + micro), padId);
    await tidyAsync(async () => {
      const loss = noGrad(() => microBatchLoss(model, mb, 1));
      total += ((await loss.data()) as Float32Array)[0]!;
    });
    tokens += mb.targetTokens;
  }
  return total / Math.max(1, tokens);
}

export async function sft(config: TinyZeroConfig, options: SftOptions = {}): Promise<SftSummary> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const folder = RunFolder.open(config.trainer.default_local_dir, { job: 'sft', config, stateFile: SFT_STATE_FILE, resumeRules: SFT_RESUME_RULES, log });
  try {
    return await sftInFolder(config, folder, log, options);
  } finally {
    folder.close();
  }
}

async function sftInFolder(config: TinyZeroConfig, folder: RunFolder, log: (line: string) => void, options: SftOptions): Promise<SftSummary> {
  const c = config.sft;
  const { trainer } = config;
  const runDir = folder.runDir;
  const start = performance.now();
  const tokenizer = loadTokenizer(c.model.path);
  const dataOptions = { textKey: c.text_key, promptKey: c.prompt_key, responseKey: c.response_key, maxLength: c.max_length, addEos: c.add_eos };
  const train = await loadSftExamples(c.train_files, tokenizer, dataOptions);
  const val = c.val_files === null ? [] : await loadSftExamples(c.val_files, tokenizer, dataOptions);
  const perEpoch = Math.floor(train.length / c.train_batch_size);
  if (perEpoch === 0) throw new Error(`sft.train_batch_size = ${c.train_batch_size} is larger than the ${train.length} training examples`);
  const totalSteps = c.total_training_steps ?? perEpoch * c.total_epochs;
  const latest = folder.resumeFrom;
  const finished = folder.finishedAt(totalSteps, 'sft.total_training_steps');
  if (finished !== null) {
    log(finished);
    return { firstStep: totalSteps + 1, lastStep: totalSteps, resumedFrom: totalSteps, losses: [], finalValLoss: null, lastCheckpoint: latest!.dir, runDir, seconds: 0, alreadyFinished: finished };
  }
  folder.recordConfig('resolved tinyzero config of this SFT run');
  const backend = await createBackend(trainer.device, { threads: trainer.threads ?? undefined });
  setBackend(backend);

  // A resumed run loads the model straight from its checkpoint.
  const modelDir = latest ? join(latest.dir, 'model') : c.model.path;
  const model = hasWeights(modelDir)
    ? loadCausalLM(modelDir, { backend, forTraining: true, maxPositions: c.max_length })
    : new CausalLM(loadModelConfig(c.model.path), { backend, seed: trainer.seed, maxPositions: c.max_length });
  model.model.gradientCheckpointing = c.model.enable_gradient_checkpointing;
  const optimizer = new AdamW(model, { lr: c.optim.lr, betas: c.optim.betas, weightDecay: c.optim.weight_decay });
  const warmupSteps = warmupStepsFromRatio(c.optim.lr_warmup_steps_ratio, totalSteps);
  const scheduler = new LrScheduler(optimizer, c.optim.lr, c.optim.warmup_style === 'cosine'
    ? { kind: 'cosine', warmupSteps, totalSteps, minLrRatio: c.optim.min_lr_ratio ?? 0 }
    : { kind: 'constant', warmupSteps });

  let resumedFrom: number | null = null;
  if (latest) {
    const state = readSftState(latest.dir);
    restoreSftState(latest.dir, state, optimizer, scheduler);
    resumedFrom = state.globalStep;
    log(`resumed from ${latest.dir} (step ${state.globalStep})`);
  }
  const progress = options.progress === false ? null : new ProgressDisplay({ totalSteps });
  const tracker = await createTracker({
    loggers: trainer.logger, runDir, statusLine: progress ?? undefined,
    title: `${trainer.project_name} / ${trainer.experiment_name} (sft)`, dashboardPort: trainer.dashboard_port, warn: log,
  });
  tracker.event('run_start', { config, totalSteps, project: trainer.project_name, experiment: trainer.experiment_name, runDir, ...folder.startFields() });
  log(`sft: ${train.length} examples, ${val.length} eval examples, ${totalSteps} steps (${perEpoch} per epoch); ` +
    `${model.numParameters().toLocaleString()} parameters${hasWeights(modelDir) ? '' : ' (from scratch)'}${c.model.enable_gradient_checkpointing ? ', layers checkpointed' : ''}; ` +
    `backend ${backend.name}; run folder ${runDir}`);
  const save = (step: number): Promise<string> => saveSftCheckpoint(runDir, step, { model, optimizer, scheduler, tokenizerDir: c.model.path }, c.max_ckpt_to_keep);
  const losses: number[] = [];
  let finalValLoss: number | null = null;
  let lastCheckpoint = latest?.dir ?? null;
  const firstStep = (resumedFrom ?? 0) + 1;
  let status: 'completed' | 'failed' = 'failed';
  try {
    for (let step = firstStep; step <= totalSteps; step++) {
      progress?.startStep(step);
      const t0 = performance.now();
      const examples = stepExamples(train, c.train_batch_size, step, trainer.seed);
      const normaliser = Math.max(1, examples.reduce((s, e) => s + targetCount(e), 0));
      let loss = 0;
      progress?.phase('update');
      for (let i = 0; i < examples.length; i += c.micro_batch_size) {
        const mb = makeMicroBatch(examples.slice(i, i + c.micro_batch_size), tokenizer.padTokenId);
        await tidyAsync(async () => {
          const l = microBatchLoss(model, mb, normaliser);
          l.backward();
          loss += ((await l.data()) as Float32Array)[0]!;
        });
        progress?.addTokens(mb.rows * mb.width);
      }
      const lr = optimizer.lr;
      const gradNorm = await clipGradNormAsync(model.parameters(), c.grad_clip);
      if (!Number.isFinite(gradNorm)) throw new Error(`sft: the gradient norm is ${gradNorm} at step ${step}`);
      optimizer.step();
      model.zeroGrad();
      scheduler.step();
      losses.push(loss);
      const metrics: Record<string, number> = { 'train/loss': loss, 'train/lr': lr, 'train/grad_norm': gradNorm, 'train/target_tokens': normaliser };
      if ((c.test_freq > 0 && step % c.test_freq === 0) || step === totalSteps) {
        if (val.length > 0) {
          progress?.phase('testing');
          finalValLoss = await evalLoss(model, val, c.micro_batch_size, tokenizer.padTokenId);
          metrics['val/loss'] = finalValLoss;
        }
      }
      metrics['timing_s/step'] = (performance.now() - t0) / 1000;
      // Logged before the checkpoint, so a checkpoint never exists without its step's record.
      tracker.log(metrics, step);
      if ((c.save_freq > 0 && step % c.save_freq === 0) || step === totalSteps) {
        progress?.phase('save_checkpoint');
        lastCheckpoint = await save(step);
      }
      progress?.endStep(step);
    }
    status = 'completed';
  } finally {
    progress?.close();
    tracker.event('run_end', { step: losses.length + firstStep - 1, status });
    await tracker.close();
    optimizer.dispose();
    model.dispose();
    backend.destroy();
  }
  return { firstStep, lastStep: totalSteps, resumedFrom, losses, finalValLoss, lastCheckpoint, runDir, seconds: (performance.now() - start) / 1000 };
}
