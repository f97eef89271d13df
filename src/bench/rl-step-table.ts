/** The bench summary's RL-step section: the recorded batch's phases per mode, PyTorch beside, the op profile. */
import type { RlStepResult } from './rl-step.js';
import { table } from './text-table.js';

export function formatRlStep(s: RlStepResult): string {
  const t = s.torch.available ? s.torch : null;
  const out = [`\nRL step: recorded batch ${s.rows} rows x ${s.promptLength}+${s.responseLength} tokens (${s.validTokens} valid of ${s.paddedTokens} padded), ` +
    `${s.model}; old log-probs ${s.logProbMicroBatchRows} rows a forward, update mini-batches of ${s.miniBatchRows} rows in micro-batches of ${s.microBatchRows}; best of ${s.rounds}`];
  const rows: (string | number | null)[][] = s.ours.map((o) => [o.mode, o.oldLogProbSeconds, o.updateSeconds, o.seconds, o.validTokensPerSecond, s.oursOverTorch[o.mode] ?? null, o.oldLogProbMaxAbsDiff]);
  if (t) rows.push([`pytorch ${t.torch} (padded)`, t.oldLogProbSeconds, t.updateSeconds, t.seconds, t.validTokensPerSecond, null, t.oldLogProbMaxAbsDiff]);
  out.push(table('seconds (old log-probs + update_actor)', ['', 'old_log_prob', 'update_actor', 'step', 'valid tok/s', 'pytorch/ours', 'logp diff'], rows));
  if (!t) out.push(`PyTorch unavailable: ${(s.torch as { reason: string }).reason}`);
  const p = s.profile;
  if (p) {
    out.push(`\nper-op profile of one padded replay: ${p.wallMs} ms, ${p.backendMs} ms in ${p.calls} backend calls, ${p.betweenMs} ms of JS between them`);
    out.push(table('backend calls, most time first', ['op', 'calls', 'ms', 'us/call'], p.ops.slice(0, 20).map((o) => [o.op, o.calls, o.ms, o.usPerCall])));
  }
  for (const n of s.notes) out.push(`note: ${n}`);
  return out.join('\n');
}
