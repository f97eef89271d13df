/**
 * Qwen2.5 at real dimensions beside PyTorch, in one run: decode tokens/s at batch 1 and 64 on
 * Qwen2.5-0.5B, and one full training step (forward, token log-prob loss, backward, AdamW) on a
 * Countdown-shaped batch. The training model has Qwen2.5-0.5B's layer widths, 2 layers and a 32k
 * vocabulary: the whole 0.5B model needs 7.9 GB for weights, gradients and AdamW moments in f32,
 * beyond the CPU backend's 4 GiB memory (see TRAIN_VOCAB for the vocabulary). Both models are written with random weights (as init-model writes them)
 * to a temp folder, removed at the end; both sides read the same safetensors.
 *
 * The PyTorch side is scripts/torch-qwen2.py on the same number of threads, with OpenBLAS's kernel
 * named (see torch-peer.ts); the ratios are ours / PyTorch's, so above 1 means we are faster.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { parseModelConfig } from '../models/config.js';
import type { Json } from '../models/config-keys.js';
import { initPresets, pythonJson } from '../models/init-config.js';
import { writeRandomWeights } from '../models/init-weights.js';
import { countParameters } from '../models/load.js';
import { benchDecode, benchTrainStep, type DecodeResult, type TrainStepResult } from './model.js';
import { findTorchPeer, runTorchScript, type TorchInfo } from './torch-peer.js';
import { round } from './timing.js';

export interface TorchSide {
  decode: { batch: number; tokensPerSecond: number; seconds: number }[];
  trainStep: { batch: number; seqLen: number; seconds: number; tokensPerSecond: number } | null;
}

/** A decode row, or why it could not run (the CPU backend's 4 GiB can run out at batch 64). */
export type OurDecode = DecodeResult | { batch: number; promptLen: number; newTokens: number; error: string };

export interface QwenBenchResult {
  decodeModel: { name: string; parameters: number };
  trainModel: { name: string; parameters: number };
  promptLen: number;
  newTokens: number;
  ours: { decode: OurDecode[]; trainStep: TrainStepResult | null; trainError?: string };
  torch: ({ available: true } & TorchInfo & TorchSide) | { available: false; reason: string };
  /** ours / PyTorch tokens/s (above 1: faster than PyTorch). */
  ratios: { decode: { batch: number; oursOverTorch: number }[]; trainStep: number | null };
  notes: string[];
}

export interface QwenBenchOptions {
  quick: boolean;
  threads: number;
  rounds: number;
  log: (line: string) => void;
}

/**
 * The training model's vocabulary: with all 151,936 rows, a 2-layer step (even 1 x 256 tokens) runs
 * out of the CPU backend's 4 GiB, whose allocator keeps freed blocks in per-size classes (2.6 GB
 * in use at the peak, 4 GiB handed out). The layers keep Qwen2.5-0.5B's widths.
 */
const TRAIN_VOCAB = 32768;

/** A tiny Qwen2 config for --quick: the same code paths in seconds. */
const quickConfig: Record<string, Json> = {
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', vocab_size: 512, hidden_size: 64, intermediate_size: 128,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0,
  tie_word_embeddings: true, initializer_range: 0.02, torch_dtype: 'bfloat16', max_position_embeddings: 4096,
};

function writeModel(dir: string, json: Record<string, Json>): number {
  mkdirSync(dir, { recursive: true });
  const config = parseModelConfig(json, dir);
  writeRandomWeights(dir, config, { dtype: 'BF16', seed: 0, maxShardBytes: 5e9 });
  writeFileAtomic(join(dir, 'config.json'), pythonJson(json));
  return countParameters(config, 'lm');
}

interface TorchRun {
  decodeDir: string; trainDir: string; batches: number[]; promptLen: number; newTokens: number;
  B: number; L: number; threads: number; rounds: number; log: (line: string) => void;
}

function measureTorch(python: string, env: NodeJS.ProcessEnv, r: TorchRun): TorchSide {
  const common = ['--threads', String(r.threads), '--rounds', String(r.rounds)];
  const decode: TorchSide['decode'] = [];
  for (const batch of r.batches) {
    r.log(`bench: qwen: PyTorch decoding, batch ${batch}`);
    const d = runTorchScript(python, ['decode', '--model', r.decodeDir, '--batch', String(batch), '--prompt-len', String(r.promptLen),
      '--new-tokens', String(r.newTokens), ...common], env);
    decode.push({ batch, seconds: round(d.seconds as number, 4), tokensPerSecond: round(d.tokensPerSecond as number, 1) });
  }
  r.log('bench: qwen: PyTorch training step');
  const t = runTorchScript(python, ['train', '--model', r.trainDir, '--batch', String(r.B), '--seq-len', String(r.L), ...common], env);
  return { decode, trainStep: { batch: r.B, seqLen: r.L, seconds: round(t.seconds as number, 4), tokensPerSecond: round(t.tokensPerSecond as number, 1) } };
}

