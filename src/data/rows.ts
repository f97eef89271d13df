/** Rows of a data file by its extension: .parquet (veRL's format) or .jsonl. */
import { readJsonl } from './jsonl.js';
import { readParquet, type Row } from './parquet.js';

export async function readDataRows(file: string): Promise<Row[]> {
  if (file.endsWith('.parquet')) return (await readParquet(file)).rows;
  if (file.endsWith('.jsonl')) {
    return readJsonl(file).map((l) => {
      if ('error' in l) throw new Error(`${file}: line ${l.line}: ${l.error}`);
      return l.value;
    });
  }
  throw new Error(`${file}: expected a .parquet or .jsonl data file`);
}
