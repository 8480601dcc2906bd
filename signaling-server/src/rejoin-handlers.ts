/**
 * `room:rejoin`: a member that lost the server (or that the server lost, by a restart) claims its
 * peer id again and re-registers its room. A live room lets it in at once; a room this server
 * does not know is rebuilt from the registrations of a short window (room-rebuild.ts decides),
 * and every registrant is answered then, before the rebuilt membership is announced.
 */
import { estimateCost, PeerIdTakenError, quote, type RejoinResult } from '@tabswarm/shared/protocol';
import type { Connection, ServerContext } from './connection.ts';
import { parseRejoinRequest } from './payloads.ts';
import { respondLater } from './respond.ts';
import type { RoomSnapshot } from './room-registry.ts';

export function handleRejoinEvents(conn: Connection): void {
  const { socket, server } = conn;
  socket.on('room:rejoin', (...args: unknown[]) => {
    respondLater<RejoinResult>(conn, 'room:rejoin', args, (payload, answer) => {
      const claim = parseRejoinRequest(payload, server.registry.maxMembersPerRoom);
      const { room, peerId, token } = claim;
      const held = conn.membership;
      if (held?.room === room && held.peerId === peerId) {
        // Asked again on the same connection (its answer was late): nothing changes.
        const snapshot = server.registry.snapshot(room)!;
        answer(result(server, snapshot, peerId, token, false));
        return;
      }
      // A claim replaces whatever this socket held or waited for.
      conn.leave('rejoin');
      // A member the live room knows proves itself by its token; anyone else (a restarted server
      // knows nobody) needs the room's ticket, as a joiner does.
      if (server.tickets && !server.registry.knows(room, peerId, token)) server.tickets.check(room, claim.ticket);
      const holder = server.members.get(peerId);
      if (holder && holder.membership?.room !== room) throw new PeerIdTakenError(`peer id ${peerId} is held in another room`);
      const outcome = server.registry.rejoin(room, claim, conn.address);
      const named = claim.name === undefined ? '' : ` name=${quote(claim.name)}`;
      if (outcome.kind === 'pending') {
        if (outcome.opened) {
          server.log.info(`rebuild room=${room}: unknown here; collecting registrations for ${server.rebuilds.windowMs} ms`, { event: 'rebuild', room });
          server.rebuilds.open(room, () => finishRebuild(server, room));
        }
        conn.pending = { room, peerId };
        const replaced = server.rebuilds.add(room, peerId, { conn, token, answer });
        if (replaced && replaced.conn !== conn) {
          replaced.conn.pending = undefined;
          replaced.conn.release();
        }
        server.log.info(`register room=${room} peer=${peerId} epoch=${claim.epoch} step=${claim.step} hash=${quote(claim.hash.slice(0, 12))} members=${claim.members.length}${named}`, { event: 'register', room, peer: peerId });
        if (outcome.complete) finishRebuild(server, room);
        return;
      }
      if (holder && holder !== conn) holder.release();
      conn.bind(room, peerId);
      const { snapshot } = outcome;
      server.log.info(`rejoin room=${room} peer=${peerId} epoch=${snapshot.epoch} members=${snapshot.members.length} step=${claim.step}${outcome.adopt ? ' adopts the room state' : ''}${named}`, { event: 'rejoin', room, peer: peerId, epoch: snapshot.epoch });
      answer(result(server, snapshot, peerId, token, outcome.adopt));
      if (outcome.changed) server.announce(snapshot);
    });
  });
}

/** Decides `room`'s rebuild with the registrations it has, answers each registrant, then announces. */
export function finishRebuild(server: ServerContext, room: string): void {
  if (!server.mayDecide(room)) return;
  const waiting = server.rebuilds.close(room);
  const decided = server.registry.finishRebuild(room, (peerId) => waiting?.registrants.get(peerId)?.conn.address ?? 'unknown');
  if (!waiting || !decided) return;
  for (const note of decided.notes) server.log.info(`rebuild room=${room}: ${note}`, { event: 'rebuild', room });
  for (const [peerId, registrant] of waiting.registrants) {
    registrant.conn.pending = undefined;
    registrant.conn.bind(room, peerId);
    registrant.answer(result(server, decided.snapshot, peerId, registrant.token, decided.adopters.includes(peerId)));
  }
  server.announce(decided.snapshot);
  for (const join of waiting.joins) join();
}

/** The answer to a rejoin, with ICE servers made now: credentials that expired meanwhile are renewed. */
function result(server: ServerContext, snapshot: RoomSnapshot, peerId: string, token: string, adopt: boolean): RejoinResult {
  return { peerId, room: snapshot.room, config: snapshot.config, epoch: snapshot.epoch, members: snapshot.members, token, cost: estimateCost(snapshot.config), adopt, iceServers: server.iceServers(peerId) };
}
