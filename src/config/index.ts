/**
 * The run config: TinyZero's ppo_trainer.yaml as one typed object, veRL/Hydra override syntax,
 * validation before any work, and YAML printing/saving. Imports nothing from the engine.
 */
export type * from './types.js';
export { resolveConfig, defaultConfig, type ResolveOptions } from './resolve.js';
export { parseOverride, parseOverrideValue, type Override, type OverrideOp } from './overrides.js';
export { ConfigError, formatProblem, type ConfigProblem } from './errors.js';
export { toYaml, saveConfig, parseYaml, readYamlFile } from './yaml-io.js';
export { configDiff, formatConfigDiff, formatOverrideValue, type ConfigChange } from './diff.js';
export { configWarnings, ignoredKeyWarnings } from './warnings.js';
export { crossFieldErrors, crossFieldWarnings } from './checks.js';
export { IGNORED_KEYS, ignoredKey, type IgnoredKey } from './ignored.js';
export { usesCritic, usesReferencePolicy, klInReward, genBatchSize, responsesPerStep, clipBounds } from './derived.js';
export { schemaPaths } from './tree.js';
export { closestKey, editDistance } from './suggest.js';
export { ADV_ESTIMATORS, KL_PENALTY_TYPES, LOSS_AGG_MODES, LOGGER_BACKENDS, FILTER_GROUPS_METRICS } from './schema.js';
