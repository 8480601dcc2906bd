/**
 * Leases in Redis: which process owns each room, and which processes are alive. A lease is a key
 * with an expiry that its holder renews; a process that dies stops renewing, its keys expire, and
 * the next process that routes an event of its room claims the room.
 */
import type { RedisClientType } from 'redis';
import { deadline, raceSignal } from '@tabswarm/shared';

/** The owner of a room's key: read it, renew it if it is `me`, claim it if nobody holds it; atomic. */
const RESOLVE = `
local owner = redis.call('GET', KEYS[1])
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if owner == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return owner`;

/**
 * A process's heartbeat: renews its key and says whether it was declared gone since its last one
 * (0: an owner let its tabs leave; the mark is consumed).
 */
const BEAT = `
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
if redis.call('DEL', KEYS[2]) == 1 then return 0 end
return 1`;

/** Declares a process gone if its key is missing, leaving a mark its next beat finds (it may only be slow). */
const BURY = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return 1`;

/** Deletes a room's key if `me` holds it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

export type Redis = Pick<RedisClientType, 'eval' | 'get'>;

/** How long a process's mark of having been declared gone waits for its next beat (one that never comes: it died). */
const GONE_MS = 24 * 60 * 60 * 1000;

/** A Redis command waits at most this long (a Redis away queues commands until it is back). */
const COMMAND_MS = 2000;

export class Leases {
  constructor(
    private readonly redis: Redis,
    /** This process's id, the value of the keys it holds. */
    readonly me: string,
    /** How long a key lives unless renewed. */
    readonly ttlMs: number,
  ) {}

  /** Until when (Date.now) each room's key is surely still this process's: its last claim or renewal was sent a lease before. */
  private readonly proven = new Map<string, number>();

  /** Who owns `room` now: this process if nobody did (a claim) or if it did (a renewal). */
  async owner(room: string): Promise<string> {
    const sent = Date.now();
    const owner = String(await within(`the owner of room ${room}`, this.redis.eval(RESOLVE, { keys: [ownerKey(room)], arguments: [this.me, String(this.ttlMs)] })));
    if (owner === this.me) this.proven.set(room, Math.max(this.proven.get(room) ?? 0, sent + this.ttlMs));
    else this.proven.delete(room);
    return owner;
  }

  /**
   * Whether `room`'s key is surely this process's now. Another process can claim it only once it
   * expired, which is after this says false: so an owner that decides only while this holds never
   * decides beside the next one, however long it stalled.
   */
  holds(room: string, now = Date.now()): boolean {
    return (this.proven.get(room) ?? 0) > now;
  }

  /** The holder of `room`'s key, without claiming it; undefined when nobody holds it. */
  async holder(room: string): Promise<string | undefined> {
    return (await within(`the owner of room ${room}`, this.redis.get(ownerKey(room)))) ?? undefined;
  }

  /**
   * Says this process is alive for another `ttlMs`. False if it was declared gone meanwhile
   * (`bury`): the owners have let its tabs leave their rooms, so they must register again.
   */
  async beat(): Promise<boolean> {
    return Number(await within('this process\'s lease', this.redis.eval(BEAT, { keys: [processKey(this.me), goneKey(this.me)], arguments: [String(this.ttlMs)] }))) === 1;
  }

  async isAlive(processId: string): Promise<boolean> {
    return (await within(`the lease of process ${processId}`, this.redis.get(processKey(processId)))) !== null;
  }

  /**
   * Declares `processId` gone if its lease is missing; true if it is (its tabs may leave). A
   * process that was only slow finds the mark at its next beat, so none of its tabs stays out
   * of its room without knowing it.
   */
  async bury(processId: string): Promise<boolean> {
    return Number(await within(`the lease of process ${processId}`, this.redis.eval(BURY, { keys: [processKey(processId), goneKey(processId)], arguments: [String(GONE_MS)] }))) === 1;
  }

  /** Gives up `rooms` (those this process still holds): the next process to route their events claims them. */
  async release(rooms: Iterable<string>): Promise<void> {
    for (const room of rooms) {
      this.proven.delete(room);
      await within(`room ${room}'s release`, this.redis.eval(RELEASE, { keys: [ownerKey(room)], arguments: [this.me] }));
    }
  }

  /** Forgets the proofs that ran out (of rooms released, or not renewed any more). */
  prune(now = Date.now()): void {
    for (const [room, until] of this.proven) if (until <= now) this.proven.delete(room);
  }
}

/** `command`'s answer, or TimeoutError after COMMAND_MS. */
async function within<T>(what: string, command: Promise<T>): Promise<T> {
  const limit = deadline(COMMAND_MS, `asking Redis for ${what}`);
  try {
    return await raceSignal(command, limit.signal, `asking Redis for ${what}`);
  } finally {
    limit.clear();
  }
}

function ownerKey(room: string): string {
  return `tabswarm:owner:${room}`;
}

function processKey(id: string): string {
  return `tabswarm:process:${id}`;
}

function goneKey(id: string): string {
  return `tabswarm:gone:${id}`;
}
