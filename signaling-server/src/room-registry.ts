/**
 * The server's rooms, with no sockets in them: members (peer ids) and their tokens, the membership
 * epoch, the run configuration, the failed epochs with who blamed whom, and the registrations of a
 * room being rebuilt after a restart (room-rebuild.ts decides it). It decides; the socket handlers
 * announce and carry out what it decided (broadcasts, evictions, the acks of a rebuild).
 *
 * The epoch and the config need one owner that changes them synchronously with membership, which
 * is why rooms live here and not in socket.io's adapter.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError, DEFAULT_CONFIG, InternalError, NotInRoomError, parseRunConfig, PeerIdTakenError, RoomFullError, TooManyRoomsError, type RunConfig } from '@tabswarm/shared/protocol';
import { decideRebuild, everyoneRegistered, viewKey, type Registration } from './room-rebuild.ts';

export type { Registration } from './room-rebuild.ts';

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
   * A member that the majority of reporters blamed in each of the last this many failed epochs is
   * to be evicted. With two members there is no majority: nobody is.
   * @default 3
   */
  evictAfter?: number;
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
}

/** What one failure report changed. */
export interface ResyncOutcome {
  /** The report started a new epoch with the same members: announce it. */
  newEpoch: boolean;
  /** A member to remove from the room (it may join again), and why. */
  evict: { peerId: string; reason: string } | undefined;
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

/** One failed epoch: who reported it, and suspect -> the reporters who blamed it. */
interface FailedEpoch {
  epoch: number;
  reporters: Set<string>;
  votes: Map<string, Set<string>>;
}

interface Room {
  name: string;
  epoch: number;
  config: RunConfig;
  members: Set<string>;
  /** The last `evictAfter` failed epochs, oldest first. */
  failures: FailedEpoch[];
  /** Tokens of the ids this room knows, members and some who left: they verify rejoins. */
  tokens: Map<string, string>;
  /** The view a rebuild chose (viewKey); undefined for a room opened by a join. */
  lineage: string | undefined;
  /** While the room is rebuilt (it has no members until decided), the registrations by peer id. */
  registrations: Map<string, Registration> | undefined;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function randomHex(): string {
  return randomBytes(16).toString('hex');
}

export class RoomRegistry {
  readonly maxMembersPerRoom: number;
  readonly maxRooms: number;
  readonly evictAfter: number;
  private readonly defaultConfig: Readonly<RunConfig>;
  private readonly newPeerId: () => string;
  private readonly newToken: () => string;
  private readonly rooms = new Map<string, Room>();

  constructor(options: RoomRegistryOptions = {}) {
    this.defaultConfig = options.defaultConfig ?? DEFAULT_CONFIG;
    this.maxMembersPerRoom = positiveInteger('maxMembersPerRoom', options.maxMembersPerRoom ?? 64);
    this.maxRooms = positiveInteger('maxRooms', options.maxRooms ?? 1000);
    this.evictAfter = positiveInteger('evictAfter', options.evictAfter ?? 3);
    this.newPeerId = options.newPeerId ?? randomHex;
    this.newToken = options.newToken ?? randomHex;
  }

  /** How many rooms are open, rebuilding ones included. */
  get size(): number {
    return this.rooms.size;
  }

  /**
   * Adds a new member to `room` and starts the next epoch. A new room takes `config` over the
   * defaults; an existing one keeps its own and ignores `config`. Throws ConfigError (a bad
   * config; no room is made), TooManyRoomsError or RoomFullError; InternalError while the room is
   * rebuilt (the handler holds joins back until it is decided).
   */
  join(room: string, config?: Record<string, unknown>): { peerId: string; token: string; snapshot: RoomSnapshot } {
    let entry = this.rooms.get(room);
    if (!entry) {
      if (this.rooms.size >= this.maxRooms) throw new TooManyRoomsError(`the server holds ${this.maxRooms} rooms already`);
      entry = newRoom(room, parseRunConfig(config ?? {}, this.defaultConfig));
      this.rooms.set(room, entry);
    } else if (entry.registrations) {
      throw new InternalError(`room ${room} is being rebuilt`);
    } else if (entry.members.size >= this.maxMembersPerRoom) {
      throw new RoomFullError(`room ${room} has ${this.maxMembersPerRoom} members already`);
    }
    const peerId = this.newPeerId();
    const token = this.newToken();
    entry.members.add(peerId);
    this.remember(entry, peerId, token);
    entry.epoch += 1;
    return { peerId, token, snapshot: snapshotOf(entry) };
  }

