/**
 * The whole bench: machine facts and peaks, matmul against the peers, memory-bound kernels against
 * the copy bandwidth, attention, a training step, batched decoding and the RL step on a recorded
 * batch (rl-step.ts). `quick` shrinks every size
 * and repetition so the run takes seconds (for the test of the report's shape); its figures mean
 * nothing.
 */
import os from 'node:os';
import { createBackend } from '../backend/index.js';
import { ATTENTION_SHAPES, benchAttention, type AttentionRow } from './attention.js';
import { benchFused, type FusedRow } from './fused.js';
import { benchHalfMatmul, HALF_SHAPES, HALF_SHAPES_QUICK, type HalfMatmulRow } from './half.js';
import { BIG_SHAPES, benchMatmul, SMALL_SHAPES, type MatmulRow } from './matmul.js';
import { benchDecode, benchTrainStep, type DecodeResult, type TrainStepResult } from './model.js';
import { measurePeak, type PeakResult } from './peak.js';
import { loadPeers, type PeerStatus } from './peers.js';
import { benchPool, type PoolResult } from './pool.js';
import { benchRlStep, type RlStepResult } from './rl-step.js';
import { createPair, type BackendPair } from './setup.js';
import { benchQwen, type QwenBenchResult } from './torch-qwen.js';
import type { RaceOptions } from './timing.js';

export const REPORT_SCHEMA = 'tinyzero-bench/1';

export interface BenchOptions {
  device: string;
  threads?: number;
  quick: boolean;
  /** Hugging Face folder for the training step and decoding. */
  model: string;
  /** Qwen2.5-0.5B beside PyTorch (default true; several minutes outside --quick). */
  qwen?: boolean;
  /** The RL step on a recorded batch (default true). */
  rlStep?: boolean;
  /** The recorded batch for the RL step (default: `npm start`'s step 1, in assets/bench). */
  rlBatch?: string;
  /** Replay only the first rows of the recorded batch (default all; quick: 16). */
  rlRows?: number;
  /** Progress lines (to stderr in the CLI). */
  log?: (line: string) => void;
}

export interface BenchReport {
  schema: typeof REPORT_SCHEMA;
  date: string;
  quick: boolean;
  machine: { cpu: string; cores: number; node: string; platform: string };
  device: string;
  threads: number;
  kernelVariant: string | null;
  peak: PeakResult | null;
  peers: PeerStatus[];
  matmul: MatmulRow[];
  /** Matmul with f16 weights beside f32 weights (backends with f16 storage; null elsewhere). */
  halfMatmul: HalfMatmulRow[] | null;
  fused: FusedRow[];
  /** The pool's split cost (CPU only; null elsewhere or on one thread). */
  pool: PoolResult | null;
  attention: AttentionRow[];
  trainStep: TrainStepResult;
  decode: DecodeResult[];
  /** Qwen2.5 at real dimensions beside PyTorch; null when skipped (--no-qwen). */
  qwen: QwenBenchResult | null;
  /** old log-probs + update_actor on a recorded batch, beside PyTorch; null when skipped (--no-rl-step). */
  rlStep: RlStepResult | null;
}

/** The report of `bench --only rl-step`: the machine and the RL step alone. */
export interface RlStepReport {
  schema: typeof RL_STEP_SCHEMA;
  date: string;
  quick: boolean;
  machine: BenchReport['machine'];
  device: string;
  threads: number;
  rlStep: RlStepResult;
}
export const RL_STEP_SCHEMA = 'tinyzero-bench-rl-step/1';

function machine(): BenchReport['machine'] {
  return { cpu: os.cpus()[0]?.model.trim() ?? 'unknown', cores: os.availableParallelism(), node: process.version, platform: `${process.platform}/${process.arch}` };
}

