/** `room:join`, `room:preview`, `room:leave`, `room:report`, `room:finished` and the socket's disconnect. */
import { estimateCost, NotInRoomError, quote } from '@tabswarm/shared/protocol';
import type { Connection } from './connection.ts';
import { joinedRoomName, parseFinishedReport, parseJoinRequest, parsePreviewRequest, parseReportRequest } from './payloads.ts';
import { respond } from './respond.ts';

export function handleRoomEvents(conn: Connection): void {
  const { socket, server } = conn;

  socket.on('room:join', (...args: unknown[]) => {
    const join = (): void => {
      // Held back by a rebuild: a socket gone meanwhile joins nothing.
      if (!socket.connected) return;
      const result = respond(conn, 'room:join', args, (payload) => {
        const { room, config, name, ticket, role } = parseJoinRequest(payload);
        return conn.join(room, config, name, ticket, role);
      });
      // After the ack, so the joiner knows its peer id before it sees the membership.
      if (result.ok && result.data.role === 'observer') {
        server.announceObservers(result.data.room);
        return;
      }
      const room = result.ok ? server.registry.snapshot(result.data.room) : undefined;
      if (room) server.announce(room);
    };
    // A room being rebuilt takes new members once its old ones are back.
    const room = joinedRoomName(args[0]);
    if (room !== undefined && server.rebuilds.has(room)) server.rebuilds.hold(room, join);
    else join();
  });

  // What a join would mean, before the tab commits to anything heavy: the same checks, no join.
  socket.on('room:preview', (...args: unknown[]) => {
    respond(conn, 'room:preview', args, (payload) => {
      const { room, config, ticket } = parsePreviewRequest(payload);
      server.tickets?.check(room, ticket);
      const offer = server.registry.preview(room, config);
      return { room, config: offer.config, cost: estimateCost(offer.config), organised: offer.organised === true, members: offer.members.length };
    });
  });

  socket.on('room:leave', () => conn.leave('request'));

  socket.on('room:report', (...args: unknown[]) => {
    respond(conn, 'room:report', args, (payload) => {
      const report = parseReportRequest(payload);
      if (report.kind === 'progress') {
        const { kind: _, ...progress } = report;
        conn.reportProgress(progress);
        return null;
      }
      const { text } = report;
      const { room, peerId } = conn.member();
      server.log.info(`report room=${room} peer=${peerId} text=${quote(text)}`, { event: 'report', room, peer: peerId });
      return null;
    });
  });

  // A member's run ended: once most of the room agrees, the room is finished (room-watch.ts).
  socket.on('room:finished', (...args: unknown[]) => {
    respond(conn, 'room:finished', args, (payload) => {
      const report = parseFinishedReport(payload);
      const { room, peerId } = conn.member();
      const snapshot = server.registry.isMember(room, peerId) ? server.registry.snapshot(room) : undefined;
      if (!snapshot) throw new NotInRoomError(`peer ${peerId.slice(0, 8)} is not a member of room ${room}`);
      const run = server.watch.report(room, peerId, report, snapshot.members, snapshot.config);
      if (run) {
        server.log.info(`finished room=${room} step=${run.step} hash=${run.hash} members=${snapshot.members.length}`, { event: 'finished', room, step: run.step });
        server.announceFinished(room, run);
      }
      return null;
    });
  });

  socket.on('disconnect', (reason) => {
    conn.closed();
    conn.leave(`disconnect (${reason})`);
  });
}
