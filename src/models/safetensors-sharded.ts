/**
 * Sharded checkpoints: `model.safetensors.index.json` maps each tensor name to the shard file that
 * holds it (`weight_map`), as transformers' `save_pretrained(max_shard_size=...)` writes them.
 * `openWeights` hides the difference between one file and a sharded folder.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { dtypeSize, type FloatDtype } from './dtype.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { SafetensorsFile, type RawTensor, type WeightSource } from './safetensors.js';
import { numel, type TensorInfo } from './safetensors-header.js';
import { storedDtype, tensorEntries, writeSafetensors, type TensorMap, type WritableTensor } from './safetensors-write.js';

export const singleFileName = 'model.safetensors';
export const indexFileName = 'model.safetensors.index.json';

/** A sharded checkpoint; every shard stays open until `close()`. */
export class ShardedSafetensors implements WeightSource {
  readonly indexFile: string;
  readonly names: readonly string[];
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly #shardOf: ReadonlyMap<string, SafetensorsFile>;
  readonly #shards: readonly SafetensorsFile[];

  private constructor(indexFile: string, shardOf: Map<string, SafetensorsFile>, shards: SafetensorsFile[], metadata: Record<string, string> | null) {
    this.indexFile = indexFile;
    this.#shardOf = shardOf;
    this.#shards = shards;
    this.names = [...shardOf.keys()].sort();
    this.metadata = metadata;
  }

  static open(indexFile: string): ShardedSafetensors {
    const weightMap = readWeightMap(indexFile);
    const dir = dirname(indexFile);
    const byFile = new Map<string, SafetensorsFile>();
    const shardOf = new Map<string, SafetensorsFile>();
    try {
      for (const [name, shardName] of weightMap) {
        let shard = byFile.get(shardName);
        if (shard === undefined) {
          const path = join(dir, shardName);
          if (!existsSync(path)) throw new Error(`${indexFile}: weight_map['${name}'] names shard '${shardName}', which does not exist`);
          shard = SafetensorsFile.open(path);
          byFile.set(shardName, shard);
        }
        if (!shard.has(name)) throw new Error(`${indexFile}: weight_map puts '${name}' in '${shardName}', but that shard has no such tensor`);
        shardOf.set(name, shard);
      }
    } catch (e) {
      for (const f of byFile.values()) f.close();
      throw e;
    }
    // The shards' own metadata is the same in every shard when transformers writes them; take the first.
    const first = byFile.values().next().value;
    return new ShardedSafetensors(indexFile, shardOf, [...byFile.values()], first?.metadata ? { ...first.metadata } : null);
  }

  has(name: string): boolean {
    return this.#shardOf.has(name);
  }

  info(name: string): TensorInfo {
    return this.#shard(name).info(name);
  }

  readRaw(name: string): RawTensor {
    return this.#shard(name).readRaw(name);
  }

  readFloat32(name: string): Float32Array {
    return this.#shard(name).readFloat32(name);
  }

  /** The shard file holding `name`. */
  fileOf(name: string): string {
    return this.#shard(name).file;
  }

  close(): void {
    for (const s of this.#shards) s.close();
  }

  #shard(name: string): SafetensorsFile {
    const s = this.#shardOf.get(name);
    if (s === undefined) throw new Error(`${this.indexFile}: no tensor named '${name}' in weight_map`);
    return s;
  }
}

function readWeightMap(indexFile: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw new Error(`${indexFile}: cannot read the shard index: ${(e as Error).message}`);
  }
  const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new Error(`${indexFile}: missing 'weight_map' object`);
  }
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(weightMap as Record<string, unknown>)) {
    // A shard must be a plain file name next to the index: no paths that climb out of the folder.
    if (typeof file !== 'string' || file === '' || basename(file) !== file || file === '..') {
      throw new Error(`${indexFile}: weight_map['${name}'] must be a shard file name in the same folder, got ${JSON.stringify(file)}`);
    }
    out.set(name, file);
  }
  return out;
}

/**
 * Opens a checkpoint: a `.safetensors` file, a shard index file, or a folder holding
 * `model.safetensors` or `model.safetensors.index.json` (the single file wins if both exist, as in transformers).
 */
export function openWeights(path: string): WeightSource {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
    const single = join(path, singleFileName);
    if (existsSync(single)) return SafetensorsFile.open(single);
    const index = join(path, indexFileName);
    if (existsSync(index)) return ShardedSafetensors.open(index);
    throw new Error(`${path}: no ${singleFileName} or ${indexFileName} in this folder`);
  }
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  return path.endsWith('.json') ? ShardedSafetensors.open(path) : SafetensorsFile.open(path);
}

export interface SaveWeightsOptions {
  readonly dtype?: FloatDtype;
  readonly metadata?: Readonly<Record<string, string>> | null;
  /** Largest shard in bytes of tensor data; default 5 GB (transformers' default "5GB"). */
  readonly maxShardBytes?: number;
}

/**
 * Saves tensors into `dir` as transformers does: one `model.safetensors` when everything fits in one
 * shard, otherwise `model-0000i-of-0000n.safetensors` plus the index (written last, so a reader never
 * sees an index that points at missing shards). Tensors go to shards in name order. Returns the files written.
 */
export function saveWeights(dir: string, tensors: TensorMap, options: SaveWeightsOptions = {}): string[] {
  const maxShardBytes = options.maxShardBytes ?? 5_000_000_000;
  const entries = tensorEntries(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const shards: [string, WritableTensor][][] = [];
  let current: [string, WritableTensor][] = [];
  let currentBytes = 0;
  let totalBytes = 0;
  for (const entry of entries) {
    const bytes = numel(entry[1].shape) * dtypeSize(storedDtype(entry[1], options.dtype));
    if (current.length > 0 && currentBytes + bytes > maxShardBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(entry);
    currentBytes += bytes;
    totalBytes += bytes;
  }
  shards.push(current);
  const writeOptions = { dtype: options.dtype, metadata: options.metadata };
  if (shards.length === 1) {
    const file = join(dir, singleFileName);
    writeSafetensors(file, new Map(shards[0]), writeOptions);
    removeStale(dir, [file]);
    return [file];
  }
  const pad = (i: number) => String(i).padStart(5, '0');
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const name = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    writeSafetensors(join(dir, name), new Map(shard), writeOptions);
    for (const [tensorName] of shard) weightMap[tensorName] = name;
    files.push(join(dir, name));
  });
  const index = join(dir, indexFileName);
  writeFileAtomic(index, JSON.stringify({ metadata: { total_size: totalBytes }, weight_map: weightMap }, null, 2) + '\n');
  files.push(index);
  removeStale(dir, files);
  return files;
}

/**
 * Removes weight files of an earlier save that this save did not rewrite (as transformers does), so
 * `openWeights` cannot pick up a stale `model.safetensors` next to a new index, or the reverse.
 */
function removeStale(dir: string, written: readonly string[]): void {
  const keep = new Set(written.map((f) => basename(f)));
  for (const name of readdirSync(dir)) {
    const ours = name === singleFileName || name === indexFileName || /^model-\d{5}-of-\d{5}\.safetensors$/.test(name);
    if (ours && !keep.has(name)) rmSync(join(dir, name), { force: true });
  }
}
