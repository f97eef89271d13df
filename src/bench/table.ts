/** The human-readable summary of a bench report: one fixed-width table per section. */
import type { BenchReport } from './suite.js';
import { formatRlStep } from './rl-step-table.js';
import { formatQwen } from './torch-qwen-table.js';
import { table } from './text-table.js';

export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  out.push(`${r.machine.cpu}, ${r.machine.cores} cores, node ${r.machine.node}; device ${r.device}, ${r.threads} thread(s)` +
    `${r.kernelVariant ? `, ${r.kernelVariant} kernels` : ''}${r.quick ? ' (quick: figures are not meaningful)' : ''}`);
  if (r.peak) out.push(`SIMD128 peak (${r.peak.instruction}): ${r.peak.gflopsPerCore.toFixed(1)} GFLOP/s per core`);
  out.push(`peers: ${r.peers.map((p) => ('version' in p ? `${p.name} ${p.version}` : `${p.name} unavailable (${p.unavailable})`)).join('; ')}`);
  const peerNames = r.peers.filter((p) => 'version' in p).map((p) => p.name);
  const cols = ['ours_1t', 'ours_pool', ...peerNames.flatMap((p) => [`${p}_1t`, `${p}_pool`])];
  out.push(table('matmul GFLOP/s', ['shape', 'layout', ...cols, 'pool/1t', '1t/peak', ...peerNames.map((p) => `1t/${p}`)],
    r.matmul.map((m) => [m.shape, m.layout, ...cols.map((c) => m.gflops[c]), m.ratios['ours_pool/ours_1t'], m.ratios['ours_1t/peak'],
      ...peerNames.map((p) => m.ratios[`ours_1t/${p}_1t`])])));
  if (r.halfMatmul) {
    out.push(table('matmul with f16 weights (x @ W^T, or dY @ W when transB is false), pool', ['kind', 'shape', 'transB', 'f32 ms', 'f16 ms', 'f32/f16'],
      r.halfMatmul.map((h) => [h.kind, h.shape, String(h.transB), h.msF32, h.msF16, h.speedup])));
  }
  out.push(table('memory-bound kernels GB/s (ideal traffic; ratio to a copy of the same size)', ['kernel', 'shape', '1t', 'pool', '1t/copy', 'pool/copy'],
    r.fused.map((f) => [f.kernel, f.shape, f.gbs['1t'], f.gbs['pool'], f.ofCopy['1t'], f.ofCopy['pool']])));
  if (r.pool) {
    const p = r.pool;
    out.push(`\npool (${p.threads} threads): a no-op job split ${p.noop.splitUs} us, alone ${p.noop.aloneUs} us; jobs under ${p.minWork} units never split`);
    out.push(table('fill, us per call', ['floats', 'alone', 'split', 'auto'], p.fill.map((f) => [f.floats, f.aloneUs, f.splitUs, f.autoUs])));
  }
  out.push(table('attention GFLOP/s', ['shape', 'B', 'T', 'H', 'Hkv', 'D', 'dir', '1t', 'pool', '1t/peak', 'pool/peak'],
    r.attention.map((a) => [a.name, a.B, a.T, a.H, a.Hkv, a.D, a.dir, a.gflops['1t'], a.gflops['pool'], a.ofPeak['1t'], a.ofPeak['pool']])));
  const t = r.trainStep;
  out.push(`\ntraining step (${t.batch}x${t.seqLen} tokens, ${t.model}): ${(t.seconds * 1000).toFixed(1)} ms, ` +
    `${t.tokensPerSecond.toFixed(0)} tokens/s, ${t.gflops.toFixed(2)} GFLOP/s; host traffic ${t.hostBytesWritten} B in, ${t.hostBytesRead} B out`);
  out.push(table('decoding (prompt + new tokens, ignore eos)', ['batch', 'prompt', 'new', 'seconds', 'tokens/s'],
    r.decode.map((d) => [d.batch, d.promptLen, d.newTokens, d.seconds, d.tokensPerSecond])));
  if (r.rlStep) out.push(formatRlStep(r.rlStep));
  if (r.qwen) out.push(formatQwen(r.qwen));
  return out.join('\n');
}