/**
 * `backend()` makes a fresh backend for each of our measurements: on the CPU each gets its own
 * 4 GiB memory, because the allocator keeps freed blocks per size class, so the training step's
 * blocks would otherwise crowd out the batch-64 decode (measured: out of memory after the step).
 */
export async function benchQwen(backend: () => Promise<Backend>, opts: QwenBenchOptions): Promise<QwenBenchResult> {
  const q = opts.quick;
  const root = mkdtempSync(join(tmpdir(), 'tinyzero-bench-qwen-'));
  try {
    const preset = initPresets['qwen2.5-0.5b']!.config;
    const decodeJson = q ? quickConfig : { ...preset };
    const trainJson = q ? quickConfig : { ...preset, num_hidden_layers: 2, max_window_layers: 2, vocab_size: TRAIN_VOCAB, bos_token_id: null, eos_token_id: null };
    const decodeDir = join(root, 'decode');
    const trainDir = join(root, 'train');
    opts.log(`bench: qwen: writing ${q ? 'a tiny Qwen2' : 'Qwen2.5-0.5B'} with random weights`);
    const decodeParams = writeModel(decodeDir, decodeJson);
    const trainParams = writeModel(trainDir, trainJson);
    const promptLen = q ? 4 : 16;
    const newTokens = q ? 2 : 16;
    const batches = [1, 64];
    // Countdown-shaped: a Qwen-tokenized Countdown prompt is about 130 tokens, responses run to
    // hundreds; two sequences of 256 keep the CPU step within the wasm memory.
    const [B, L] = q ? [2, 8] : [2, 256];
    const notes: string[] = [];

    const fresh = async <T>(fn: (be: Backend) => Promise<T>): Promise<T> => {
      const be = await backend();
      try {
        return await fn(be);
      } finally {
        be.destroy();
      }
    };
    opts.log('bench: qwen: our training step');
    let oursTrain: TrainStepResult | null = null;
    let trainError: string | undefined;
    try {
      oursTrain = await fresh((be) => benchTrainStep(be, trainDir, B, L, opts.rounds));
    } catch (e) {
      trainError = (e as Error).message;
      notes.push(`our training step failed: ${trainError}`);
    }
    const oursDecode: OurDecode[] = [];
    for (const batch of batches) {
      opts.log(`bench: qwen: our decoding, batch ${batch}`);
      try {
        oursDecode.push(...await fresh((be) => benchDecode(be, decodeDir, [batch], promptLen, newTokens, opts.rounds)));
      } catch (e) {
        const error = (e as Error).message;
        oursDecode.push({ batch, promptLen, newTokens, error });
        notes.push(`our decoding at batch ${batch} failed: ${error}`);
      }
    }

    const peer = findTorchPeer();
    let torch: QwenBenchResult['torch'];
    if (!peer.available) {
      torch = { available: false, reason: peer.reason };
      notes.push(`PyTorch side skipped: ${peer.reason}`);
    } else {
      try {
        torch = { available: true, ...peer.info, threads: opts.threads, ...measureTorch(peer.info.python, peer.env, {
          decodeDir, trainDir, batches, promptLen, newTokens, B, L, threads: opts.threads, rounds: opts.rounds, log: opts.log,
        }) };
        if (peer.info.blas.kernel) notes.push(`PyTorch's BLAS: ${peer.info.blas.kernel} kernels (OPENBLAS_CORETYPE=${peer.info.blas.openblasCoretype ?? 'unset'})`);
      } catch (e) {
        torch = { available: false, reason: (e as Error).message };
        notes.push(`PyTorch side failed: ${(e as Error).message}`);
      }
    }
    const ratio = (a: number, b: number): number => round(a / b, 3);
    const ratios: QwenBenchResult['ratios'] = {
      decode: torch.available ? oursDecode.flatMap((d, i) => ('error' in d ? [] : [{ batch: d.batch, oursOverTorch: ratio(d.tokensPerSecond, torch.decode[i]!.tokensPerSecond) }])) : [],
      trainStep: torch.available && torch.trainStep && oursTrain ? ratio(oursTrain.tokensPerSecond, torch.trainStep.tokensPerSecond) : null,
    };
    return {
      decodeModel: { name: q ? 'tiny qwen2 (quick)' : 'qwen2.5-0.5b', parameters: decodeParams },
      trainModel: { name: q ? 'tiny qwen2 (quick)' : `qwen2.5-0.5b widths, 2 layers, vocabulary ${TRAIN_VOCAB}`, parameters: trainParams },
      promptLen, newTokens,
      ours: { decode: oursDecode, trainStep: oursTrain, ...(trainError ? { trainError } : {}) },
      torch, ratios, notes,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
