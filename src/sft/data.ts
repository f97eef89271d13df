/**
 * SFT examples from parquet/JSONL rows: a row with the text column is plain text (every token is a
 * target); otherwise its prompt and response columns make a pair whose targets are the response
 * tokens only (veRL's SFTDataset masks the prompt the same way). Tokenised without special tokens;
 * the EOS is appended (and is a target) when `addEos`; examples longer than `maxLength` are cut.
 */
import { readDataRows, type Row } from '../data/index.js';
import type { Tokenizer } from '../tokenizer/index.js';

export interface SftExample {
  ids: number[];
  /** 1 where token t is a target (predicted from position t - 1); mask[0] is never used. */
  targetMask: number[];
}

export interface SftDataOptions {
  textKey: string;
  promptKey: string;
  responseKey: string;
  maxLength: number;
  addEos: boolean;
}

/** One row as an example. */
export function toExample(row: Row, tokenizer: Tokenizer, options: SftDataOptions, where: string): SftExample {
  const text = row[options.textKey];
  let ids: number[];
  let targetMask: number[];
  if (typeof text === 'string') {
    ids = tokenizer.encode(text, { addSpecialTokens: false });
    targetMask = ids.map(() => 1);
  } else {
    const prompt = row[options.promptKey];
    const response = row[options.responseKey];
    if (typeof prompt !== 'string' || typeof response !== 'string') {
      throw new Error(`${where}: needs a string '${options.textKey}', or string '${options.promptKey}' and '${options.responseKey}'`);
    }
    // Tokenised separately, so the boundary is exact even where a merge could span it.
    const p = tokenizer.encode(prompt, { addSpecialTokens: false });
    const r = tokenizer.encode(response, { addSpecialTokens: false });
    ids = [...p, ...r];
    targetMask = [...p.map(() => 0), ...r.map(() => 1)];
  }
  if (options.addEos) {
    ids.push(tokenizer.eosTokenId);
    targetMask.push(1);
  }
  if (ids.length > options.maxLength) {
    ids = ids.slice(0, options.maxLength);
    targetMask = targetMask.slice(0, options.maxLength);
  }
  if (ids.length < 2) throw new Error(`${where}: an example needs at least 2 tokens, got ${ids.length}`);
  return { ids, targetMask };
}

export async function loadSftExamples(files: string | readonly string[], tokenizer: Tokenizer, options: SftDataOptions): Promise<SftExample[]> {
  const out: SftExample[] = [];
  for (const file of typeof files === 'string' ? [files] : files) {
    const rows = await readDataRows(file);
    rows.forEach((row, i) => out.push(toExample(row, tokenizer, options, `${file} row ${i}`)));
  }
  return out;
}

/** Targets of an example (tokens that count in the loss). */
export function targetCount(e: SftExample): number {
  let n = 0;
  for (let t = 1; t < e.ids.length; t++) n += e.targetMask[t]!;
  return n;
}
