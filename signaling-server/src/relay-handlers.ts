/** `signal:relay`: a WebRTC signal (SDP, ICE) from one member to another of the same room, or between a member and an observer. */
import { PeerNotFoundError, quote } from '@tabswarm/shared/protocol';
import type { Connection } from './connection.ts';
import { parseRelayRequest, signalBytes } from './payloads.ts';
import { respond } from './respond.ts';

export function handleRelayEvents(conn: Connection): void {
  const { socket, server } = conn;
  socket.on('signal:relay', (...args: unknown[]) => {
    respond(conn, 'signal:relay', args, (payload) => {
      const { to, data } = parseRelayRequest(payload);
      const { room, peerId } = conn.member();
      // Members signal each other and their observers; an observer signals members only.
      const observer = conn.membership?.role === 'observer';
      const allowed = server.registry.isMember(room, to) || (!observer && server.watch.isObserver(room, to));
      const target = allowed ? server.members.get(to) : undefined;
      if (!target) throw new PeerNotFoundError(`no peer ${quote(to)} in room ${room}`);
      conn.spendRelay(to);
      target.socket.emit('signal', { from: peerId, data });
      server.metrics.relayedBytes.inc(signalBytes(data));
      return null;
    });
  });
}
