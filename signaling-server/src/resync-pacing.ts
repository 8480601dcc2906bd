/**
 * How a room's failure reports (`room:resync`) turn into new epochs and evictions, bounded so a
 * member cannot churn the room: one report per member per failed epoch; a per-member budget per
 * minute, charged only for a report that opens a failed epoch (agreeing that a tracked epoch
 * failed churns nothing); reports within the room's resync window after its last resync epoch
 * merged into one epoch started when the window ends; an eviction only when most of the room
 * blamed the same member (failure-votes.ts), and at most one per cooldown among the members
 * present at the last eviction. The cooldown keeps a hostile majority from draining the standing
 * room quickly; a member that arrived since (an evicted one back under a new id) gets no cover
 * from it, or it could stall the room for a cooldown on every return. The registry owns the epoch; this
 * keeps each room's record. No sockets; the clock is injected.
 */
import { ConfigError, RateLimitError } from '@tabswarm/shared/protocol';
import { blamedByRoom, failedEpoch, vote, type FailedEpoch } from './failure-votes.ts';
import { TokenBucket } from './rate-limit.ts';

export interface ResyncPacingOptions {
  /** Failed epochs in a row a member must be blamed in by most of the room. */
  evictAfter: number;
  /** No eviction in a room within this long after its last one. */
  evictionCooldownMs: number;
  /** Reports within this long after the room's last resync epoch wait for one epoch at its end. */
  resyncWindowMs: number;
  /** Each member's resync budget. */
  resyncBudget: { burst: number; perMinute: number };
  now: () => number;
}

/** One room's record of failures. */
export interface RoomResyncs {
  /** The last `evictAfter` failed epochs, oldest first. */
  failures: FailedEpoch[];
  lastResyncAt: number;
  /** The failed epoch whose new epoch waits for the window's end. */
  deferred: number | undefined;
  lastEvictionAt: number;
  /** The members when the last eviction happened: the ones the cooldown protects. */
  presentAtLastEviction: ReadonlySet<string>;
  budgets: Map<string, TokenBucket>;
}

/** What a report asks of the registry. */
export interface ReportDecision {
  /** Start the next epoch now, at the end of the window (`deferMs`), or not at all. */
  start: 'now' | 'later' | 'no';
  deferMs?: number;
  /** A member most of the room blamed in each of the last failed epochs. */
  evict: string | undefined;
}

export function roomResyncs(): RoomResyncs {
  return { failures: [], lastResyncAt: -Infinity, deferred: undefined, lastEvictionAt: -Infinity, presentAtLastEviction: new Set(), budgets: new Map() };
}

export class ResyncPacing {
  constructor(readonly options: ResyncPacingOptions) {
    const { evictAfter, evictionCooldownMs, resyncWindowMs, resyncBudget } = options;
    for (const [name, value, min] of [['evictAfter', evictAfter, 1], ['evictionCooldownMs', evictionCooldownMs, 0], ['resyncWindowMs', resyncWindowMs, 0],
      ['resyncBudget.burst', resyncBudget.burst, 1], ['resyncBudget.perMinute', resyncBudget.perMinute, 1]] as const) {
      if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer of at least ${min}, got ${value}`);
    }
  }

  /**
   * `reporter` says `epoch` failed, blaming `suspect`; `current` is the room's epoch and `members`
   * its membership. Throws RateLimitError past the reporter's budget.
   */
  report(room: RoomResyncs, members: ReadonlySet<string>, current: number, reporter: string, epoch: number, suspect: string | undefined): ReportDecision {
    const none: ReportDecision = { start: 'no', evict: undefined };
    let failure = room.failures.find((f) => f.epoch === epoch);
    if (failure?.reporters.has(reporter)) return none; // one report per member per epoch
    if (!failure && epoch !== current) return none; // stale, and not a failure we track
    let decision = none;
    if (!failure) {
      this.charge(room, reporter);
      failure = failedEpoch(epoch, members);
      room.failures = [...room.failures, failure].slice(-this.options.evictAfter);
      const wait = room.lastResyncAt + this.options.resyncWindowMs - this.options.now();
      if (wait > 0) {
        room.deferred = epoch;
        decision = { start: 'later', deferMs: Math.ceil(wait), evict: undefined };
      } else {
        decision = { start: 'now', evict: undefined };
      }
    }
    vote(failure, reporter, suspect);
    if (suspect === undefined || !members.has(suspect) || !blamedByRoom(room.failures, suspect, members, this.options.evictAfter)) return decision;
    const now = this.options.now();
    if (room.presentAtLastEviction.has(suspect) && now - room.lastEvictionAt < this.options.evictionCooldownMs) return decision;
    room.failures = [];
    room.lastEvictionAt = now;
    room.presentAtLastEviction = new Set(members);
    return { ...decision, evict: suspect };
  }

  /** Takes one of `reporter`'s resync tokens: RateLimitError when it has none left. */
  private charge(room: RoomResyncs, reporter: string): void {
    const { burst, perMinute } = this.options.resyncBudget;
    const budget = room.budgets.get(reporter) ?? new TokenBucket(burst, perMinute / 60, this.options.now);
    room.budgets.set(reporter, budget);
    if (!budget.take()) throw new RateLimitError(`resync budget spent: at most ${perMinute} per minute`);
  }

  /** The registry started a resync epoch now. */
  started(room: RoomResyncs): void {
    room.lastResyncAt = this.options.now();
  }

  /** The window ended: whether the deferred epoch is still due (the room's epoch did not move meanwhile). */
  due(room: RoomResyncs, current: number): boolean {
    const deferred = room.deferred;
    room.deferred = undefined;
    return deferred === current;
  }

  /** `peerId` left the room: its budget goes with it. */
  left(room: RoomResyncs, peerId: string): void {
    room.budgets.delete(peerId);
  }
}
