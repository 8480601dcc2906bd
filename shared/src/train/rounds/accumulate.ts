/**
 * `sync=accumulate`: a round is a compute budget (`roundMs`), not a batch. Each member computes
 * as many micro-batches of `batchSize` as fit (at least one), sums their gradients (weighted by
 * their samples: each batch gradient is a mean) and counts its samples; the exchange then takes
 * the sample-weighted mean over all members (weighted-mean.ts) and the room's optimizer makes one
 * step. A fast member contributes more, a slow one what it computed, and nobody waits for the
 * slowest beyond one micro-batch.
 */
import { abortReason } from '../../deadline.ts';
import { yieldToEventLoop } from '../../yield.ts';
import { hasNonFinite } from '../hash.ts';
import { fitsAnother, microBatch, type RoundInput, type RoundWork } from './round-work.ts';

export async function accumulateRound(input: RoundInput): Promise<RoundWork> {
  const { model, train, shard, config, round, rank, weights, signal, clock, startedAt } = input;
  const began = clock();
  const sums = weights.map((w) => new Float32Array(w.length));
  let units = 0;
  let lossSum = 0;
  let zeroed = 0;
  while (fitsAnother(clock() - startedAt, clock() - began, units, config.roundMs)) {
    if (signal.aborted) throw abortReason(signal, `round ${round}`);
    const { grads, loss } = model.gradient(microBatch(train, shard, config, round, rank, units));
    units++;
    if (hasNonFinite(grads) || !Number.isFinite(loss)) {
      zeroed++; // a bad batch must not poison the others: its samples count, its gradient is zero
    } else {
      lossSum += loss;
      for (let l = 0; l < sums.length; l++) {
        const s = sums[l]!;
        const g = grads[l]!;
        for (let i = 0; i < s.length; i++) s[i] = s[i]! + config.batchSize * g[i]!;
      }
    }
    // Lets frames and membership changes in between batches; the round's signal may fire meanwhile.
    await yieldToEventLoop();
  }
  if (signal.aborted) throw abortReason(signal, `round ${round}`);
  const finite = units - zeroed;
  return { sums, count: units * config.batchSize, units, loss: finite > 0 ? lossSum / finite : Number.NaN, computeMs: clock() - began, zeroed };
}
