/**
 * N peers on an in-memory network, each with a Messenger, for tests, benchmarks and simulations:
 * `group.run(step, (collective, rank) => ...)` runs one step's collectives on every peer at once.
 */
import { deadline } from '../deadline.ts';
import { InMemoryNetwork, type InMemoryNetworkInit } from '../transport/in-memory-transport.ts';
import { Messenger } from '../wire/messenger.ts';
import type { Collective } from '../collective/collective.ts';
import { RingCollective, type AllReduceAlgorithm } from '../collective/ring-collective.ts';

/** Deadline of one `run` when none is given. */
const DEFAULT_RUN_TIMEOUT_MS = 30_000;

export interface LocalGroupInit extends InMemoryNetworkInit {
  /** Passed on to every RingCollective. @default its own default */
  directBelowBytes?: number;
  /** Passed on to every RingCollective (values per ring frame). @default its own default */
  chunkValues?: number;
  /** Passed on to every RingCollective. @default its own default (the ring) */
  allReduce?: AllReduceAlgorithm;
  /** Passed on to every RingCollective (bound on one contribution). @default none */
  maxAbs?: number;
  /** Passed on to every RingCollective (two-shot owners' shares). @default equal */
  shares?: readonly number[];
  /** Codec id each peer's collectives write and expect (a function of the rank to mix codecs). @default 0 */
  codec?: number | ((rank: number) => number);
}

export interface RunOptions {
  /** @default 30 s */
  timeoutMs?: number;
  /** Aborts every peer's collectives (with its reason). */
  signal?: AbortSignal;
}

export interface LocalGroup {
  readonly network: InMemoryNetwork;
  readonly ids: string[];
  readonly messengers: Messenger[];
  /** Runs `fn` on every peer with a collective for `step`; rejects if any peer fails. */
  run<T>(step: number, fn: (collective: Collective, rank: number) => Promise<T>, options?: RunOptions): Promise<T[]>;
  close(): void;
}

export function createLocalGroup(n: number, init: LocalGroupInit = {}): LocalGroup {
  const network = new InMemoryNetwork(init);
  const ids = Array.from({ length: n }, (_, i) => `peer-${String(i).padStart(3, '0')}`);
  const messengers = ids.map((id) => new Messenger(network.join(id)));
  const codecOf = (rank: number): number => (typeof init.codec === 'function' ? init.codec(rank) : (init.codec ?? 0));
  return {
    network,
    ids,
    messengers,
    async run(step, fn, options = {}) {
      return Promise.all(
        messengers.map(async (messenger, rank) => {
          const limit = deadline(options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS, `step ${step} on ${ids[rank]}`, options.signal);
          try {
            const collective = new RingCollective({
              messenger, members: ids, epoch: 1, step, signal: limit.signal, codec: codecOf(rank),
              ...(init.directBelowBytes !== undefined ? { directBelowBytes: init.directBelowBytes } : {}),
              ...(init.chunkValues !== undefined ? { chunkValues: init.chunkValues } : {}),
              ...(init.allReduce !== undefined ? { allReduce: init.allReduce } : {}),
              ...(init.maxAbs !== undefined ? { maxAbs: init.maxAbs } : {}),
              ...(init.shares !== undefined ? { shares: init.shares } : {}),
            });
            return await fn(collective, rank);
          } finally {
            limit.clear();
          }
        }),
      );
    },
    close() {
      for (const m of messengers) {
        m.dispose();
        m.transport.close();
      }
    },
  };
}
