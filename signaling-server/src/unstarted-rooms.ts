/**
 * Rooms that never start are closed: a room whose membership has not reached its `workers` within
 * `roomStartMs` of opening holds a name, a slot of the room cap and its members' sockets for a run
 * that is not happening (1,000 sockets could hold 1,000 such rooms). Its members are told why
 * (`room:evicted`) and may join again.
 */
import type { ServerContext } from './connection.ts';

/** Checks every quarter of `roomStartMs` (at most every 30 s); clear the returned interval on close. */
export function dropUnstartedRooms(server: ServerContext, roomStartMs: number): ReturnType<typeof setInterval> {
  const timer = setInterval(() => {
    for (const room of server.registry.unstarted(roomStartMs)) {
      server.log.info(`close room=${room.room}: ${room.members.length} of ${room.config.workers} workers after ${roomStartMs} ms`, { event: 'unstarted', room: room.room });
      server.metrics.reject('unstarted_room');
      for (const peerId of room.members) server.members.get(peerId)?.evict(`the room did not reach ${room.config.workers} workers within ${Math.round(roomStartMs / 1000)} s`);
    }
  }, Math.min(30_000, Math.max(10, Math.floor(roomStartMs / 4))));
  timer.unref?.();
  return timer;
}
