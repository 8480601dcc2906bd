/**
 * The server's rooms, with no sockets in them: members (peer ids), their tokens and client
 * addresses, the membership epoch, the run configuration (within the server's policy), the
 * failure reports (resync-pacing.ts paces them), and the registrations of a room being rebuilt
 * after a restart (room-rebuild.ts decides it). It also holds the caps: rooms, members, and both
 * per client address. Its options and outcomes are in room-types.ts. It decides; the socket handlers
 * announce and carry out what it decided (broadcasts, evictions, the acks of a rebuild).
 *
 * The epoch and the config need one owner that changes them synchronously with membership, which
 * is why rooms live here and not in socket.io's adapter.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError, DEFAULT_CONFIG, InternalError, NotInRoomError, parseRunConfig, PeerIdTakenError, RateLimitError, RoomFullError, ROOM_NAME_PATTERN, TooManyRoomsError, UnknownRoomError, ValidationError, type RunConfig } from '@tabswarm/shared/protocol';
import { AddressCounts } from './address-counts.ts';
import { checkConfigPolicy, policyOf, type ConfigPolicy } from './config-policy.ts';
import { RejoinPenalties } from './rejoin-penalty.ts';
import { ResyncPacing, roomResyncs, type RoomResyncs } from './resync-pacing.ts';
import { decideRebuild, everyoneRegistered, viewKey, type Registration } from './room-rebuild.ts';

import type { RebuildOutcome, RejoinOutcome, ResyncOutcome, RoomRegistryOptions, RoomSnapshot } from './room-types.ts';

export type { Registration } from './room-rebuild.ts';
export type * from './room-types.ts';

interface Room {
  name: string;
  epoch: number;
  config: RunConfig;
  members: Set<string>;
  /** Failure reports and their pacing (resync-pacing.ts). */
  resyncs: RoomResyncs;
  /** Addresses whose members were evicted, and how long their next join waits. */
  penalties: RejoinPenalties;
  /** Tokens of the ids this room knows, members and some who left: they verify rejoins. */
  tokens: Map<string, string>;
  /** The view a rebuild chose (viewKey); undefined for a room opened by a join. */
  lineage: string | undefined;
  /** While the room is rebuilt (it has no members until decided), the registrations by peer id. */
  registrations: Map<string, Registration> | undefined;
  /** The client address of each member, and how many members each address holds here. */
  addresses: Map<string, string>;
  perAddress: AddressCounts;
  /** The address that opened the room (counted against its rooms while the room lives). */
  opener: string;
  openedAt: number;
  /** Its membership has reached `workers` once (a rebuilt room has). */
  started: boolean;
  /** The organiser's room: its config is fixed, it takes no joiner's keys and outlives its members. */
  organised: boolean;
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
  readonly maxMembersPerAddress: number;
  readonly maxRoomsPerAddress: number;
  readonly evictAfter: number;
  readonly policy: ConfigPolicy;
  /** A join (or rejoin) of a room nobody opened opens it; false: UnknownRoomError, only organised rooms exist. */
  readonly openRooms: boolean;
  private readonly pacing: ResyncPacing;
  private readonly defaultConfig: Readonly<RunConfig>;
  private readonly newPeerId: () => string;
  private readonly newToken: () => string;
  private readonly now: () => number;
  private readonly rooms = new Map<string, Room>();
  private readonly roomsOpened = new AddressCounts();

  constructor(options: RoomRegistryOptions = {}) {
    this.maxMembersPerRoom = positiveInteger('maxMembersPerRoom', options.maxMembersPerRoom ?? 64);
    this.maxRooms = positiveInteger('maxRooms', options.maxRooms ?? 1000);
    this.maxMembersPerAddress = positiveInteger('maxMembersPerAddress', options.maxMembersPerAddress ?? 16);
    this.maxRoomsPerAddress = positiveInteger('maxRoomsPerAddress', options.maxRoomsPerAddress ?? 8);
    this.evictAfter = positiveInteger('evictAfter', options.evictAfter ?? 3);
    this.openRooms = options.openRooms ?? true;
    this.policy = policyOf(options.policy ?? {}, this.maxMembersPerRoom);
    // The server's own default must be within its own policy, or every room would be refused.
    this.defaultConfig = checkConfigPolicy(options.defaultConfig ?? DEFAULT_CONFIG, this.policy);
    this.newPeerId = options.newPeerId ?? randomHex;
    this.newToken = options.newToken ?? randomHex;
    this.now = options.now ?? (() => performance.now());
    this.pacing = new ResyncPacing({
      evictAfter: this.evictAfter,
      evictionCooldownMs: options.evictionCooldownMs ?? 30_000,
      resyncWindowMs: options.resyncWindowMs ?? 1000,
      soloResyncMs: options.soloResyncMs ?? 25_000,
      resyncBudget: options.resyncBudget ?? { burst: 10, perMinute: 12 },
      now: this.now,
    });
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
  join(room: string, config?: Record<string, unknown>, address = 'local'): { peerId: string; token: string; snapshot: RoomSnapshot } {
    let entry = this.rooms.get(room);
    if (!entry) {
      this.checkOpenable(room);
      entry = this.open(room, this.configOf(config ?? {}), address);
    } else if (entry.registrations) {
      throw new InternalError(`room ${room} is being rebuilt`);
    } else {
      this.checkRoomFor(entry, address);
    }
    const peerId = this.newPeerId();
    const token = this.newToken();
    this.admit(entry, peerId, address);
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
  rejoin(room: string, claim: Registration, address = 'local'): RejoinOutcome {
    let entry = this.rooms.get(room);
    if (!entry) {
      this.checkOpenable(room);
      entry = this.open(room, this.configOf(claim.config), address);
      entry.registrations = new Map([[claim.peerId, claim]]);
      return { kind: 'pending', opened: true, complete: everyoneRegistered([claim]) };
    }
    const known = entry.tokens.get(claim.peerId) ?? entry.registrations?.get(claim.peerId)?.token;
    if (known !== undefined && known !== claim.token) throw new PeerIdTakenError(`peer id ${claim.peerId} belongs to another member of room ${room}`);
    if (entry.registrations) {
      this.configOf(claim.config);
      if (!entry.registrations.has(claim.peerId) && entry.registrations.size >= this.maxMembersPerRoom) {
        throw new RoomFullError(`room ${room} has ${this.maxMembersPerRoom} members already`);
      }
      entry.registrations.set(claim.peerId, claim);
      return { kind: 'pending', opened: false, complete: everyoneRegistered([...entry.registrations.values()]) };
    }
    if (entry.members.has(claim.peerId)) return { kind: 'admitted', snapshot: snapshotOf(entry), changed: false, adopt: false };
    this.checkRoomFor(entry, address);
    // A member this room saw is of its lineage, at most behind it; a stranger to a rebuilt room
    // from another view may hold a fork, which must not win the state sync by its step count.
    const adopt = known === undefined && entry.lineage !== undefined && viewKey(claim.members) !== entry.lineage;
    this.admit(entry, claim.peerId, address);
    this.remember(entry, claim.peerId, claim.token);
    entry.epoch = Math.max(entry.epoch, claim.epoch) + 1;
    return { kind: 'admitted', snapshot: snapshotOf(entry), changed: true, adopt };
  }

  /**
   * Opens `room` as the organiser's, with `config` over the server's defaults (within its policy:
   * ConfigError otherwise, naming the key). It takes no joiner's keys and stays open when its
   * last member leaves. Throws ValidationError for a name a URL cannot carry, ConfigError if the
   * room exists, TooManyRoomsError past the cap.
   */
  organise(room: string, config: Record<string, unknown>): RoomSnapshot {
    if (!ROOM_NAME_PATTERN.test(room)) throw new ValidationError('room must be 1..64 characters of A-Z a-z 0-9 _ . -');
    if (this.rooms.has(room)) throw new ConfigError(`room ${room} exists already`);
    const parsed = this.configOf(config);
    if (this.rooms.size >= this.maxRooms) throw new TooManyRoomsError(`the server holds ${this.maxRooms} rooms already`);
    const entry = newRoom(room, parsed, 'organiser', this.now);
    entry.organised = true;
    this.rooms.set(room, entry);
    return snapshotOf(entry);
  }

  /**
   * What a join of `room` proposing `config` would get now, without joining: the same checks
   * (UnknownRoomError, ConfigError for a room it would open) and no change.
   */
  preview(room: string, config: Record<string, unknown> = {}): RoomSnapshot {
    const entry = this.rooms.get(room);
    if (entry) return snapshotOf(entry);
    this.checkOpenable(room);
    return { room, epoch: 0, members: [], config: this.configOf(config) };
  }

  /** `room` is being rebuilt: joins wait, rejoins register. */
  isRebuilding(room: string): boolean {
    return this.rooms.get(room)?.registrations !== undefined;
  }

  /** Ends `room`'s rebuild with the registrations it has (room-rebuild.ts decides); undefined if it is not rebuilding. */
  finishRebuild(room: string, addressOf: (peerId: string) => string = () => 'local'): RebuildOutcome | undefined {
    const entry = this.rooms.get(room);
    if (!entry?.registrations) return undefined;
    const registrations = [...entry.registrations.values()];
    const decision = decideRebuild(registrations);
    entry.registrations = undefined;
    entry.epoch = decision.epoch;
    entry.config = this.configOf(decision.config);
    entry.members = new Set();
    for (const id of decision.members) this.admit(entry, id, addressOf(id));
    entry.started = true;
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
    this.drop(entry);
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
    const address = entry.addresses.get(peerId);
    entry.addresses.delete(peerId);
    if (address !== undefined) entry.perAddress.remove(address);
    this.pacing.left(entry.resyncs, peerId);
    entry.epoch += 1;
    if (entry.members.size === 0 && !entry.organised) this.drop(entry);
    return snapshotOf(entry);
  }

  /** `room` is live and knows `peerId` with this `token` (a member, or one that left). */
  knows(room: string, peerId: string, token: string): boolean {
    const entry = this.rooms.get(room);
    return entry !== undefined && !entry.registrations && entry.tokens.get(peerId) === token;
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
   * of the room's current epoch starts the next epoch, at once or when the room's resync window
   * ends (`deferMs`: call settleResync then), or after the solo wait if nobody agrees; a second
   * report of it may bring that forward; later reports only vote, and so do reports of an earlier
   * failed epoch still on record (a member cut short by the next); reports of other epochs change
   * nothing, and so does a member's second report of one epoch. Throws NotInRoomError if `peerId`
   * is not a member of `room`; `refused` (RateLimitError) when its report would have opened the
   * next epoch past its resync budget.
   */
  reportFailure(room: string, peerId: string, epoch: number, suspect?: string): ResyncOutcome {
    const entry = this.rooms.get(room);
    if (!entry?.members.has(peerId)) throw new NotInRoomError(`peer ${peerId} is not a member of room ${room}`);
    const decision = this.pacing.report(entry.resyncs, entry.members, entry.epoch, peerId, epoch, suspect);
    if (decision.start === 'now') this.bumpForResync(entry);
    const evicted = decision.evict;
    const evict = evicted === undefined ? undefined : {
      peerId: evicted,
      reason: `blamed by most of the room for ${this.evictAfter} failed steps in a row`,
      rejoinAfterMs: entry.penalties.evicted(entry.addresses.get(evicted) ?? 'local'),
    };
    return {
      newEpoch: decision.start === 'now',
      ...(decision.deferMs === undefined ? {} : { deferMs: decision.deferMs }),
      evict,
      ...(decision.refused ? { refused: decision.refused } : {}),
    };
  }

  /** The resync window of `room` ended: starts the deferred epoch, unless the epoch moved on meanwhile. */
  settleResync(room: string): RoomSnapshot | undefined {
    const entry = this.rooms.get(room);
    if (!entry || !this.pacing.due(entry.resyncs, entry.epoch)) return undefined;
    this.bumpForResync(entry);
    return snapshotOf(entry);
  }

  /** Rooms opened at least `ms` ago whose membership never reached their `workers`, with their members. */
  unstarted(ms: number): RoomSnapshot[] {
    const before = this.now() - ms;
    return [...this.rooms.values()].filter((r) => !r.started && !r.organised && !r.registrations && r.openedAt <= before).map(snapshotOf);
  }

  /** How many members `room` holds from `address`. */
  membersFrom(room: string, address: string): number {
    return this.rooms.get(room)?.perAddress.get(address) ?? 0;
  }

  /** Forgets every room. */
  clear(): void {
    this.rooms.clear();
    this.roomsOpened.clear();
  }

  /** `source` over the defaults, within the server's policy: ConfigError otherwise. */
  private configOf(source: Record<string, unknown>): RunConfig {
    return checkConfigPolicy(parseRunConfig(source, this.defaultConfig), this.policy);
  }

  /** A join may open `room`: UnknownRoomError on a server that opens no rooms on request. */
  private checkOpenable(room: string): void {
    if (!this.openRooms) throw new UnknownRoomError(`room ${room} does not exist, and this server opens only its organiser's rooms`);
  }

  /** Opens `room` for `address`, within the caps on rooms: TooManyRoomsError otherwise. */
  private open(room: string, config: RunConfig, address: string): Room {
    if (this.rooms.size >= this.maxRooms) throw new TooManyRoomsError(`the server holds ${this.maxRooms} rooms already`);
    if (this.roomsOpened.get(address) >= this.maxRoomsPerAddress) {
      throw new TooManyRoomsError(`this address has ${this.maxRoomsPerAddress} rooms open already`);
    }
    const entry = newRoom(room, config, address, this.now);
    this.rooms.set(room, entry);
    this.roomsOpened.add(address);
    return entry;
  }

  private drop(entry: Room): void {
    if (this.rooms.get(entry.name) !== entry) return;
    this.rooms.delete(entry.name);
    this.roomsOpened.remove(entry.opener);
  }

  /** Room for one more member from `address`: RoomFullError otherwise. */
  private checkRoomFor(entry: Room, address: string): void {
    const wait = entry.penalties.remaining(address);
    if (wait > 0) throw new RateLimitError(`a member from this address was evicted from room ${entry.name}: join again in ${Math.ceil(wait / 1000)} s`);
    if (entry.members.size >= this.maxMembersPerRoom) throw new RoomFullError(`room ${entry.name} has ${this.maxMembersPerRoom} members already`);
    if (entry.perAddress.get(address) >= this.maxMembersPerAddress) {
      throw new RoomFullError(`this address holds ${this.maxMembersPerAddress} members of room ${entry.name} already`);
    }
  }

  private admit(entry: Room, peerId: string, address: string): void {
    entry.members.add(peerId);
    entry.addresses.set(peerId, address);
    entry.perAddress.add(address);
    if (entry.members.size >= entry.config.workers) entry.started = true;
  }

  private bumpForResync(entry: Room): void {
    entry.epoch += 1;
    this.pacing.started(entry.resyncs);
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

}

function newRoom(name: string, config: RunConfig, opener: string, now: () => number): Room {
  return {
    name, epoch: 0, config, members: new Set(), resyncs: roomResyncs(), penalties: new RejoinPenalties(now), tokens: new Map(), lineage: undefined, registrations: undefined,
    addresses: new Map(), perAddress: new AddressCounts(), opener, openedAt: now(), started: false, organised: false,
  };
}

function snapshotOf(room: Room): RoomSnapshot {
  return { room: room.name, epoch: room.epoch, members: [...room.members].sort(), config: { ...room.config }, ...(room.organised ? { organised: true } : {}) };
}
