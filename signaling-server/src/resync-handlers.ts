/**
 * `room:resync`: a member's step of some epoch failed. The registry decides whether that starts a
 * new epoch and whether the member blamed again and again goes; this carries it out.
 */
import type { Connection } from './connection.ts';
import { parseResyncRequest } from './payloads.ts';
import { respond } from './respond.ts';

export function handleResyncEvents(conn: Connection): void {
  const { socket, server } = conn;
  socket.on('room:resync', (...args: unknown[]) => {
    respond(conn, 'room:resync', args, (payload) => {
      const { epoch, suspect } = parseResyncRequest(payload);
      const { room, peerId } = conn.member();
      const outcome = server.registry.reportFailure(room, peerId, epoch, suspect);
      const after = server.registry.snapshot(room);
      if (outcome.newEpoch && after) {
        server.log.info(`resync room=${room} peer=${peerId} epoch=${after.epoch} members=${after.members.length}`);
        server.announce(after);
      }
      if (outcome.evict) {
        server.log.info(`evict room=${room} peer=${outcome.evict.peerId}: blamed by the majority in ${server.registry.evictAfter} failed epochs`);
        server.members.get(outcome.evict.peerId)?.evict(outcome.evict.reason);
      }
      return null;
    });
  });
}