  /**
   * A member that lost the server (or that the server lost) claims its peer id again and
   * re-registers the room as it trains in it. A room this server does not know opens a rebuild
   * (the claim's config must parse: ConfigError); a rebuilding room takes the registration; a live
   * room lets the claimant in as a late joiner, its epoch above the room's and the claim's.
   * Throws PeerIdTakenError for an id this room knows with another token, and the caps' errors.
   *
   * Trust: a token can only be checked by the server that saw it. An id this room never saw is
   * taken on the claimant's word, and its token is known from then on.
   */
  rejoin(room: string, claim: Registration): RejoinOutcome {
    let entry = this.rooms.get(room);
    if (!entry) {
      if (this.rooms.size >= this.maxRooms) throw new TooManyRoomsError(`the server holds ${this.maxRooms} rooms already`);
      const config = parseRunConfig(claim.config, this.defaultConfig);
      entry = { ...newRoom(room, config), registrations: new Map([[claim.peerId, claim]]) };
      this.rooms.set(room, entry);
      return { kind: 'pending', opened: true, complete: everyoneRegistered([claim]) };
    }
    const known = entry.tokens.get(claim.peerId) ?? entry.registrations?.get(claim.peerId)?.token;
    if (known !== undefined && known !== claim.token) throw new PeerIdTakenError(`peer id ${claim.peerId} belongs to another member of room ${room}`);
    if (entry.registrations) {
      parseRunConfig(claim.config, this.defaultConfig);
      if (!entry.registrations.has(claim.peerId) && entry.registrations.size >= this.maxMembersPerRoom) {
        throw new RoomFullError(`room ${room} has ${this.maxMembersPerRoom} members already`);
      }
      entry.registrations.set(claim.peerId, claim);
      return { kind: 'pending', opened: false, complete: everyoneRegistered([...entry.registrations.values()]) };
    }
    if (entry.members.has(claim.peerId)) return { kind: 'admitted', snapshot: snapshotOf(entry), changed: false, adopt: false };
    if (entry.members.size >= this.maxMembersPerRoom) throw new RoomFullError(`room ${room} has ${this.maxMembersPerRoom} members already`);
    // A member this room saw is of its lineage, at most behind it; a stranger to a rebuilt room
    // from another view may hold a fork, which must not win the state sync by its step count.
    const adopt = known === undefined && entry.lineage !== undefined && viewKey(claim.members) !== entry.lineage;
    entry.members.add(claim.peerId);
    this.remember(entry, claim.peerId, claim.token);
    entry.epoch = Math.max(entry.epoch, claim.epoch) + 1;
    return { kind: 'admitted', snapshot: snapshotOf(entry), changed: true, adopt };
  }

  /** `room` is being rebuilt: joins wait, rejoins register. */
  isRebuilding(room: string): boolean {
    return this.rooms.get(room)?.registrations !== undefined;
  }

  /** Ends `room`'s rebuild with the registrations it has (room-rebuild.ts decides); undefined if it is not rebuilding. */
  finishRebuild(room: string): RebuildOutcome | undefined {
    const entry = this.rooms.get(room);
    if (!entry?.registrations) return undefined;
    const registrations = [...entry.registrations.values()];
    const decision = decideRebuild(registrations);
    entry.registrations = undefined;
    entry.epoch = decision.epoch;
    entry.config = parseRunConfig(decision.config, this.defaultConfig);
    entry.members = new Set(decision.members);
    entry.lineage = decision.lineage;
    for (const r of registrations) this.remember(entry, r.peerId, r.token);
    return { snapshot: snapshotOf(entry), adopters: decision.adopters, notes: decision.notes };
  }

