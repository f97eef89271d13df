/**
 * The RL step in the bench: a recorded `npm start` batch (rl-batch.ts; real variable-length rollouts)
 * replayed through the actor's two phases of a GRPO step, old log-probs (`computeLogProbs`) and the
 * policy update (`updatePolicy`: PPO loss, backward, grad clip, AdamW), with the recorded run's mini-
 * and micro-batching, on the recorded run's model. Each replay starts from the model as loaded, so
 * every round does the same work, and its old log-probs are checked against the recording. Beside it,
 * the same batch through PyTorch (scripts/torch-qwen2.py `rl-step`, padded as TRL and HF pad) when a
 * python3 with torch is present.
 */
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import type { CausalLM } from '../models/llama.js';
import { loadCausalLM } from '../models/load.js';
import { AdamW } from '../nn/index.js';
import { setBackend } from '../tensor/index.js';
import { computeLogProbs, updatePolicy, type ActorUpdateOptions } from '../trainer/actor.js';
import type { StepBatch } from '../trainer/batch.js';
import type { LossAggMode } from '../rl/index.js';
import { profileBackend, type OpProfile } from './op-profile.js';
import { readRecordedBatch, toStepBatch, type RecordedBatch } from './rl-batch.js';
import { findTorchPeer, runTorchScript, type TorchInfo } from './torch-peer.js';
import { ratio, round } from './timing.js';

/** dist/src/bench -> the package root, where the fixture and the model folders live. */
export const PACKAGE_ROOT = new URL('../../../', import.meta.url).pathname;
export const DEFAULT_RL_BATCH = join(PACKAGE_ROOT, 'assets/bench/countdown-step1.json.gz');

/** How the batch goes through the actor: padded (veRL's layout), or packed (`use_remove_padding`). */
export interface ReplayMode {
  name: string;
  removePadding: boolean;
}
export const RL_STEP_MODES: readonly ReplayMode[] = [{ name: 'padded', removePadding: false }, { name: 'packed', removePadding: true }];

/**
 * computeLogProbs's micro-batch argument: the rows per forward in builds from before packed sequences,
 * a MicroBatching ({ microBatchRows, useDynamicBsz, maxTokenLen, removePadding }) since. Told apart by
 * the parameter's name in the function's source, so one replay drives an older build beside this one
 * (scripts/bench-compare-rl.mjs).
 */
