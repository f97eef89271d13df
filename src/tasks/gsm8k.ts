/** GSM8K scoring (verl/utils/reward_score/gsm8k.py, strict mode): the FIRST `#### <number>` counts. */

export const GSM8K_DATA_SOURCE = 'openai/gsm8k';

export function gsm8kPrompt(question: string): string {
  return `${question} Let's think step by step and output the final answer after "####".`;
}

/** The number after the first `#### `, commas (and `$`, which cannot occur) removed; null if none. */
export function extractSolution(solutionStr: string): string | null {
  const m = /#### (-?[0-9.,]+)/.exec(solutionStr);
  if (!m) return null;
  return m[1]!.replaceAll(',', '').replaceAll('$', '');
}

/** String comparison, so "72." or "072" does not match "72". */
export function computeScore(solutionStr: string, groundTruth: unknown, formatScore = 0.0, score = 1.0): number {
  const answer = extractSolution(solutionStr);
  if (answer === null) return 0;
  return answer === groundTruth ? score : formatScore;
}
