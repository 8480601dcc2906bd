/**
 * The sample-weighted (or step-weighted) mean of the round modes, through any aggregator:
 *
 *   update = sum_i S_i / sum_i n_i
 *
 * where member i contributes the sum S_i of its n_i gradients (`sync=accumulate`: n_i samples) or
 * n_i times its pseudo-gradient (`sync=local`: n_i inner steps). The aggregator is handed S_i and
 * returns the mean over members of what it decompresses, (1/N) sum_i D(C(S_i)); scaled by
 * N / sum_i n_i that is the weighted mean, exactly for a lossless codec, and D(C(weighted mean)) for
 * a linear one (sum C(x_i) = C(sum x_i)). Error feedback, shifts and warm starts see the S_i as
 * gradients, so their memories are in the same units whatever the counts.
 *
 * The counts travel with the (compressed) sums, in the first collective the aggregator calls:
 * appended to an all-reduce as slots per rank (so every member learns every member's count, not
 * only the total), or prefixed to each blob of an all-gather. No extra round trip. Beside each
 * count travels a flag: that member sits the next round out (sit-out.ts).
 */
import type { Collective } from '../../collective/collective.ts';
import { WireFormatError } from '../../errors.ts';
import type { GradientAggregator } from '../../compress/types.ts';

/** A count travels as digits in base 1024: exact on an f16 wire too (integers up to 2048 are). */
const DIGIT_BASE = 1024;
const DIGITS = 3;
/** Counts per member per round are below this (2^30). */
export const MAX_COUNT = DIGIT_BASE ** DIGITS;
/** A rank's slots in an all-reduce: its count's digits, then its flag (0 or 1). */
const SLOTS = DIGITS + 1;
/** The flag's bit in an all-gather's u32 prefix, above every count. */
const FLAG_BIT = 2 ** 31;

/** Wraps the collective one aggregate call uses, attaching this member's count to its first operation. */
export class CountingCollective implements Collective {
  /** Every member's count by rank, once the first operation has returned. */
  counts: number[] | null = null;
  /** Every member's flag by rank (it sits out the next round), with the counts. */
  flags: boolean[] | null = null;
  private attached = false;

  constructor(private readonly inner: Collective, private readonly count: number, private readonly flag = false) {
    if (!Number.isInteger(count) || count < 0 || count >= MAX_COUNT) throw new RangeError(`count must be an integer in [0, ${MAX_COUNT}), got ${count}`);
  }

  get size(): number {
    return this.inner.size;
  }

  get rank(): number {
    return this.inner.rank;
  }

  get step(): number {
    return this.inner.step;
  }

  async allReduceSum(values: Float32Array, tag: number, options?: { wire?: 'f32' | 'f16' }): Promise<Float32Array> {
    if (this.attached) return this.inner.allReduceSum(values, tag, options);
    this.attached = true;
    const withCounts = new Float32Array(values.length + SLOTS * this.size);
    withCounts.set(values);
    const mine = values.length + SLOTS * this.rank;
    let rest = this.count;
    for (let d = 0; d < DIGITS; d++, rest = Math.floor(rest / DIGIT_BASE)) withCounts[mine + d] = rest % DIGIT_BASE;
    withCounts[mine + DIGITS] = this.flag ? 1 : 0;
    const summed = await this.inner.allReduceSum(withCounts, tag, options);
    this.counts = Array.from({ length: this.size }, (_, r) => {
      let n = 0;
      for (let d = DIGITS - 1; d >= 0; d--) n = n * DIGIT_BASE + summed[values.length + SLOTS * r + d]!;
      return n;
    });
    this.flags = Array.from({ length: this.size }, (_, r) => summed[values.length + SLOTS * r + DIGITS] === 1);
    // A view, not a copy: `summed` is the collective's own buffer, which nobody else holds.
    return summed.subarray(0, values.length);
  }

  async allGather(blob: Uint8Array, tag: number): Promise<Uint8Array[]> {
    if (this.attached) return this.inner.allGather(blob, tag);
    this.attached = true;
    const withCount = new Uint8Array(4 + blob.length);
    new DataView(withCount.buffer).setUint32(0, this.count + (this.flag ? FLAG_BIT : 0), true);
    withCount.set(blob, 4);
    const blobs = await this.inner.allGather(withCount, tag);
    if (blobs.some((b) => b.length < 4)) throw new WireFormatError('a gathered contribution lacks its count');
    const prefixes = blobs.map((b) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true));
    if (prefixes.some((p) => p % FLAG_BIT >= MAX_COUNT)) throw new WireFormatError(`a gathered count is not below ${MAX_COUNT}`);
    this.counts = prefixes.map((p) => p % FLAG_BIT);
    this.flags = prefixes.map((p) => p >= FLAG_BIT);
    return blobs.map((b) => b.subarray(4));
  }
}

export interface WeightedMean {
  /** sum_i S_i / sum_i n_i, identical bits on every member. */
  update: Float32Array[];
  /** Every member's count by rank. */
  counts: number[];
  /** Every member's flag by rank: it sits out the next round. */
  sitsOutNext: boolean[];
}

/**
 * One aggregate call whose result is the count-weighted mean of the members' sums (see above).
 * Rejects as `aggregate` does (NonFiniteError for a refused step); the aggregator's own buffers
 * are never written (the scaled update is a copy).
 */
export async function weightedMean(aggregator: GradientAggregator, sums: Float32Array[], count: number, collective: Collective, sitsOutNext = false): Promise<WeightedMean> {
  const counting = new CountingCollective(collective, count, sitsOutNext);
  const mean = await aggregator.aggregate(sums, counting);
  // Alone, an aggregator may not call the collective at all.
  const counts = counting.counts ?? (collective.size === 1 ? [count] : null);
  if (counts === null) throw new WireFormatError(`${aggregator.name} exchanged nothing, so the members' counts are unknown`);
  const total = counts.reduce((a, b) => a + b, 0);
  const scale = total > 0 ? collective.size / total : 0;
  return { update: mean.map((layer) => scaled(layer, scale)), counts, sitsOutNext: counting.flags ?? [sitsOutNext] };
}

/**
 * A round whose counts are all zero (every member still loading its shard) has no mean to apply:
 * every replica skips its optimizer step, or Adam's or Nesterov's momentum would move the weights
 * on no data. The counts have the same bits on every member, so they all decide alike.
 */
export function nothingContributed(counts: readonly number[]): boolean {
  return counts.every((n) => n === 0);
}

/** `layer` times `scale` in a new array: a plain loop, as `map` with a callback is several times slower on 10^5 values. */
export function scaled(layer: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(layer.length);
  for (let i = 0; i < layer.length; i++) out[i] = layer[i]! * scale;
  return out;
}
