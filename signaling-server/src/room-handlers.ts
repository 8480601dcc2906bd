/** `room:join`, `room:leave`, `room:report` and the socket's disconnect. */
import type { Connection } from './connection.ts';
import { parseJoinRequest, parseReportRequest } from './payloads.ts';
import { respond } from './respond.ts';

export function handleRoomEvents(conn: Connection): void {
  const { socket, server } = conn;

  socket.on('room:join', (...args: unknown[]) => {
    const result = respond(conn, 'room:join', args, (payload) => {
      const { room, config, name } = parseJoinRequest(payload);
      return conn.join(room, config, name);
    });
    // After the ack, so the joiner knows its peer id before it sees the membership.
    const room = result.ok ? server.registry.snapshot(result.data.room) : undefined;
    if (room) server.announce(room);
  });

  socket.on('room:leave', () => conn.leave('request'));

  socket.on('room:report', (...args: unknown[]) => {
    respond(conn, 'room:report', args, (payload) => {
      const { text } = parseReportRequest(payload);
      const { room, peerId } = conn.member();
      server.log.info(`report room=${room} peer=${peerId} text=${JSON.stringify(text)}`);
      return null;
    });
  });

  socket.on('disconnect', (reason) => conn.leave(`disconnect (${reason})`));
}
