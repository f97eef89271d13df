export { readParquet, writeParquet, parquetBytes, inferColumns, type Row, type Table } from './parquet.js';
export { toSchemaElements, fromSchemaElements, inferType, type Field, type FieldType } from './parquet-schema.js';
export { readJsonl, parseJsonl, writeJsonl, toJsonl, type JsonlLine } from './jsonl.js';
export { buildDataset, DATASET_TASKS, DEFAULT_SIZES, type DatasetTask, type DatasetOptions } from './verl-dataset.js';
export { readDataRows } from './rows.js';
