/** JSON Lines: one JSON object per line. Reading reports bad lines by number instead of failing. */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';

export type JsonlLine = { line: number; value: Record<string, unknown> } | { line: number; error: string };

export function parseJsonl(text: string): JsonlLine[] {
  const out: JsonlLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    try {
      const value: unknown = JSON.parse(raw);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        out.push({ line: i + 1, error: `expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}` });
      } else {
        out.push({ line: i + 1, value: value as Record<string, unknown> });
      }
    } catch (e) {
      out.push({ line: i + 1, error: `invalid JSON (${(e as Error).message})` });
    }
  }
  return out;
}

export function readJsonl(path: string): JsonlLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseJsonl(text);
}

const jsonReplacer = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v);

export function toJsonl(rows: readonly unknown[]): string {
  return rows.map((r) => `${JSON.stringify(r, jsonReplacer)}\n`).join('');
}

export function writeJsonl(path: string, rows: readonly unknown[]): void {
  writeFileAtomic(path, toJsonl(rows));
}
