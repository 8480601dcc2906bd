/** The room registry's options and what its decisions return (room-registry.ts). */
import type { RunConfig } from '@tabswarm/shared/protocol';
import type { ConfigPolicy } from './config-policy.ts';

export interface RoomRegistryOptions {
  /**
   * The configuration a new room starts from; the first joiner's `config` keys override it.
   * @default DEFAULT_CONFIG
   */
  defaultConfig?: Readonly<RunConfig>;
  /** @default 64 */
  maxMembersPerRoom?: number;
  /** @default 1000 */
  maxRooms?: number;
  /**
   * Memberships one client address may hold in one room: enough for one person's own tabs on one
   * machine, too few for one client to outvote a room. @default 16
   */
  maxMembersPerAddress?: number;
  /**
   * A join of a room that does not exist opens it (the first joiner's config). false: only the
   * organiser's rooms exist, and such a join is an UnknownRoomError. @default true
   */
  openRooms?: boolean;
  /** Rooms one client address may have opened that are still open. @default 8 */
  maxRoomsPerAddress?: number;
  /**
   * A member that more than half of the other members blamed in each of the last this many failed
   * epochs is to be evicted (failure-votes.ts). With two members nobody is.
   * @default 3
   */
  evictAfter?: number;
  /** No eviction in a room within this long after its last one. @default 30000 */
  evictionCooldownMs?: number;
  /**
   * Resyncs of one room within this long after its last resync epoch are merged into one new
   * epoch, started when the window ends. @default 1000
   */
  resyncWindowMs?: number;
  /**
   * A failed epoch only one member reported gives way to the next this long after, unless a second
   * member agrees sooner: longer than an honest member's deadlines (the sync's 20 s), so that a
   * member cannot churn the room faster than the others can find it out. @default 25000
   */
  soloResyncMs?: number;
  /** Each member's resync budget: `burst` at once, `perMinute` sustained. @default { burst: 10, perMinute: 12 } */
  resyncBudget?: { burst: number; perMinute: number };
  /** The server's cost budget for room configurations (config-policy.ts); `maxWorkers` is the room cap. */
  policy?: Partial<Omit<ConfigPolicy, 'maxWorkers'>>;
  /** Milliseconds, for the windows, cooldowns and budgets. @default performance.now */
  now?: () => number;
  /**
   * Makes a peer id; ids must never repeat.
   * @default 16 random bytes as hex: unguessable, so knowing a room's name does not let anyone
   * impersonate its members
   */
  newPeerId?: () => string;
  /**
   * Makes a member's secret token, its proof of its peer id when it rejoins.
   * @default 16 random bytes as hex
   */
  newToken?: () => string;
}

export interface RoomSnapshot {
  room: string;
  epoch: number;
  /** Sorted peer ids (plain `sort()`, the ring order). */
  members: string[];
  config: RunConfig;
  /** The organiser's room (present only when true). */
  organised?: true;
}

/** What one failure report changed. */
export interface ResyncOutcome {
  /** The report started a new epoch with the same members: announce it. */
  newEpoch: boolean;
  /** The new epoch waits for the room's resync window: settleResync after this many ms. */
  deferMs?: number;
  /** A member to remove from the room (it may join again), and why. */
  evict: { peerId: string; reason: string; rejoinAfterMs: number } | undefined;
  /** The report would have opened the next epoch past the member's resync budget: answer it with this. */
  refused?: Error;
}

/** What a rejoin did. */
export type RejoinOutcome =
  /** The room is being rebuilt: the answer waits for finishRebuild (now, if `complete`). */
  | { kind: 'pending'; opened: boolean; complete: boolean }
  /**
   * Let into a live room. `changed`: a new epoch to announce (false when the claimant already
   * held the id: a new connection of the same member). `adopt`: its state is not the room's.
   */
  | { kind: 'admitted'; snapshot: RoomSnapshot; changed: boolean; adopt: boolean };

/** A finished rebuild: the room, who adopts the winning state, and the decision's notes. */
export interface RebuildOutcome {
  snapshot: RoomSnapshot;
  adopters: string[];
  notes: string[];
}
