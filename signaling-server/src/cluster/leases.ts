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

/** Deletes a room's key if `me` holds it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

export type Redis = Pick<RedisClientType, 'eval' | 'get' | 'set' | 'exists'>;

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

  /** Who owns `room` now: this process if nobody did (a claim) or if it did (a renewal). */
  async owner(room: string): Promise<string> {
    return String(await within(`the owner of room ${room}`, this.redis.eval(RESOLVE, { keys: [ownerKey(room)], arguments: [this.me, String(this.ttlMs)] })));
  }

  /** The holder of `room`'s key, without claiming it; undefined when nobody holds it. */
  async holder(room: string): Promise<string | undefined> {
    return (await within(`the owner of room ${room}`, this.redis.get(ownerKey(room)))) ?? undefined;
  }

  /** Says this process is alive for another `ttlMs`. */
  async beat(): Promise<void> {
    await within('this process\'s lease', this.redis.set(processKey(this.me), '1', { PX: this.ttlMs }));
  }

  async isAlive(processId: string): Promise<boolean> {
    return (await within(`the lease of process ${processId}`, this.redis.exists(processKey(processId)))) === 1;
  }

  /** Gives up `rooms` (those this process still holds): the next process to route their events claims them. */
  async release(rooms: Iterable<string>): Promise<void> {
    for (const room of rooms) await within(`room ${room}'s release`, this.redis.eval(RELEASE, { keys: [ownerKey(room)], arguments: [this.me] }));
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
