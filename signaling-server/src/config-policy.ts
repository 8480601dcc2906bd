/**
 * The server's cost budget for room configurations. Every key of a configuration is in range on
 * its own (shared/src/train/config.ts), but some combinations ruin every tab that joins: a CNN on
 * 4096 examples per step, 10,000 test examples every step, GreedyLore re-factoring every step at a
 * rank above the model's matrices. The first joiner fixes the room's configuration, so the server
 * refuses those before anyone else runs them.
 */
import { ConfigError, maxUsefulRank, type RunConfig } from '@tabswarm/shared/protocol';

export interface ConfigPolicy {
  /** Most examples per worker per step. @default 512 */
  maxBatchSize: number;
  /** Most test examples evaluated per step on average (evalSize / evalEvery). @default 1000 */
  maxEvalPerStep: number;
  /** Fewest steps between GreedyLore's subspace refreshes (each is a dense all-reduce and an SVD). @default 10 */
  minPeriod: number;
  /** Most members a room may wait for: the room cap (a higher `workers` could never start). */
  maxWorkers: number;
}

export const DEFAULT_POLICY: Readonly<Omit<ConfigPolicy, 'maxWorkers'>> = { maxBatchSize: 512, maxEvalPerStep: 1000, minPeriod: 10 };

/** Compressors whose `rank` is bounded by the model's matrices. */
const RANKED = new Set(['powersgd', 'greedylore', 'sketch-gaussian', 'sketch-haar']);

/** Throws ConfigError naming the first key over `policy`; returns `config` otherwise. */
export function checkConfigPolicy(config: RunConfig, policy: ConfigPolicy): RunConfig {
  if (config.workers > policy.maxWorkers) throw new ConfigError(`workers must be at most ${policy.maxWorkers} (the room cap), got ${config.workers}`);
  if (config.batchSize > policy.maxBatchSize) throw new ConfigError(`batchSize must be at most ${policy.maxBatchSize} on this server, got ${config.batchSize}`);
  const evalPerStep = config.evalSize / config.evalEvery;
  if (evalPerStep > policy.maxEvalPerStep) {
    throw new ConfigError(`evalSize / evalEvery must be at most ${policy.maxEvalPerStep} test examples per step on this server, got ${config.evalSize} / ${config.evalEvery}`);
  }
  const rankCap = maxUsefulRank(config.model);
  if (RANKED.has(config.compressor) && config.rank > rankCap) {
    throw new ConfigError(`rank must be at most ${rankCap} for ${config.model} (its matrices' smaller side), got ${config.rank}`);
  }
  if (config.compressor === 'greedylore' && config.period < policy.minPeriod) {
    throw new ConfigError(`period must be at least ${policy.minPeriod} with greedylore on this server, got ${config.period}`);
  }
  return config;
}

/** A policy's fields, checked: ConfigError for any that is not a positive integer. */
export function policyOf(options: Partial<Omit<ConfigPolicy, 'maxWorkers'>>, maxWorkers: number): ConfigPolicy {
  const policy = { ...DEFAULT_POLICY, ...options, maxWorkers };
  for (const [key, value] of Object.entries(policy)) {
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${key} must be a positive integer, got ${value}`);
  }
  return policy;
}
