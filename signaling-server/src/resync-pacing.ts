/**
 * How a room's failure reports (`room:resync`) turn into new epochs and evictions, bounded so a
 * member cannot churn the room: one report per member per failed epoch; a failure one member
 * alone reports waits for a second to agree (or `soloResyncMs`); a per-member budget per
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
  /** A failure only one member reported starts the next epoch this long after, unless another agrees sooner. */
  soloResyncMs: number;
  /** Each member's resync budget. */
  resyncBudget: { burst: number; perMinute: number };
  now: () => number;
}

/** One room's record of failures. */
export interface RoomResyncs {
  /** The last `evictAfter` + 1 failed epochs, oldest first (one more, for late votes: `report`). */
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
  /** The report would have opened the next epoch, but the reporter's budget is spent (its vote still counts). */
  refused?: RateLimitError;
}

export function roomResyncs(): RoomResyncs {
  return { failures: [], lastResyncAt: -Infinity, deferred: undefined, lastEvictionAt: -Infinity, presentAtLastEviction: new Set(), budgets: new Map() };
}

export class ResyncPacing {
  constructor(readonly options: ResyncPacingOptions) {
    const { evictAfter, evictionCooldownMs, resyncWindowMs, soloResyncMs, resyncBudget } = options;
    for (const [name, value, min] of [['evictAfter', evictAfter, 1], ['evictionCooldownMs', evictionCooldownMs, 0], ['resyncWindowMs', resyncWindowMs, 0], ['soloResyncMs', soloResyncMs, 0],
      ['resyncBudget.burst', resyncBudget.burst, 1], ['resyncBudget.perMinute', resyncBudget.perMinute, 1]] as const) {
      if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer of at least ${min}, got ${value}`);
    }
  }

  /**
   * `reporter` says `epoch` failed, blaming `suspect`; `current` is the room's epoch and `members`
   * its membership. The vote always counts (one per member per epoch); a report that would open
   * the next epoch and finds the reporter's budget spent opens nothing and says so (`refused`).
   */
  report(room: RoomResyncs, members: ReadonlySet<string>, current: number, reporter: string, epoch: number, suspect: string | undefined): ReportDecision {
    const none: ReportDecision = { start: 'no', evict: undefined };
    let failure = room.failures.find((f) => f.epoch === epoch);
    if (failure?.reporters.has(reporter)) return none; // one report per member per epoch
    if (!failure && epoch !== current) return none; // stale, and not a failure we track
    if (!failure) {
      failure = failedEpoch(epoch, members, this.options.now());
      room.failures = [...room.failures, failure].slice(-this.options.evictAfter - 1);
    }
    vote(failure, reporter, suspect);
    const decision = epoch === current ? this.schedule(room, failure, reporter) : none;
    // Counted over the failed epochs up to this one: a member cut short by the next epoch votes
    // for the one it was in after the next has opened, and its vote may complete the majority there.
    const upTo = room.failures.slice(0, room.failures.indexOf(failure) + 1);
    if (suspect === undefined || !members.has(suspect) || !blamedByRoom(upTo, suspect, members, this.options.evictAfter)) return decision;
    const now = this.options.now();
    if (room.presentAtLastEviction.has(suspect) && now - room.lastEvictionAt < this.options.evictionCooldownMs) return decision;
    room.failures = [];
    room.lastEvictionAt = now;
    room.presentAtLastEviction = new Set(members);
    return { ...decision, evict: suspect };
  }

  /**
   * When the room's current epoch, which `failure` says failed, gives way to the next. A lone
   * report waits `soloResyncMs` for a second member to agree (a member can otherwise churn the
   * room faster than honest members can find out and blame it, e.g. one that never connects while
   * they wait for it); an agreed failure starts the next epoch a resync window after its first
   * report and after the last resync epoch.
   */
  private schedule(room: RoomResyncs, failure: FailedEpoch, reporter: string): ReportDecision {
    const none: ReportDecision = { start: 'no', evict: undefined };
    if (failure.scheduled === 'agreed') return none;
    if (failure.scheduled === undefined) {
      const refused = this.charge(room, reporter);
      if (refused) return { ...none, refused };
      if (failure.reporters.size < 2 && this.options.soloResyncMs > 0) {
        failure.scheduled = 'alone';
        room.deferred = failure.epoch;
        return { start: 'later', deferMs: this.options.soloResyncMs, evict: undefined };
      }
    }
    failure.scheduled = 'agreed';
    // Where reports wait for agreement, not before the window after the first report either:
    // members whose deadlines fire a moment later still vote in this epoch, not cut short by the next.
    const since = this.options.soloResyncMs > 0 ? Math.max(room.lastResyncAt, failure.reportedAt) : room.lastResyncAt;
    const wait = since + this.options.resyncWindowMs - this.options.now();
    if (wait > 0) {
      room.deferred = failure.epoch;
      return { start: 'later', deferMs: Math.ceil(wait), evict: undefined };
    }
    room.deferred = undefined;
    return { start: 'now', evict: undefined };
  }

  /** Takes one of `reporter`'s resync tokens; the refusal, when it has none left. */
  private charge(room: RoomResyncs, reporter: string): RateLimitError | undefined {
    const { burst, perMinute } = this.options.resyncBudget;
    const budget = room.budgets.get(reporter) ?? new TokenBucket(burst, perMinute / 60, this.options.now);
    room.budgets.set(reporter, budget);
    return budget.take() ? undefined : new RateLimitError(`resync budget spent: at most ${perMinute} per minute`);
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
