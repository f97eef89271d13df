/** The bench summary's Qwen2.5-beside-PyTorch section. */
import { table } from './text-table.js';
import type { QwenBenchResult } from './torch-qwen.js';

export function formatQwen(q: QwenBenchResult): string {
  const t = q.torch.available ? q.torch : null;
  const head = t ? `PyTorch ${t.torch}, ${t.threads} thread(s), BLAS ${t.blas.kernel ?? t.blas.library ?? 'unknown'}` : `PyTorch unavailable: ${(q.torch as { reason: string }).reason}`;
  const out = [`\nQwen2.5 beside PyTorch (${head})`];
  out.push(table(`decoding ${q.decodeModel.name} (${q.decodeModel.parameters.toLocaleString()} parameters), ${q.promptLen}-token prompts + ${q.newTokens} new, tokens/s`,
    ['batch', 'ours', 'pytorch', 'ours/pytorch'],
    q.ours.decode.map((d, i) => [d.batch, 'error' in d ? 'failed (see note)' : d.tokensPerSecond, t?.decode[i]?.tokensPerSecond,
      q.ratios.decode.find((x) => x.batch === d.batch)?.oursOverTorch])));
  const o = q.ours.trainStep;
  out.push(table(`training step ${q.trainModel.name} (${q.trainModel.parameters.toLocaleString()} parameters), tokens/s`,
    ['batch x seq', 'ours', 'pytorch', 'ours/pytorch'],
    [[o ? `${o.batch}x${o.seqLen}` : '-', o?.tokensPerSecond ?? q.ours.trainError ?? null, t?.trainStep?.tokensPerSecond, q.ratios.trainStep]]));
  for (const n of q.notes) out.push(`note: ${n}`);
  return out.join('\n');
}
