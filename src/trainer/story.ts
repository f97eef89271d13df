/**
 * The run's before/after story: the greedy responses to the first validation problems before the
 * first step and after the last, with the held-out accuracy and behaviour metrics (`val/behavior/*`)
 * before → after. The before-state is saved in the run folder at step 0 (`story-before.json`), so a
 * run that is resumed and finishes tells its story from the model it started with; the end of a run
 * writes `story.md` (to read or quote) and `summary.json` (the same as data).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { ValidationResult } from './validate.js';

export const STORY_BEFORE_FILE = 'story-before.json';
export const STORY_FILE = 'story.md';
export const SUMMARY_FILE = 'summary.json';
/** How many validation problems the story follows: the first ones of the validation set. */
export const STORY_PROBLEMS = 3;

export interface StorySample {
  /** `numbers [44, 19, 35], target 28` for Countdown; the ground truth as JSON otherwise. */
  problem: string;
  prompt: string;
  response: string;
  score: number;
}

/** The model's side of the story at one step: its validation metrics and greedy samples. */
export interface StoryState {
  step: number;
  metrics: Record<string, number>;
  samples: StorySample[];
}

function describeProblem(groundTruth: unknown): string {
  const json = (v: unknown): string => JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)) ?? 'none';
  const gt = groundTruth as { target?: unknown; numbers?: unknown } | null;
  if (gt && typeof gt === 'object' && gt.target !== undefined && Array.isArray(gt.numbers)) return `numbers ${json(gt.numbers).replaceAll(',', ', ')}, target ${json(gt.target)}`;
  return `ground truth ${json(groundTruth)}`;
}

/** The story's side of a validation: its metrics and the first STORY_PROBLEMS rows. */
export function storyState(step: number, result: ValidationResult): StoryState {
  // validate()'s samples are its first rows, in the validation set's order.
  const samples = result.samples.slice(0, STORY_PROBLEMS);
  return {
    step,
    metrics: result.metrics,
    samples: samples.map((s, r) => ({ problem: describeProblem(result.batch.prompts[r]!.groundTruth), prompt: s.prompt, response: s.response, score: s.score })),
  };
}

