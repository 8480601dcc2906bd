/**
 * `room:resync`: a member's step of some epoch failed. The registry decides whether that starts a
 * new epoch (now, or when the room's resync window ends) and whether the member blamed by most of
 * the room goes; this carries it out.
 */
import type { Connection, ServerContext } from './connection.ts';
import { parseResyncRequest } from './payloads.ts';
import { respond } from './respond.ts';

export function handleResyncEvents(conn: Connection): void {
  const { socket, server } = conn;
  socket.on('room:resync', (...args: unknown[]) => {
    respond(conn, 'room:resync', args, (payload) => {
      const { epoch, suspect } = parseResyncRequest(payload);
      const { room, peerId } = conn.member();
      const outcome = server.registry.reportFailure(room, peerId, epoch, suspect);
      server.metrics.resyncs.inc();
      const after = server.registry.snapshot(room);
      if (outcome.newEpoch && after) {
        server.log.info(`resync room=${room} peer=${peerId} epoch=${after.epoch} members=${after.members.length}`, { event: 'resync', room, peer: peerId, epoch: after.epoch });
        server.announce(after);
      }
      if (outcome.deferMs !== undefined) settleLater(server, room, outcome.deferMs);
      else if (outcome.newEpoch) cancelSettle(server, room);
      if (outcome.evict) {
        server.log.info(`evict room=${room} peer=${outcome.evict.peerId}: blamed by most of the room in ${server.registry.evictAfter} failed epochs`, { event: 'evict', room, peer: outcome.evict.peerId });
        server.members.get(outcome.evict.peerId)?.evict(outcome.evict.reason, 'room', outcome.evict.rejoinAfterMs);
      }
      if (outcome.refused) throw outcome.refused;
      return null;
    });
  });
}

/**
 * Starts `room`'s deferred resync epoch in `ms` (its window's end, or a lone report's wait);
 * resyncs meanwhile are merged into it. A later decision replaces an earlier one.
 */
function settleLater(server: ServerContext, room: string, ms: number): void {
  cancelSettle(server, room);
  const timer = setTimeout(() => {
    server.resyncTimers.delete(room);
    const after = server.registry.settleResync(room);
    if (!after) return;
    server.log.info(`resync room=${room} epoch=${after.epoch} members=${after.members.length} (merged)`, { event: 'resync', room, epoch: after.epoch });
    server.announce(after);
  }, ms);
  server.resyncTimers.set(room, timer);
}

function cancelSettle(server: ServerContext, room: string): void {
  clearTimeout(server.resyncTimers.get(room));
  server.resyncTimers.delete(room);
}
