/** Reading and writing veRL parquet files (hyparquet / hyparquet-writer). */
import { readFileSync } from 'node:fs';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { writeFileAtomic } from '../util/atomic-file.js';
import { fromSchemaElements, inferType, toParquetValue, toSchemaElements, type Field } from './parquet-schema.js';

export type Row = Record<string, unknown>;

export interface Table {
  columns: Field[];
  rows: Row[];
}

/** int64 values come back as bigint; those within 2^53 become plain numbers. */
function fromParquetValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v;
  if (Array.isArray(v)) return v.map(fromParquetValue);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromParquetValue(x)]));
  }
  return v;
}

export async function readParquet(path: string): Promise<Table> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let columns: Field[];
  let raw: Row[];
  try {
    const metadata = parquetMetadata(buffer);
    parquetSchema(metadata);
    columns = fromSchemaElements(metadata.schema, path);
    raw = (await parquetReadObjects({ file: buffer, metadata })) as Row[];
  } catch (e) {
    throw new Error(`${path}: not a readable parquet file (${(e as Error).message})`);
  }
  return { columns, rows: raw.map((r) => fromParquetValue(r) as Row) };
}

/** The columns pyarrow would infer for these rows, in first-seen key order. */
export function inferColumns(rows: readonly Row[]): Field[] {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return names.map((name) => ({ name, type: inferType(rows.map((r) => r[name]), name) }));
}

export function parquetBytes(rows: readonly Row[], columns: Field[] = inferColumns(rows)): Uint8Array {
  const columnData = columns.map((c) => ({
    name: c.name,
    data: rows.map((r, i) => toParquetValue(r[c.name], c.type, `row ${i}: ${c.name}`)),
  }));
  const buffer = parquetWriteBuffer({
    columnData,
    schema: toSchemaElements(columns),
    rowGroupSize: 100_000,
    createdBy: 'tinyzero (hyparquet-writer)',
  });
  return new Uint8Array(buffer);
}

export function writeParquet(path: string, rows: readonly Row[], columns?: Field[]): void {
  writeFileAtomic(path, parquetBytes(rows, columns));
}