/** The RL step's settings: quick replays 16 rows (one prompt's group) once; a full run all rows, best of 2, with one profiled replay. */
function rlStepOn(pool: BackendPair['pool'], threads: number, opts: BenchOptions): Promise<RlStepResult> {
  const q = opts.quick;
  return benchRlStep(pool, { file: opts.rlBatch, rows: opts.rlRows ?? (q ? 16 : undefined), rounds: q ? 1 : 2, threads, profile: true, log: opts.log });
}

/** Only the RL step (`bench --only rl-step`). */
export async function runRlStepBench(opts: BenchOptions): Promise<RlStepReport> {
  const pair = await createPair(opts.device, opts.threads);
  try {
    (opts.log ?? ((): void => {}))(`bench: rl step only: ${opts.device}, ${pair.threads} thread(s)${opts.quick ? ' (quick)' : ''}`);
    const rlStep = await rlStepOn(pair.pool, pair.threads, opts);
    return { schema: RL_STEP_SCHEMA, date: new Date().toISOString(), quick: opts.quick, machine: machine(), device: opts.device, threads: pair.threads, rlStep };
  } finally {
    pair.destroy();
  }
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const log = opts.log ?? ((): void => {});
  const q = opts.quick;
  const race: RaceOptions = q ? { rounds: 1, minMs: 1 } : { rounds: 3, minMs: 120 };
  const pair = await createPair(opts.device, opts.threads);
  try {
    const variant = 'kernelVariant' in pair.pool ? String(pair.pool.kernelVariant) : null;
    log(`bench: ${opts.device}, ${pair.threads} thread(s)${variant ? `, ${variant} kernels` : ''}${q ? ' (quick)' : ''}`);
    const peak = opts.device === 'cpu' ? measurePeak(q ? 5 : 50, q ? 1 : 5) : null;
    const peakPerCore = peak?.gflopsPerCore ?? null;
    const { peers, status } = await loadPeers();
    log('bench: matmul');
    const matmul = await benchMatmul(pair, peers, q ? SMALL_SHAPES : [...BIG_SHAPES, ...SMALL_SHAPES], peakPerCore, race);
    log('bench: f16 weights');
    const halfMatmul = await benchHalfMatmul(pair, q ? HALF_SHAPES_QUICK : HALF_SHAPES, race);
    log('bench: memory-bound kernels');
    const fused = await benchFused(pair, q ? { rows: 64, dim: 256, lpRows: 4, vocab: 4096 } : { rows: 4096, dim: 1024, lpRows: 128, vocab: 32768 }, race);
    const pool = opts.device === 'cpu' && pair.threads > 1
      ? (log('bench: pool split cost'), await benchPool(pair.threads, q ? [1 << 16] : [1 << 14, 1 << 16, 1 << 18, 1 << 20], race))
      : null;
    log('bench: attention');
    const attention = await benchAttention(pair, q ? ATTENTION_SHAPES.slice(0, 1) : ATTENTION_SHAPES, peakPerCore, race);
    log('bench: training step');
    const trainStep = await benchTrainStep(pair.pool, opts.model, q ? 2 : 8, q ? 8 : 48, q ? 1 : 5);
    log('bench: decoding');
    const decode = await benchDecode(pair.pool, opts.model, [1, 64, 800], q ? 4 : 16, q ? 2 : 32, q ? 1 : 3);
    const rlStep = opts.rlStep === false ? null : (log('bench: rl step (recorded batch)'), await rlStepOn(pair.pool, pair.threads, opts));
    const qwen = opts.qwen === false ? null : await benchQwen(() => createBackend(opts.device, { threads: pair.threads }), { quick: q, threads: pair.threads, rounds: q ? 1 : 2, log });
    return {
      schema: REPORT_SCHEMA,
      date: new Date().toISOString(),
      quick: q,
      machine: machine(),
      device: opts.device,
      threads: pair.threads,
      kernelVariant: variant,
      peak,
      peers: status,
      matmul, halfMatmul, fused, pool, attention, trainStep, decode, qwen, rlStep,
    };
  } finally {
    pair.destroy();
  }
}
