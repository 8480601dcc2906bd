/**
 * Which training examples a worker holds. Every worker computes every shard the same way from the
 * run seed, so shards are disjoint and reproducible without any message. Three ways (`shard=`):
 *
 * - `iid`: a seeded permutation of the data set cut into `size` nearly equal pieces; covers it.
 * - `label-skew`: worker r holds the `classes` classes (r * classes + j) mod C, j < classes (all C
 *   classes if `classes` >= C). Each class's examples, seeded-shuffled, are split evenly among the
 *   workers that hold it. Covers the data set when size * classes >= C; classes nobody holds are
 *   left out otherwise.
 * - `dirichlet`: for each class, proportions over the workers drawn from Dirichlet(alpha); the
 *   class's examples are split by them. Small alpha: each class sits on few workers; large alpha:
 *   close to iid. Covers the data set; a worker left empty gets one example from the largest shard.
 */
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';
import type { RunConfig } from './config.ts';

export function iidShard(total: number, rank: number, size: number, seed: number): Int32Array {
  checkRank(rank, size);
  const order = Rng.derive(seed, 'shard-permutation').shuffle(Int32Array.from({ length: total }, (_, i) => i)) as Int32Array;
  return order.slice(Math.floor((rank * total) / size), Math.floor(((rank + 1) * total) / size));
}

/**
 * The indices of worker `rank` of `size` under the room's sharding, sorted ascending for the
 * non-iid ways.
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
    case 'label-skew':
      checkRank(rank, size);
      return labelSkewShards(labels, classCount, size, config.classes, config.seed)[rank]!;
    case 'dirichlet':
      checkRank(rank, size);
      return dirichletShards(labels, classCount, size, config.alpha, config.seed)[rank]!;
    default:
      throw new ConfigError(`shard=${String(config.shard)} is not a sharding`);
  }
}

/** Every worker's shard under `shard=label-skew`. */
export function labelSkewShards(labels: Uint8Array, classCount: number, size: number, classes: number, seed: number): Int32Array[] {
  const perWorker = Math.min(classes, classCount);
  const holders: number[][] = Array.from({ length: classCount }, () => []);
  for (let r = 0; r < size; r++) {
    for (let j = 0; j < perWorker; j++) holders[(r * perWorker + j) % classCount]!.push(r);
  }
  const shards: number[][] = Array.from({ length: size }, () => []);
  byClass(labels, classCount, seed).forEach((examples, c) => {
    const owners = holders[c]!;
    owners.forEach((r, i) => {
      const from = Math.floor((i * examples.length) / owners.length);
      const to = Math.floor(((i + 1) * examples.length) / owners.length);
      for (let k = from; k < to; k++) shards[r]!.push(examples[k]!);
    });
  });
  return shards.map(sorted);
}

/** Every worker's shard under `shard=dirichlet`. */
export function dirichletShards(labels: Uint8Array, classCount: number, size: number, alpha: number, seed: number): Int32Array[] {
  if (labels.length < size) throw new ConfigError(`shard=dirichlet needs at least one example per worker: ${labels.length} examples, ${size} workers`);
  const shards: number[][] = Array.from({ length: size }, () => []);
  byClass(labels, classCount, seed).forEach((examples, c) => {
    const proportions = dirichlet(Rng.derive(seed, 'shard-dirichlet', c), alpha, size);
    let cumulative = 0;
    let from = 0;
    for (let r = 0; r < size; r++) {
      cumulative += proportions[r]!;
      const to = r === size - 1 ? examples.length : Math.min(examples.length, Math.round(cumulative * examples.length));
      for (let k = from; k < to; k++) shards[r]!.push(examples[k]!);
      from = Math.max(from, to);
    }
  });
  // Every worker needs something to draw batches from: the largest shard (lowest rank on ties) gives one.
  for (const shard of shards) {
    if (shard.length > 0) continue;
    const donor = shards.reduce((best, s) => (s.length > best.length ? s : best));
    shard.push(donor.pop()!);
  }
  return shards.map(sorted);
}

/** Indices of each class's examples, in a seeded order of their own. */
function byClass(labels: Uint8Array, classCount: number, seed: number): Int32Array[] {
  const counts = new Int32Array(classCount);
  for (const y of labels) {
    if (y >= classCount) throw new RangeError(`label ${y} is not below the class count ${classCount}`);
    counts[y]!++;
  }
  const lists = Array.from(counts, (n) => new Int32Array(n));
  const filled = new Int32Array(classCount);
  labels.forEach((y, i) => {
    lists[y]![filled[y]!++] = i;
  });
  return lists.map((list, c) => Rng.derive(seed, 'shard-class', c).shuffle(list) as Int32Array);
}

/**
 * A draw from Dirichlet(alpha, ..., alpha) over `n` parts: normalized Gamma(alpha, 1) samples.
 * Computed from log-Gammas, because for small alpha the samples themselves underflow to 0.
 * Only IEEE arithmetic, sqrt and V8's fdlibm log/exp: a tab and a Node worker draw the same bits.
 */
export function dirichlet(rng: Rng, alpha: number, n: number): Float64Array {
  const logs = Float64Array.from({ length: n }, () => logGamma(rng, alpha));
  const max = Math.max(...logs);
  const p = logs.map((l) => Math.exp(l - max));
  const sum = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / sum);
}

/**
 * log of a Gamma(alpha, 1) sample by Marsaglia and Tsang (2000); for alpha < 1 it boosts:
 * Gamma(alpha) = Gamma(alpha + 1) * U^(1/alpha).
 */
function logGamma(rng: Rng, alpha: number): number {
  if (alpha < 1) return logGamma(rng, alpha + 1) + Math.log(1 - rng.next()) / alpha;
  const d = alpha - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.gaussian();
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t; // not ** : Math.pow may round differently between V8 versions, products do not
    const u = 1 - rng.next(); // in (0, 1]
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return Math.log(d * v);
  }
}

function sorted(indices: number[]): Int32Array {
  return Int32Array.from(indices).sort();
}

function checkRank(rank: number, size: number): void {
  if (!(rank >= 0 && rank < size)) throw new RangeError(`rank ${rank} not in [0, ${size})`);
}
