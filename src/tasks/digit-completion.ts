/**
 * veRL's end-to-end task (tests/e2e/envs/digit_completion): the prompt "a,b:M,N" starts an
 * arithmetic sequence mod M; the answer is its next N terms, e.g. "8,3:9,4" -> "7,2,6,1". The reward
 * is dense: 1/(len(gt)+1) per leading character that matches, so a full match plus EOS sums to 1.
 */
import { Prng } from '../util/prng.js';

export interface DigitCompletionOptions {
  maxNumber: number;
  maxDiff: number;
  maxNumInResponse: number;
}

/** The configuration veRL's create_dataset.py uses: 10 * 10 * 10 = 1000 prompts. */
export const DIGIT_COMPLETION_DEFAULTS: DigitCompletionOptions = { maxNumber: 9, maxDiff: 9, maxNumInResponse: 9 };

/** Every prompt, in veRL's order: first number, then difference, then count. */
export function allDigitCompletionPrompts(o: DigitCompletionOptions = DIGIT_COMPLETION_DEFAULTS): string[] {
  const prompts: string[] = [];
  for (let first = 0; first <= o.maxNumber; first++) {
    for (let diff = 0; diff <= o.maxDiff; diff++) {
      const second = (first + diff) % o.maxNumber;
      for (let n = 0; n <= o.maxNumInResponse; n++) prompts.push(`${first},${second}:${o.maxNumber},${n}`);
    }
  }
  return prompts;
}

/** Train/test split of all prompts by a seeded shuffle (veRL used torch's random_split 0.8/0.2). */
export function splitDigitCompletion(rng: Prng, trainSize = 800, testSize = 200, o = DIGIT_COMPLETION_DEFAULTS): { train: string[]; test: string[] } {
  const all = rng.shuffle(allDigitCompletionPrompts(o));
  if (trainSize + testSize > all.length) {
    throw new Error(`digit-completion: train ${trainSize} + test ${testSize} exceeds the ${all.length} distinct prompts`);
  }
  return { train: all.slice(0, trainSize), test: all.slice(trainSize, trainSize + testSize) };
}

export function groundTruthResponse(prompt: string): string {
  const m = /^(\d+),(\d+):(\d+),(\d+)$/.exec(prompt);
  if (!m) throw new Error(`digit-completion: prompt must look like "a,b:M,N", got ${JSON.stringify(prompt)}`);
  const [num1, num2, maxNumber, count] = m.slice(1).map(Number) as [number, number, number, number];
  // Python's % is a floor modulo: (3 - 8) % 9 == 4
  const diff = (((num2 - num1) % maxNumber) + maxNumber) % maxNumber;
  const out: string[] = [];
  let last = num2;
  for (let i = 0; i < count; i++) {
    last = (last + diff) % maxNumber;
    out.push(String(last));
  }
  return out.join(',');
}

/** compute_reward: per-character reward for the response, 1/(len(gt)+1) while it matches gt. */
export function computeReward(prompt: string, response: string, sequenceReward = 1.0): Float32Array {
  const gt = groundTruthResponse(prompt);
  const perToken = sequenceReward / (gt.length + 1); // + 1 for the EOS token
  const reward = new Float32Array(response.length);
  for (let i = 0; i < response.length && i < gt.length; i++) {
    if (response[i] !== gt[i]) break;
    reward[i] = perToken;
  }
  return reward;
}

/**
 * The token-level reward row as veRL's e2e reward function builds it: the per-char rewards of the
 * response (EOS removed), then the last value (1 if both response and ground truth are empty, else 0
 * for an empty response) on the token after the text, the EOS; times the response attention mask.
 *
 * veRL pads the whole tail with the last value, but it removes only the EOS character, which is the
 * last valid token (generation stops there), so its padding reaches exactly one valid token: giving
 * the last value once is the same row for every response the rollout can produce. Either way a
 * sequence earns at most 1.0.
 */
export function digitCompletionTokenRewards(prompt: string, response: string, responseMask: ArrayLike<number>): Float32Array {
  const gt = groundTruthResponse(prompt);
  const dense = Array.from(computeReward(prompt, response));
  const last = dense.length > 0 ? dense.at(-1)! : gt.length === 0 ? 1 : 0;
  const out = new Float32Array(responseMask.length);
  for (let i = 0; i < out.length; i++) out[i] = (i < dense.length ? dense[i]! : i === dense.length ? last : 0) * responseMask[i]!;
  return out;
}

/** The character tokenizer's separator (ends a chat-templated prompt) and EOS. */
export const DIGIT_COMPLETION_SEP = 'S';
export const DIGIT_COMPLETION_EOS = 'E';

/**
 * veRL's e2e reward on decoded text (tests/e2e/arithmetic_sequence/rl/main_trainer.py): the
 * separator is removed from the prompt (the tokenizer's chat template ends it with one) and only
 * the EOS from the response. A separator inside the response stays and mismatches the ground truth.
 */
export function digitCompletionRewardsFromText(promptText: string, responseText: string, responseMask: ArrayLike<number>): Float32Array {
  return digitCompletionTokenRewards(
    promptText.replaceAll(DIGIT_COMPLETION_SEP, ''), responseText.replaceAll(DIGIT_COMPLETION_EOS, ''), responseMask);
}