export function logProbMicro(fn: (...args: never[]) => unknown, rows: number, removePadding: boolean): unknown {
  if (/^async function computeLogProbs\(model, batch, microRows\b/.test(fn.toString())) {
    if (removePadding) throw new Error('this build\'s computeLogProbs has no packed sequences (use_remove_padding)');
    return rows;
  }
  return { microBatchRows: rows, useDynamicBsz: false, maxTokenLen: 0, removePadding };
}

/** The engine a replay runs on: this build's, or another build's (scripts/bench-compare-rl.mjs). */
export interface RlEngine {
  setBackend: (be: Backend) => void;
  loadCausalLM: (dir: string, options: { forTraining: boolean }) => CausalLM;
  AdamW: new (model: CausalLM, options: { lr: number; betas?: [number, number]; weightDecay?: number }) => AdamW;
  computeLogProbs: typeof computeLogProbs;
  updatePolicy: typeof updatePolicy;
}
export const THIS_ENGINE: RlEngine = { setBackend, loadCausalLM, AdamW, computeLogProbs, updatePolicy };

export interface ReplayTiming {
  oldLogProbSeconds: number;
  updateSeconds: number;
  /** Largest |Σ recomputed old log-probs − recorded| over the rows (a replay of the same model must agree). */
  oldLogProbMaxAbsDiff: number;
  metrics: Record<string, number>;
}

/** Rows per mini- and micro-batch (the actor's sizes are in prompts: × n) and per log-prob forward, capped by the rows. */
export function replayBatching(r: RecordedBatch, rows: number): { miniRows: number; microRows: number; logProbRows: number } {
  const a = r.actor;
  return {
    miniRows: Math.min(rows, a.ppoMiniBatchSize * r.n),
    microRows: Math.min(rows, (a.ppoMicroBatchSize ?? a.ppoMiniBatchSize) * r.n),
    logProbRows: Math.min(rows, r.logProbMicroBatchSize ?? rows),
  };
}

/** One replay on `be`: load the model, old log-probs, then the policy update on them; each phase timed. */
export async function replayRlStep(engine: RlEngine, be: Backend, r: RecordedBatch, batch: StepBatch, mode: ReplayMode): Promise<ReplayTiming> {
  engine.setBackend(be);
  const a = r.actor;
  const model = engine.loadCausalLM(join(PACKAGE_ROOT, r.model), { forTraining: true });
  const optimizer = new engine.AdamW(model, { lr: a.lr, betas: a.betas, weightDecay: a.weightDecay });
  try {
    const { miniRows, microRows, logProbRows } = replayBatching(r, batch.rows);
    let t0 = performance.now();
    const { logp } = await engine.computeLogProbs(model, batch, logProbMicro(engine.computeLogProbs, logProbRows, mode.removePadding) as never, r.temperature);
    const oldLogProbSeconds = (performance.now() - t0) / 1000;
    const R = batch.responseLength;
    let diff = 0;
    for (let i = 0; i < batch.rows; i++) {
      let s = 0;
      for (let t = 0; t < batch.responseLengths[i]!; t++) s += logp[i * R + t]!;
      diff = Math.max(diff, Math.abs(s - r.oldLogProbSums[i]!));
    }
    // removePadding is BatchingOptions' since packed sequences; builds from before ignore it.
    const options = {
      miniBatchRows: miniRows, microBatchRows: microRows, useDynamicBsz: false, maxTokenLen: 0, epochs: a.ppoEpochs, shuffle: false,
      gradClip: a.gradClip, temperature: r.temperature, seed: 1, step: 1, removePadding: mode.removePadding,
      loss: { clipRatio: a.clipRatio, entropyCoeff: a.entropyCoeff, useKlLoss: false, lossAggMode: a.lossAggMode as LossAggMode },
    } as ActorUpdateOptions;
    t0 = performance.now();
    const metrics = await engine.updatePolicy(model, optimizer, { ...batch, oldLogProb: logp }, options);
    const updateSeconds = (performance.now() - t0) / 1000;
    return { oldLogProbSeconds, updateSeconds, oldLogProbMaxAbsDiff: diff, metrics };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

export interface RlStepModeResult {
  mode: string;
  oldLogProbSeconds: number;
  updateSeconds: number;
  /** Best old log-probs + best update. */
  seconds: number;
  /** Valid (unpadded) tokens of the batch per second of the whole step. */
  validTokensPerSecond: number;
  oldLogProbMaxAbsDiff: number;
}

export interface RlStepTorch {
  oldLogProbSeconds: number;
  updateSeconds: number;
  seconds: number;
  validTokensPerSecond: number;
  oldLogProbMaxAbsDiff: number;
}

export interface RlStepResult {
  batch: string;
  model: string;
  rows: number;
  promptLength: number;
  responseLength: number;
  /** Prompt + response tokens that are not padding. */
  validTokens: number;
  /** rows × (promptLength + responseLength): what the padded layout computes on. */
  paddedTokens: number;
  miniBatchRows: number;
  microBatchRows: number;
  logProbMicroBatchRows: number;
  rounds: number;
  ours: RlStepModeResult[];
  /** Per-op profile of one padded replay (backend calls, and the JS time between them); null unless asked. */
  profile: OpProfile | null;
  torch: ({ available: true } & TorchInfo & RlStepTorch) | { available: false; reason: string };
  /** PyTorch's seconds / ours per mode (above 1: we are faster); null without PyTorch. */
  oursOverTorch: Record<string, number | null>;
  notes: string[];
}

export interface RlStepOptions {
  /** The recorded batch (default: `npm start`'s step 1). */
  file?: string;
  /** Replay the first rows only (default all). */
  rows?: number;
  rounds: number;
  threads: number;
  /** Profile one padded replay per op. */
  profile?: boolean;
  /** Also time the batch in PyTorch (default true; skipped with a note without python3 + torch). */
  torch?: boolean;
  log?: (line: string) => void;
}

/** Interleaved rounds over the modes (each keeps its best phase times), then PyTorch on the same batch. */
export async function benchRlStep(be: Backend, opts: RlStepOptions): Promise<RlStepResult> {
  const log = opts.log ?? ((): void => {});
  const file = opts.file ?? DEFAULT_RL_BATCH;
  const r = readRecordedBatch(file);
  const batch = toStepBatch(r, opts.rows ?? r.rows);
  let valid = 0;
  for (let i = 0; i < batch.rows; i++) valid += batch.responseLengths[i]! + r.promptIds[i]!.length;
  const padded = batch.rows * (r.promptLength + r.responseLength);
  const { miniRows, microRows, logProbRows } = replayBatching(r, batch.rows);
  const best = RL_STEP_MODES.map(() => ({ oldLogProbSeconds: Infinity, updateSeconds: Infinity, oldLogProbMaxAbsDiff: 0 }));
  for (let round = 0; round <= opts.rounds; round++) {
    for (const [i, mode] of RL_STEP_MODES.entries()) {
      log(`bench: rl step: ${mode.name}, ${round === 0 ? 'warm-up' : `round ${round} of ${opts.rounds}`}`);
      const t = await replayRlStep(THIS_ENGINE, be, r, batch, mode);
      const b = best[i]!;
      b.oldLogProbMaxAbsDiff = Math.max(b.oldLogProbMaxAbsDiff, t.oldLogProbMaxAbsDiff);
      if (round === 0) continue;
      b.oldLogProbSeconds = Math.min(b.oldLogProbSeconds, t.oldLogProbSeconds);
      b.updateSeconds = Math.min(b.updateSeconds, t.updateSeconds);
    }
  }
  const ours = RL_STEP_MODES.map((mode, i): RlStepModeResult => {
    const b = best[i]!;
    const seconds = b.oldLogProbSeconds + b.updateSeconds;
    return {
      mode: mode.name, oldLogProbSeconds: round(b.oldLogProbSeconds, 3), updateSeconds: round(b.updateSeconds, 3), seconds: round(seconds, 3),
      validTokensPerSecond: round(valid / seconds, 0), oldLogProbMaxAbsDiff: round(b.oldLogProbMaxAbsDiff, 5),
    };
  });
  for (const o of ours) log(`bench: rl step: ${o.mode}: old_log_prob ${o.oldLogProbSeconds} s, update_actor ${o.updateSeconds} s, ${o.validTokensPerSecond} valid tokens/s`);
  let profile: OpProfile | null = null;
  if (opts.profile) {
    log('bench: rl step: per-op profile of a padded replay');
    const stop = profileBackend(be);
    try {
      await replayRlStep(THIS_ENGINE, be, r, batch, RL_STEP_MODES[0]!);
    } finally {
      profile = stop();
    }
  }
  const notes: string[] = [];
  let torch: RlStepResult['torch'];
  if (opts.torch === false) {
    torch = { available: false, reason: 'not asked' };
  } else {
    const peer = findTorchPeer();
    if (!peer.available) {
      torch = { available: false, reason: peer.reason };
      notes.push(`PyTorch side skipped: ${peer.reason}`);
    } else {
      log('bench: rl step: PyTorch');
      try {
        const t = runTorchScript(peer.info.python, ['rl-step', '--batch', file, '--model', join(PACKAGE_ROOT, r.model), '--rows', String(batch.rows),
          '--threads', String(opts.threads), '--rounds', String(opts.rounds)], peer.env);
        const seconds = (t.oldLogProbSeconds as number) + (t.updateSeconds as number);
        torch = {
          available: true, ...peer.info, threads: opts.threads,
          oldLogProbSeconds: round(t.oldLogProbSeconds as number, 3), updateSeconds: round(t.updateSeconds as number, 3), seconds: round(seconds, 3),
          validTokensPerSecond: round(valid / seconds, 0), oldLogProbMaxAbsDiff: round(t.oldLogProbMaxAbsDiff as number, 5),
        };
        if (peer.info.blas.kernel) notes.push(`PyTorch's BLAS: ${peer.info.blas.kernel} kernels (OPENBLAS_CORETYPE=${peer.info.blas.openblasCoretype ?? 'unset'})`);
      } catch (e) {
        torch = { available: false, reason: (e as Error).message };
        notes.push(`PyTorch side failed: ${(e as Error).message}`);
      }
    }
  }
  const tt = torch;
  return {
    batch: file, model: r.model, rows: batch.rows, promptLength: r.promptLength, responseLength: r.responseLength,
    validTokens: valid, paddedTokens: padded, miniBatchRows: miniRows, microBatchRows: microRows, logProbMicroBatchRows: logProbRows,
    rounds: opts.rounds, ours, profile, torch,
    oursOverTorch: Object.fromEntries(ours.map((o) => [o.mode, tt.available ? ratio(tt.seconds, o.seconds) : null])),
    notes,
  };
}
