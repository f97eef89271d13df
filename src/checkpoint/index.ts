/**
 * Run folders and their checkpoints, shared by the jobs (`train`, `sft`): one store (save, list,
 * prune, stale temporaries), the folder's lock, the fresh / resume / refuse decision, and the
 * optimizer state format.
 */
export { CheckpointStore, LATEST_FILE, type CheckpointRef } from './store.js';
export { acquireRunLock, processAlive, LOCK_FILE, type RunLock, type LockOwner } from './lock.js';
export { RunFolder, CONFIG_FILE, type RunFolderOptions, type RunPlan } from './run-folder.js';
export { changedKeys, keyMatches, formatChange, resumeApplies, type KeyChange } from './config-changes.js';
export { saveOptimizer, loadOptimizer, OPTIMIZER_FILE, type OptimizerMeta } from './optimizer.js';
