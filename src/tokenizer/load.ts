/** Picks the tokenizer a model folder holds. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CharTokenizer } from './char-tokenizer.js';
import { readJsonObject } from './files.js';
import { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.js';
import type { Tokenizer } from './types.js';

/** `tokenizer.json` present: the HF tokenizer; `char_ords` in tokenizer_config.json: the character tokenizer. */
export function loadTokenizer(dir: string, options: HfTokenizerOptions = {}): Tokenizer {
  if (existsSync(join(dir, 'tokenizer.json'))) return HfTokenizer.load(dir, options);
  const configFile = join(dir, 'tokenizer_config.json');
  if (existsSync(configFile) && 'char_ords' in readJsonObject(configFile)) return CharTokenizer.load(dir);
  throw new Error(`${dir}: no tokenizer found (expected tokenizer.json, or tokenizer_config.json with char_ords)`);
}
