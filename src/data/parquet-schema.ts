/**
 * Column types for veRL-style parquet files, and their mapping to parquet schema elements in the
 * layout pyarrow writes (3-level lists named list/element, structs as optional groups, UTF8
 * strings), so pandas/pyarrow read our files as they read TinyZero's.
 */
import type { SchemaElement } from 'hyparquet';
import type { SchemaElement as WriterSchemaElement } from 'hyparquet-writer';

export type FieldType =
  | { kind: 'string' }
  | { kind: 'int64' }
  | { kind: 'int32' }
  | { kind: 'double' }
  | { kind: 'bool' }
  | { kind: 'list'; element: FieldType }
  | { kind: 'struct'; fields: Field[] };

export interface Field {
  name: string;
  type: FieldType;
}

export function toSchemaElements(columns: Field[]): WriterSchemaElement[] {
  const out: WriterSchemaElement[] = [{ name: 'schema', repetition_type: 'REQUIRED', num_children: columns.length }];
  const emit = (name: string, t: FieldType): void => {
    switch (t.kind) {
      case 'string':
        out.push({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'OPTIONAL' });
        return;
      case 'int64': out.push({ name, type: 'INT64', repetition_type: 'OPTIONAL' }); return;
      case 'int32': out.push({ name, type: 'INT32', repetition_type: 'OPTIONAL' }); return;
      case 'double': out.push({ name, type: 'DOUBLE', repetition_type: 'OPTIONAL' }); return;
      case 'bool': out.push({ name, type: 'BOOLEAN', repetition_type: 'OPTIONAL' }); return;
      case 'list':
        out.push({ name, repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST', logical_type: { type: 'LIST' } });
        out.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
        emit('element', t.element);
        return;
      case 'struct':
        out.push({ name, repetition_type: 'OPTIONAL', num_children: t.fields.length });
        for (const f of t.fields) emit(f.name, f.type);
    }
  };
  for (const c of columns) emit(c.name, c.type);
  return out;
}

/** The inverse, for files written by pyarrow (or us); other layouts are an error naming the column. */
export function fromSchemaElements(elements: readonly SchemaElement[], file: string): Field[] {
  let i = 1;
  const read = (): Field => {
    const el = elements[i++];
    if (!el) throw new Error(`${file}: parquet schema ends early`);
    const children = el.num_children ?? 0;
    if (children === 0) {
      const type: FieldType | undefined =
        el.type === 'BYTE_ARRAY' ? { kind: 'string' }
        : el.type === 'INT64' ? { kind: 'int64' }
        : el.type === 'INT32' ? { kind: 'int32' }
        : el.type === 'DOUBLE' || el.type === 'FLOAT' ? { kind: 'double' }
        : el.type === 'BOOLEAN' ? { kind: 'bool' }
        : undefined;
      if (!type) throw new Error(`${file}: column '${el.name}' has parquet type ${String(el.type)}; expected string, int, float or bool`);
      return { name: el.name, type };
    }
    if (el.converted_type === 'LIST' || el.logical_type?.type === 'LIST') {
      const rep = elements[i++];
      if (!rep || rep.repetition_type !== 'REPEATED' || rep.num_children !== 1) {
        throw new Error(`${file}: list column '${el.name}' is not in the 3-level list layout`);
      }
      return { name: el.name, type: { kind: 'list', element: read().type } };
    }
    const fields: Field[] = [];
    for (let k = 0; k < children; k++) fields.push(read());
    return { name: el.name, type: { kind: 'struct', fields } };
  };
  const root = elements[0];
  const columns: Field[] = [];
  for (let k = 0; k < (root?.num_children ?? 0); k++) columns.push(read());
  return columns;
}

/** The type pyarrow would infer for these JS values (nulls skipped; struct fields sorted by name). */
export function inferType(values: readonly unknown[], path: string): FieldType {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) throw new Error(`cannot infer a parquet type for '${path}': every value is null`);
  const first = present[0];
  if (typeof first === 'string') return { kind: 'string' };
  if (typeof first === 'boolean') return { kind: 'bool' };
  if (typeof first === 'bigint' || typeof first === 'number') {
    return present.every((v) => typeof v === 'bigint' || Number.isInteger(v)) ? { kind: 'int64' } : { kind: 'double' };
  }
  if (Array.isArray(first)) return { kind: 'list', element: inferType(present.flatMap((v) => v as unknown[]), `${path}[]`) };
  if (typeof first === 'object') {
    const names = [...new Set(present.flatMap((v) => Object.keys(v as object)))].sort();
    return { kind: 'struct', fields: names.map((name) => ({ name, type: inferType(present.map((v) => (v as Record<string, unknown>)[name]), `${path}.${name}`) })) };
  }
  throw new Error(`cannot store '${path}' (a ${typeof first}) in parquet`);
}

/** Converts one value to what hyparquet-writer wants for this type (bigint for INT64), checking it. */
export function toParquetValue(v: unknown, t: FieldType, path: string): unknown {
  if (v === null || v === undefined) return null;
  const bad = (what: string): never => {
    throw new Error(`'${path}': expected ${what}, got ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)}`);
  };
  switch (t.kind) {
    case 'string': return typeof v === 'string' ? v : bad('a string');
    case 'bool': return typeof v === 'boolean' ? v : bad('a boolean');
    case 'double': return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : bad('a number');
    case 'int32': return typeof v === 'number' && Number.isInteger(v) ? v : bad('an integer');
    case 'int64':
      if (typeof v === 'bigint') return v;
      return typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : bad('an integer');
    case 'list':
      return Array.isArray(v) ? v.map((x, k) => toParquetValue(x, t.element, `${path}[${k}]`)) : bad('a list');
    case 'struct': {
      if (typeof v !== 'object' || Array.isArray(v)) return bad('an object');
      const o = v as Record<string, unknown>;
      const extra = Object.keys(o).filter((k) => !t.fields.some((f) => f.name === k));
      if (extra.length > 0) bad(`only the fields ${t.fields.map((f) => f.name).join(', ')}`);
      return Object.fromEntries(t.fields.map((f) => [f.name, toParquetValue(o[f.name], f.type, `${path}.${f.name}`)]));
    }
  }
}
