/**
 * Everything a run needs before its first step (veRL RayPPOTrainer's init): backend, tokenizer,
 * datasets, actor / reference / critic models, optimizers, LR schedules and the KL controller.
 */
import { join } from 'node:path';
import { createBackend } from '../backend/index.js';
import type { Backend } from '../backend/backend.js';
import { genBatchSize as genBatchSizeOf, klInReward as klInRewardOf, usesCritic, usesReferencePolicy, usesRemoteRollout } from '../config/derived.js';
import type { TinyZeroConfig, OptimConfig } from '../config/types.js';
import type { CausalLM, ValueModel } from '../models/llama.js';
import { loadCausalLM, loadValueModel } from '../models/load.js';
import type { LoraConfig, LoraModel } from '../models/lora.js';
import { AdamW, LrScheduler, warmupStepsFromRatio, type LrSchedule } from '../nn/index.js';
import { getKlController, type KlController } from '../rl/index.js';
import { setBackend } from '../tensor/index.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import type { Trainable } from './checkpoint.js';
import { loadPromptDataset, type PromptRow } from './dataset.js';
import { checkSequenceFitsModels } from './preflight.js';
import { actorLoraConfig, adaptersOff, criticLoraConfig, loadLoraActor, loadLoraCritic, restoreAdapters } from './lora-roles.js';
import { checkMemoryPlan } from './memory-plan-check.js';
import { RemoteRollout } from './remote-rollout.js';

export interface RunSetup {
  backend: Backend;
  tokenizer: Tokenizer;
  eosTokenIds: number[];
  padTokenId: number;
  train: PromptRow[];
  val: PromptRow[];
  /**
   * Prompts per data-loader batch: train_batch_size, or data.gen_batch_size (default
   * train_batch_size) under DAPO dynamic sampling, where a step may draw several such batches.
   */
  genBatchSize: number;
  /** Data-loader batches per epoch (drop_last); also the default steps per epoch, as in veRL and the DAPO recipe. */
  stepsPerEpoch: number;
  totalSteps: number;
  /** With LoRA, `lora` holds the adapters the optimizer trains; the model is the frozen base. */
  actor: Trainable & { model: CausalLM; lora?: LoraModel };
  ref: CausalLM | null;
  /** With LoRA, `lora` holds the adapters and the value head the optimizer trains; the model is the frozen backbone plus the head. */
  critic: (Trainable & { model: ValueModel; lora?: LoraModel }) | null;
  klCtrl: KlController;
  /** KL folded into the rewards (veRL: exactly when use_kl_loss is off, unless use_kl_in_reward says otherwise). */
  klInReward: boolean;
  /** The checkpoint folder the actor and critic were loaded from (resume), or null. */
  resumeFrom: string | null;
  /** The inference servers that generate (docs/distributed.md); null: the built-in generator. */
  remote: RemoteRollout | null;
}

function schedule(optim: OptimConfig, totalSteps: number): LrSchedule {
  const warmupSteps = warmupStepsFromRatio(optim.lr_warmup_steps_ratio, totalSteps);
  return optim.warmup_style === 'cosine'
    ? { kind: 'cosine', warmupSteps, totalSteps, minLrRatio: optim.min_lr_ratio ?? 0 }
    : { kind: 'constant', warmupSteps };
}

function trainable<M extends CausalLM | ValueModel>(model: M, optim: OptimConfig, totalSteps: number, lora?: LoraModel): Trainable & { model: M } {
  const optimizer = new AdamW(lora ? lora.namedParameters() : model, { lr: optim.lr, betas: optim.betas, weightDecay: optim.weight_decay });
  return { model, optimizer, scheduler: new LrScheduler(optimizer, optim.lr, schedule(optim, totalSteps)) };
}

/** The part of a run's setup that needs no model: tokenizer, datasets, batch counts and the number of steps. */
export type RunData = Pick<RunSetup, 'tokenizer' | 'train' | 'val' | 'genBatchSize' | 'stepsPerEpoch' | 'totalSteps'>;

export async function loadRunData(config: TinyZeroConfig): Promise<RunData> {
  const { data, actor_rollout_ref: arr, algorithm, trainer } = config;
  checkSequenceFitsModels(config);
  const tokenizer = loadTokenizer(arr.model.path);
  const datasetOptions = {
    promptKey: data.prompt_key, maxPromptLength: data.max_prompt_length, applyChatTemplate: data.apply_chat_template,
    rewardFn: config.reward_model.reward_fn,
  };
  const train = await loadPromptDataset(data.train_files, tokenizer, datasetOptions);
  const val = await loadPromptDataset(data.val_files, tokenizer, datasetOptions);
  const genBatchSize = genBatchSizeOf(config);
  const stepsPerEpoch = Math.floor(train.length / genBatchSize);
  if (stepsPerEpoch === 0) {
    const key = genBatchSize === data.train_batch_size ? 'data.train_batch_size' : 'data.gen_batch_size';
    throw new Error(`${key} = ${genBatchSize} is larger than the ${train.length} training prompts in ${String(data.train_files)}`);
  }
  // docs/verl-compat.md#step-count: exactly this many steps run. The DAPO recipe counts steps the same way (loader
  // batches × epochs) but stops early when the epochs run out; here a step that needs more prompts
  // draws them from the next epoch, so the run still trains exactly totalSteps steps.
  const totalSteps = trainer.total_training_steps ?? stepsPerEpoch * trainer.total_epochs;
  return { tokenizer, train, val, genBatchSize, stepsPerEpoch, totalSteps };
}

