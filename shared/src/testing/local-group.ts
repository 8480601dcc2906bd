/**
 * N peers on an in-memory network, each with a Messenger, for tests, benchmarks and simulations:
 * `group.run(step, (collective, rank) => ...)` runs one step's collectives on every peer at once.
 */
import { deadline } from '../deadline.ts';
import { InMemoryNetwork, type InMemoryNetworkInit } from '../transport/in-memory-transport.ts';
import { Messenger } from '../wire/messenger.ts';
import type { Collective } from '../collective/collective.ts';
import { RingCollective } from '../collective/ring-collective.ts';

export interface LocalGroup {
  readonly network: InMemoryNetwork;
  readonly ids: string[];
  readonly messengers: Messenger[];
  /** Runs `fn` on every peer with a collective for `step`; rejects if any peer fails. */
  run<T>(step: number, fn: (collective: Collective, rank: number) => Promise<T>, timeoutMs?: number): Promise<T[]>;
  close(): void;
}

export function createLocalGroup(n: number, init: InMemoryNetworkInit & { directBelowBytes?: number } = {}): LocalGroup {
  const network = new InMemoryNetwork(init);
  const ids = Array.from({ length: n }, (_, i) => `peer-${String(i).padStart(3, '0')}`);
  const messengers = ids.map((id) => new Messenger(network.join(id)));
  return {
    network,
    ids,
    messengers,
    async run(step, fn, timeoutMs = 30_000) {
      return Promise.all(
        messengers.map(async (messenger, rank) => {
          const limit = deadline(timeoutMs, `step ${step} on ${ids[rank]}`);
          try {
            const collective = new RingCollective({
              messenger, members: ids, epoch: 1, step, signal: limit.signal,
              ...(init.directBelowBytes !== undefined ? { directBelowBytes: init.directBelowBytes } : {}),
            });
            return await fn(collective, rank);
          } finally {
            limit.clear();
          }
        }),
      );
    },
    close() {
      for (const m of messengers) m.dispose();
    },
  };
}
