/**
 * Which training examples a worker holds: a seeded permutation of the data set cut into `size`
 * disjoint, nearly equal contiguous pieces; piece `rank` is this worker's. Every worker computes
 * the same permutation, so the shards are disjoint and cover the data set.
 */
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';
import type { RunConfig } from './config.ts';

export function iidShard(total: number, rank: number, size: number, seed: number): Int32Array {
  if (!(rank >= 0 && rank < size)) throw new RangeError(`rank ${rank} not in [0, ${size})`);
  const order = Rng.derive(seed, 'shard-permutation').shuffle(Int32Array.from({ length: total }, (_, i) => i)) as Int32Array;
  return order.slice(Math.floor((rank * total) / size), Math.floor(((rank + 1) * total) / size));
}

/**
 * The indices of worker `rank` of `size` under the room's sharding. Every worker computes all
 * shards the same way, so they are disjoint and (for iid) cover the data set.
 */
export function assignShard(
  config: Pick<RunConfig, 'shard' | 'classes' | 'alpha' | 'seed'>,
  labels: Uint8Array,
  classCount: number,
  rank: number,
  size: number,
): Int32Array {
  switch (config.shard) {
    case 'iid':
      return iidShard(labels.length, rank, size, config.seed);
    default:
      throw new ConfigError(`shard=${config.shard} is not implemented yet (classes ${classCount})`);
  }
}
