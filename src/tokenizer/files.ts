/** JSON file helpers for tokenizer folders; errors name the file. */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';

export function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: must be a JSON object`);
  return json as Record<string, unknown>;
}

/** Temp file then rename, so a crash never leaves a half-written config behind. */
export function writeJsonAtomic(file: string, value: unknown, indent = 2): void {
  writeFileAtomic(file, JSON.stringify(value, null, indent) + '\n');
}
