/**
 * One synchronous step of N simulated peers: each hands its gradients to its own aggregator,
 * the aggregators talk over the in-memory collective of @tabswarm/shared/testing, and every peer
 * gets the same averaged update (the replicas stay identical, so one copy of the weights stands
 * for all of them).
 */
import type { CollectiveBytes, GradientAggregator } from '@tabswarm/shared';
import { simulatePeers } from '@tabswarm/shared/testing/simulated-collective';

/** What the experiments need of an aggregator: the project's, or a baseline written here. */
export type Aggregate = Pick<GradientAggregator, 'aggregate' | 'dispose'> & { messageBytes(step: number): CollectiveBytes };

export async function averagedUpdate(aggregators: Aggregate[], grads: Float32Array[][], step: number): Promise<Float32Array[]> {
  const updates = await simulatePeers(aggregators.length, (c, rank) => aggregators[rank]!.aggregate(grads[rank]!, c), { step });
  return updates[0]!;
}

/** Values one peer hands to the collectives in `step` (all-reduce values + all-gather bytes / 4). */
export function payloadValues(aggregator: Aggregate, step: number): number {
  const bytes = aggregator.messageBytes(step);
  return (bytes.allReduce + bytes.allGather) / 4;
}
