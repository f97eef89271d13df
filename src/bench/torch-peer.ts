/**
 * The PyTorch peer: `scripts/torch-qwen2.py` (a minimal Qwen2 forward with a KV cache on the same
 * safetensors) run by a python3 that has torch. Used by the bench's Qwen section and the parity
 * test; when no python3 with torch is found, callers get the reason instead of a peer.
 *
 * OpenBLAS 0.3.21 (Debian's) does not recognise every CPU and then runs its SSE3 kernels; the peer
 * is started with OPENBLAS_CORETYPE naming the kernel for this CPU (SkylakeX where AVX-512 is
 * present, Haswell where AVX2 is), unless the caller's environment already sets it to that.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const TORCH_SCRIPT = new URL('../../../scripts/torch-qwen2.py', import.meta.url).pathname;

export interface TorchBlas {
  library: string | null;
  openblasCoretype: string | null;
  kernel?: string | null;
  config?: string;
}

export interface TorchInfo {
  python: string;
  torch: string;
  threads: number;
  blas: TorchBlas;
}

export type TorchPeer = { available: true; info: TorchInfo; env: NodeJS.ProcessEnv } | { available: false; reason: string };

/** OpenBLAS's kernel name for this CPU from /proc/cpuinfo's flags (null: leave OpenBLAS's own choice). */
export function openblasCoretype(): string | null {
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  } catch {
    return null;
  }
  const has = (f: string): boolean => new RegExp(`\\b${f}\\b`).test(flags);
  if (has('avx512f') && has('avx512bw') && has('avx512vl') && has('avx512dq')) return 'SkylakeX';
  if (has('avx2') && has('fma')) return 'Haswell';
  return null;
}

const PYTHONS = ['python3', '/usr/bin/python3'];

/** Runs the script; throws with the script's stderr when it fails. */
export function runTorchScript(python: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30 * 60_000): Record<string, unknown> {
  const r = spawnSync(python, [TORCH_SCRIPT, ...args], { encoding: 'utf8', env, timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${python} ${TORCH_SCRIPT} ${args[0]}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${python} ${TORCH_SCRIPT} ${args[0]} exited with ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`${python} ${TORCH_SCRIPT} ${args[0]}: expected one JSON line on stdout, got ${JSON.stringify(last.slice(0, 200))}`);
  }
}

/** The first python3 on the list that imports torch, with the tuned OpenBLAS kernel set. */
export function findTorchPeer(): TorchPeer {
  const coretype = openblasCoretype();
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  const reasons: string[] = [];
  for (const python of PYTHONS) {
    const probe = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8', env, timeout: 120_000 });
    if (probe.error || probe.status !== 0) {
      reasons.push(`${python}: ${probe.error?.message ?? probe.stderr.trim().split('\n').pop()}`);
      continue;
    }
    const info = runTorchScript(python, ['info'], env) as unknown as Omit<TorchInfo, 'python'>;
    return { available: true, info: { python, ...info }, env };
  }
  return { available: false, reason: `no python3 with torch and numpy (${reasons.join('; ')}); on Debian: apt-get install python3-torch libopenblas0-pthread` };
}