export interface SetupOptions {
  /** From loadRunData, when the caller loaded it already. */
  data?: RunData;
  /** A checkpoint folder (global_step_N) to load the actor and critic weights from, on resume. */
  resumeFrom?: string | null;
  /** Where the memory plan is printed (default: stderr). */
  log?: (line: string) => void;
}

export async function setupRun(config: TinyZeroConfig, options: SetupOptions = {}): Promise<RunSetup> {
  const { data, actor_rollout_ref: arr, algorithm, trainer } = config;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const loraConfig = actorLoraConfig(config);
  const criticLora = criticLoraConfig(config);
  const runData = options.data ?? await loadRunData(config);
  const { tokenizer, train, val, genBatchSize, stepsPerEpoch, totalSteps } = runData;
  // The servers' health checks come first: an unreachable one stops the run before any model loads.
  const remote = usesRemoteRollout(config) ? await RemoteRollout.connect(config, { log, runDir: trainer.default_local_dir }) : null;
  const backend = await createBackend(trainer.device, { threads: trainer.threads ?? undefined, weightDtype: trainer.frozen_weight_dtype });
  setBackend(backend);
  try {
    checkMemoryPlan(config, backend, log);
  } catch (err) {
    backend.destroy();
    throw err;
  }
  const modelPath = arr.model.path;
  const resumeFrom = options.resumeFrom ?? null;

  const maxPositions = data.max_prompt_length + data.max_response_length;
  // A resumed run's actor and critic come straight from the checkpoint (with LoRA: the base from the
  // model path, the adapters from the checkpoint); the reference stays the base model.
  const loraActor = loraConfig ? loadLoraActor(modelPath, loraConfig, backend, maxPositions, trainer.seed) : null;
  if (loraActor && resumeFrom) restoreAdapters(loraActor.lora, resumeFrom, 'actor');
  const actorModel = loraActor ? loraActor.model : loadCausalLM(resumeFrom ? join(resumeFrom, 'actor') : modelPath, { backend, forTraining: true, maxPositions });
  const klInReward = klInRewardOf(config);
  // Like the actor's: the backbone from critic.model.path, the adapters and the value head from the checkpoint.
  const loraCritic = (path: string, lora: LoraConfig): Trainable & { model: ValueModel; lora: LoraModel } => {
    const loaded = loadLoraCritic(path, lora, backend, maxPositions, trainer.seed);
    try {
      if (resumeFrom) restoreAdapters(loaded.lora, resumeFrom, 'critic');
    } catch (err) {
      loaded.lora.dispose();
      loaded.model.dispose();
      throw err;
    }
    return { ...trainable(loaded.model, config.critic.optim, totalSteps, loaded.lora), lora: loaded.lora };
  };
  const klCtrl = getKlController({
    type: algorithm.kl_ctrl.type, klCoef: algorithm.kl_ctrl.kl_coef, horizon: algorithm.kl_ctrl.horizon, targetKl: algorithm.kl_ctrl.target_kl,
  });
  // With LoRA the reference is the actor's base with the adapters off: no second copy.
  const ref = !usesReferencePolicy(config) ? null : loraActor ? adaptersOff(loraActor.model, loraActor.lora) : loadCausalLM(modelPath, { backend, maxPositions, frozen: true });
  const critic = !usesCritic(config) ? null : criticLora ? loraCritic(config.critic.model.path, criticLora) : trainable(
    loadValueModel(resumeFrom ? join(resumeFrom, 'critic') : config.critic.model.path, { backend, forTraining: true, seed: trainer.seed, maxPositions }), config.critic.optim, totalSteps);
  // enable_gradient_checkpointing: the updates keep each layer's output only and recompute the rest.
  actorModel.model.gradientCheckpointing = arr.model.enable_gradient_checkpointing;
  if (critic) critic.model.model.gradientCheckpointing = config.critic.model.enable_gradient_checkpointing;
  const eosTokenIds = [tokenizer.eosTokenId];
  return {
    backend, tokenizer, eosTokenIds, padTokenId: tokenizer.padTokenId, train, val, genBatchSize, stepsPerEpoch, totalSteps,
    actor: { ...trainable(actorModel, arr.actor.optim, totalSteps, loraActor?.lora), ...(loraActor ? { lora: loraActor.lora } : {}) },
    ref, critic, klCtrl, klInReward, resumeFrom, remote,
  };
}

export function disposeRun(run: RunSetup): void {
  run.actor.optimizer.dispose();
  run.actor.lora?.dispose();
  run.actor.model.dispose();
  run.ref?.dispose();
  if (run.critic) {
    run.critic.optimizer.dispose();
    run.critic.lora?.dispose();
    run.critic.model.dispose();
  }
  run.backend.destroy();
}
