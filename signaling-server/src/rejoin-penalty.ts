/**
 * After an eviction, joins into the room from the evicted member's address wait: 3 s after the
 * first eviction, doubling with each further one from that address within ten minutes, up to
 * 2 min. An evicted member comes back under a new peer id, so the id cannot carry the penalty; the
 * address can. All tabs of one machine share an address, but only new joins from it wait, never
 * its members. No sockets; the clock is injected.
 */

const FIRST_WAIT_MS = 3_000;
const MAX_WAIT_MS = 120_000;
/** Evictions further apart than this start the doubling again. */
const MEMORY_MS = 10 * 60_000;

interface Penalty {
  count: number;
  /** When the last eviction from this address happened. */
  at: number;
  waitMs: number;
}

export class RejoinPenalties {
  private readonly byAddress = new Map<string, Penalty>();

  constructor(private readonly now: () => number) {}

  /** A member from `address` was evicted: how long that address must wait before joining again. */
  evicted(address: string): number {
    const now = this.now();
    for (const [a, p] of this.byAddress) if (now - p.at > MEMORY_MS) this.byAddress.delete(a);
    const count = (this.byAddress.get(address)?.count ?? 0) + 1;
    const waitMs = Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** (count - 1));
    this.byAddress.set(address, { count, at: now, waitMs });
    return waitMs;
  }

  /** Milliseconds `address` must still wait before it may join, 0 if none. */
  remaining(address: string): number {
    const p = this.byAddress.get(address);
    return p === undefined ? 0 : Math.max(0, p.at + p.waitMs - this.now());
  }
}