export function saveStoryBefore(runDir: string, state: StoryState): void {
  writeFileAtomic(join(runDir, STORY_BEFORE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

/** The run's saved before-state; null when the run has none (it skipped validation before training). */
export function readStoryBefore(runDir: string): StoryState | null {
  const file = join(runDir, STORY_BEFORE_FILE);
  if (!existsSync(file)) return null;
  let state: Partial<StoryState>;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as Partial<StoryState>;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); it holds the run's greedy responses before training`);
  }
  const isSample = (s: unknown): boolean => typeof s === 'object' && s !== null &&
    ['problem', 'prompt', 'response'].every((k) => typeof (s as Record<string, unknown>)[k] === 'string') && typeof (s as Record<string, unknown>).score === 'number';
  if (typeof state?.step !== 'number' || typeof state.metrics !== 'object' || state.metrics === null || !Array.isArray(state.samples) || !state.samples.every(isSample)) {
    throw new Error(`${file}: expected {step, metrics, samples: [{problem, prompt, response, score}]}; it holds the run's greedy responses before training`);
  }
  // JSON has no NaN: a metric that was not finite reads back as null and is left out.
  const metrics = Object.fromEntries(Object.entries(state.metrics).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  return { step: state.step, metrics, samples: state.samples };
}

const pct = (v: number | undefined): string => (v === undefined ? 'n/a' : `${(100 * v).toFixed(1)}%`);

/** `held-out accuracy (share of reward 1.0) on countdown: 5.1% -> 31.3%; mean reward ...` per data source validated. */
export function accuracyLines(before: Record<string, number> | null, after: Record<string, number> | null): string {
  const sources = Object.keys(after ?? before ?? {}).filter((k) => k.startsWith('val/accuracy/')).map((k) => k.slice('val/accuracy/'.length));
  return sources.map((s) => {
    const score = (m: Record<string, number> | null): string => (m?.[`val/test_score/${s}`] === undefined ? 'n/a' : m[`val/test_score/${s}`]!.toFixed(3));
    return `  held-out accuracy (share of reward 1.0) on ${s}: ${pct(before?.[`val/accuracy/${s}`])} -> ${pct(after?.[`val/accuracy/${s}`])}; ` +
      `mean reward ${score(before)} -> ${score(after)}\n`;
  }).join('');
}

/** How each behaviour metric reads in the summary; others print as `name value`. */
const BEHAVIOR_LABELS: Record<string, { label: string; format: (v: number | undefined) => string }> = {
  tries_per_response: { label: 'tries per response', format: (v) => (v === undefined ? 'n/a' : v.toFixed(2)) },
  answer_after_passed_check: { label: 'answers right after a passed check', format: pct },
  verdict_correct: { label: 'checks right', format: pct },
  arith_correct: { label: 'arithmetic steps right', format: pct },
  response_length: { label: 'response length (tokens)', format: (v) => (v === undefined ? 'n/a' : v.toFixed(1)) },
};

/** `  behaviour on countdown (held-out, greedy): tries per response 1.20 -> 2.50; ...` per data source. */
export function behaviorLines(before: Record<string, number> | null, after: Record<string, number> | null): string {
  const bySource = new Map<string, string[]>();
  for (const m of [before, after]) {
    for (const key of Object.keys(m ?? {})) {
      const match = /^val\/behavior\/([^/]+)\/(.+)$/.exec(key);
      if (!match) continue;
      const names = bySource.get(match[2]!) ?? [];
      if (!names.includes(match[1]!)) names.push(match[1]!);
      bySource.set(match[2]!, names);
    }
  }
  const order = Object.keys(BEHAVIOR_LABELS);
  const rank = (n: string): number => (order.includes(n) ? order.indexOf(n) : order.length);
  return [...bySource].map(([source, names]) => {
    const parts = names.sort((a, b) => rank(a) - rank(b)).map((name) => {
      const { label, format } = BEHAVIOR_LABELS[name] ?? { label: name, format: (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(3)) };
      const key = `val/behavior/${name}/${source}`;
      return `${label} ${format(before?.[key])} -> ${format(after?.[key])}`;
    });
    return `  behaviour on ${source} (held-out, greedy): ${parts.join('; ')}\n`;
  }).join('');
}

/** The samples of one side, labelled, one line each (the response as a JSON string: newlines show). */
export function storySampleLines(title: string, state: StoryState): string[] {
  return [title, ...state.samples.map((s, i) => `  problem ${i + 1} (${s.problem}), reward ${s.score.toFixed(1)}: ${JSON.stringify(s.response)}`)];
}

/** The console's before/after: per problem, the greedy response before training and after the last step. */
export function storyLines(before: StoryState | null, after: StoryState): string[] {
  const lines = [`greedy responses to the first ${after.samples.length} held-out problems, ${before ? `before training (step ${before.step})` : 'before training: not recorded (no validation before the first step)'} and after step ${after.step}:`];
  after.samples.forEach((a, i) => {
    const b = before?.samples[i];
    lines.push(`  problem ${i + 1}: ${a.problem}`);
    if (b) lines.push(`    before (reward ${b.score.toFixed(1)}): ${JSON.stringify(b.response)}`);
    lines.push(`    after  (reward ${a.score.toFixed(1)}): ${JSON.stringify(a.response)}`);
  });
  return lines;
}

function markdownStory(before: StoryState | null, after: StoryState, run: { firstStep: number; lastStep: number; resumedFrom: number | null }): string {
  const fence = (text: string): string => `\`\`\`\n${text.replaceAll('```', '`\u200b``')}\n\`\`\``;
  const out = [
    '# Before and after training', '',
    `Steps ${run.firstStep}-${run.lastStep}${run.resumedFrom !== null ? ` (resumed from step ${run.resumedFrom})` : ''}; ` +
      `greedy responses to the first ${after.samples.length} held-out problems ${before ? `before training (step ${before.step})` : '(none recorded before training)'} and after step ${after.step}.`, '',
    '```', (accuracyLines(before?.metrics ?? null, after.metrics) + behaviorLines(before?.metrics ?? null, after.metrics)).trimEnd(), '```', '',
  ];
  after.samples.forEach((a, i) => {
    const b = before?.samples[i];
    out.push(`## Problem ${i + 1}: ${a.problem}`, '');
    if (b) out.push(`Before (reward ${b.score.toFixed(1)}):`, '', fence(b.response), '');
    out.push(`After (reward ${a.score.toFixed(1)}):`, '', fence(a.response), '');
  });
  return out.join('\n');
}

/** Writes `story.md` and `summary.json` into the run folder (each atomically). */
export function writeStory(runDir: string, before: StoryState | null, after: StoryState, run: { firstStep: number; lastStep: number; resumedFrom: number | null }): void {
  writeFileAtomic(join(runDir, STORY_FILE), markdownStory(before, after, run));
  writeFileAtomic(join(runDir, SUMMARY_FILE), `${JSON.stringify({ ...run, before, after }, null, 2)}\n`);
}