  /**
   * A registrant of a rebuilding room went away before the decision. Returns true if that left
   * no registration, and the room is forgotten.
   */
  withdraw(room: string, peerId: string): boolean {
    const entry = this.rooms.get(room);
    if (!entry?.registrations?.delete(peerId)) return false;
    if (entry.registrations.size > 0) return false;
    this.rooms.delete(room);
    return true;
  }

  /**
   * Removes `peerId` from `room` and starts the next epoch. Returns the room after the change
   * (no members: the room is forgotten, and the next joiner opens a new run with its own config),
   * or undefined if `peerId` was not a member.
   */
  leave(room: string, peerId: string): RoomSnapshot | undefined {
    const entry = this.rooms.get(room);
    if (!entry?.members.delete(peerId)) return undefined;
    entry.epoch += 1;
    if (entry.members.size === 0) this.rooms.delete(room);
    return snapshotOf(entry);
  }

  isMember(room: string, peerId: string): boolean {
    return this.rooms.get(room)?.members.has(peerId) ?? false;
  }

  snapshot(room: string): RoomSnapshot | undefined {
    const entry = this.rooms.get(room);
    return entry && snapshotOf(entry);
  }

  /** The live rooms (not those being rebuilt). */
  all(): RoomSnapshot[] {
    return [...this.rooms.values()].filter((r) => !r.registrations).map(snapshotOf);
  }

  /**
   * `peerId` says a step of `epoch` failed, blaming `suspect` if it names one. The first report
   * of the room's current epoch starts the next epoch at once; later reports of a tracked failed
   * epoch only vote; reports of other epochs change nothing. Throws NotInRoomError if `peerId`
   * is not a member of `room`.
   */
  reportFailure(room: string, peerId: string, epoch: number, suspect?: string): ResyncOutcome {
    const entry = this.rooms.get(room);
    if (!entry?.members.has(peerId)) throw new NotInRoomError(`peer ${peerId} is not a member of room ${room}`);
    let newEpoch = false;
    let failure = entry.failures.find((f) => f.epoch === epoch);
    if (!failure) {
      if (epoch !== entry.epoch) return { newEpoch, evict: undefined }; // stale, and not a failure we track
      failure = { epoch, reporters: new Set(), votes: new Map() };
      entry.failures = [...entry.failures, failure].slice(-this.evictAfter);
      entry.epoch += 1;
      newEpoch = true;
    }
    failure.reporters.add(peerId);
    if (suspect === undefined || suspect === peerId || !entry.members.has(suspect)) return { newEpoch, evict: undefined };
    failure.votes.set(suspect, (failure.votes.get(suspect) ?? new Set<string>()).add(peerId));
    if (!this.blamedEachTime(entry, suspect)) return { newEpoch, evict: undefined };
    entry.failures = [];
    return { newEpoch, evict: { peerId: suspect, reason: `blamed by the majority for ${this.evictAfter} failed steps in a row` } };
  }

  /** Forgets every room. */
  clear(): void {
    this.rooms.clear();
  }

  /**
   * Keeps `peerId`'s token. Those of members who left stay too, so their rejoin is verified, up to
   * four times the member cap; beyond it the oldest of them go.
   */
  private remember(entry: Room, peerId: string, token: string): void {
    entry.tokens.delete(peerId);
    entry.tokens.set(peerId, token);
    for (const id of entry.tokens.keys()) {
      if (entry.tokens.size <= 4 * this.maxMembersPerRoom) break;
      if (!entry.members.has(id)) entry.tokens.delete(id);
    }
  }

  /** More than half of the reporters (and more than one) blamed `suspect` in each of the last `evictAfter` failed epochs. */
  private blamedEachTime(entry: Room, suspect: string): boolean {
    return entry.failures.length >= this.evictAfter
      && entry.failures.every((f) => f.reporters.size > 1 && 2 * (f.votes.get(suspect)?.size ?? 0) > f.reporters.size);
  }
}

function newRoom(name: string, config: RunConfig): Room {
  return { name, epoch: 0, config, members: new Set(), failures: [], tokens: new Map(), lineage: undefined, registrations: undefined };
}

function snapshotOf(room: Room): RoomSnapshot {
  return { room: room.name, epoch: room.epoch, members: [...room.members].sort(), config: { ...room.config } };
}
