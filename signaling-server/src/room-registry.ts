/**
 * The server's rooms, with no sockets in them: members (peer ids), the membership epoch, the run
 * configuration, and the failed epochs with who blamed whom. It decides; the socket handlers
 * announce and carry out what it decided (broadcasts, evictions).
 *
 * The epoch and the config need one owner that changes them synchronously with membership, which
 * is why rooms live here and not in socket.io's adapter.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError, DEFAULT_CONFIG, NotInRoomError, parseRunConfig, RoomFullError, TooManyRoomsError, type RunConfig } from '@tabswarm/shared/protocol';

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
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function randomPeerId(): string {
  return randomBytes(16).toString('hex');
}

export class RoomRegistry {
  readonly maxMembersPerRoom: number;
  readonly maxRooms: number;
  readonly evictAfter: number;
  private readonly defaultConfig: Readonly<RunConfig>;
  private readonly newPeerId: () => string;
  private readonly rooms = new Map<string, Room>();

  constructor(options: RoomRegistryOptions = {}) {
    this.defaultConfig = options.defaultConfig ?? DEFAULT_CONFIG;
    this.maxMembersPerRoom = positiveInteger('maxMembersPerRoom', options.maxMembersPerRoom ?? 64);
    this.maxRooms = positiveInteger('maxRooms', options.maxRooms ?? 1000);
    this.evictAfter = positiveInteger('evictAfter', options.evictAfter ?? 3);
    this.newPeerId = options.newPeerId ?? randomPeerId;
  }

  /** How many rooms are open. */
  get size(): number {
    return this.rooms.size;
  }

  /**
   * Adds a new member to `room` and starts the next epoch. A new room takes `config` over the
   * defaults; an existing one keeps its own and ignores `config`. Throws ConfigError (a bad
   * config; no room is made), TooManyRoomsError or RoomFullError.
   */
  join(room: string, config?: Record<string, unknown>): { peerId: string; snapshot: RoomSnapshot } {
    let entry = this.rooms.get(room);
    if (!entry) {
      if (this.rooms.size >= this.maxRooms) throw new TooManyRoomsError(`the server holds ${this.maxRooms} rooms already`);
      entry = { name: room, epoch: 0, config: parseRunConfig(config ?? {}, this.defaultConfig), members: new Set(), failures: [] };
      this.rooms.set(room, entry);
    } else if (entry.members.size >= this.maxMembersPerRoom) {
      throw new RoomFullError(`room ${room} has ${this.maxMembersPerRoom} members already`);
    }
    const peerId = this.newPeerId();
    entry.members.add(peerId);
    entry.epoch += 1;
    return { peerId, snapshot: snapshotOf(entry) };
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

  all(): RoomSnapshot[] {
    return [...this.rooms.values()].map(snapshotOf);
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

  /** More than half of the reporters (and more than one) blamed `suspect` in each of the last `evictAfter` failed epochs. */
  private blamedEachTime(entry: Room, suspect: string): boolean {
    return entry.failures.length >= this.evictAfter
      && entry.failures.every((f) => f.reporters.size > 1 && 2 * (f.votes.get(suspect)?.size ?? 0) > f.reporters.size);
  }
}

function snapshotOf(room: Room): RoomSnapshot {
  return { room: room.name, epoch: room.epoch, members: [...room.members].sort(), config: { ...room.config } };
}
