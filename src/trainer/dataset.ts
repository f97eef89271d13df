/**
 * RLHFDataset as TinyZero builds it (docs/verl-compat.md#prompts-to-tokens): the first message's content is the prompt text, used
 * as is unless `data.apply_chat_template`; tokenised without special tokens; a prompt longer than
 * `data.max_prompt_length` is an error (truncation='error'), named by file and row.
 */
import { readDataRows, type Row } from '../data/index.js';
import { selectRmScoreFn } from '../tasks/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { RewardFn } from './reward.js';

export interface PromptRow {
  /** Prompt token ids, unpadded. */
  ids: number[];
  /** The text the ids encode. */
  text: string;
  /** Routes the reward; 'unknown' when the file has none (veRL's val metric key then reads unknown). */
  dataSource: string;
  /** `reward_model.ground_truth`, or null. */
  groundTruth: unknown;
  /** `extra_info.index` when present, else the row number. */
  index: number;
}

export interface DatasetOptions {
  promptKey: string;
  maxPromptLength: number;
  applyChatTemplate: boolean;
  /**
   * 'data_source' (rule rewards routed by each row's data_source): every row must carry a
   * data_source with a reward function and a reward_model.ground_truth, checked here at load, so
   * a bad row is named by file and row before any generation instead of after the first rollout.
   */
  rewardFn?: RewardFn;
}

function checkRewardColumns(row: Row, file: string, i: number): void {
  const source = row.data_source;
  if (typeof source !== 'string') {
    throw new Error(`${file}: row ${i}: data_source is ${source == null ? 'missing' : JSON.stringify(source)}; ` +
      "reward_model.reward_fn 'data_source' routes each row's reward by it");
  }
  try {
    selectRmScoreFn(source);
  } catch (e) {
    throw new Error(`${file}: row ${i}: ${(e as Error).message}`);
  }
  const rm = row.reward_model as { ground_truth?: unknown } | undefined;
  if (rm?.ground_truth === undefined || rm.ground_truth === null) {
    throw new Error(`${file}: row ${i}: reward_model.ground_truth is missing; the '${source}' reward compares the response with it`);
  }
}

function promptText(row: Row, key: string, file: string, i: number, tokenizer: Tokenizer, chat: boolean): string {
  const value = row[key];
  if (typeof value === 'string') return value;
  if (!Array.isArray(value) || value.length === 0) {
    throw new Error(`${file}: row ${i}: column '${key}' must be a list of {role, content} messages or a string`);
  }
  const messages = value.map((m: unknown, j: number) => {
    const msg = m as { role?: unknown; content?: unknown };
    if (typeof msg?.content !== 'string') throw new Error(`${file}: row ${i}: ${key}[${j}].content must be a string`);
    return { role: typeof msg.role === 'string' ? msg.role : 'user', content: msg.content };
  });
  return chat ? tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }) : messages[0]!.content;
}

export async function loadPromptDataset(files: string | string[], tokenizer: Tokenizer, options: DatasetOptions): Promise<PromptRow[]> {
  const out: PromptRow[] = [];
  for (const file of Array.isArray(files) ? files : [files]) {
    const rows = await readDataRows(file);
    rows.forEach((row, i) => {
      const text = promptText(row, options.promptKey, file, i, tokenizer, options.applyChatTemplate);
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      if (ids.length > options.maxPromptLength) {
        throw new Error(`${file}: row ${i}: the prompt has ${ids.length} tokens, more than data.max_prompt_length = ${options.maxPromptLength}`);
      }
      if (ids.length === 0) throw new Error(`${file}: row ${i}: the prompt is empty`);
      if (options.rewardFn === 'data_source') checkRewardColumns(row, file, i);
      const rm = row.reward_model as { ground_truth?: unknown } | undefined;
      const extra = row.extra_info as { index?: unknown } | undefined;
      out.push({
        ids,
        text,
        dataSource: typeof row.data_source === 'string' ? row.data_source : 'unknown',
        groundTruth: rm?.ground_truth ?? null,
        index: typeof extra?.index === 'number' ? extra.index : i,
      });
    });
  }
  if (out.length === 0) throw new Error(`${String(files)}: no rows`);
  return out;
}
