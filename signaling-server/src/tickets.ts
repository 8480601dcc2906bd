/**
 * Join tickets: a room on a server with a ticket key is closed to anyone without an invite. A
 * ticket is `EXPIRY.MAC`: the expiry in seconds since the epoch and an HMAC-SHA256 of the room
 * name and that expiry under the server's key (base64url). It travels in the invite URL
 * (`?room=NAME&ticket=...`); without a valid one a tab gets no membership, no config and no
 * member list. Tickets are not tied to a tab: whoever holds the invite may join until it expires.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { TicketError } from '@tabswarm/shared/protocol';

/** Shortest key accepted: 16 bytes of secret. */
export const MIN_TICKET_KEY_BYTES = 16;

export class Tickets {
  private readonly key: Buffer;

  /** `now` in milliseconds since the epoch (Date.now by default). */
  constructor(key: string | Buffer, private readonly now: () => number = () => Date.now()) {
    this.key = Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
    if (this.key.length < MIN_TICKET_KEY_BYTES) throw new TicketError(`the ticket key must be at least ${MIN_TICKET_KEY_BYTES} bytes`);
  }

  /** A ticket for `room` valid until `expiresAtMs`. */
  issue(room: string, expiresAtMs: number): string {
    const expiry = Math.floor(expiresAtMs / 1000);
    return `${expiry}.${this.mac(room, expiry).toString('base64url')}`;
  }

  /** Throws TicketError unless `ticket` is this server's, for `room`, and not expired. */
  check(room: string, ticket: string | undefined): void {
    if (ticket === undefined) throw new TicketError(`room ${room} needs a join ticket (the invite URL's ticket)`);
    const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(ticket);
    if (!match) throw new TicketError('the ticket is malformed');
    const expiry = Number(match[1]);
    const presented = Buffer.from(match[2]!, 'base64url');
    const expected = this.mac(room, expiry);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) throw new TicketError(`the ticket is not valid for room ${room}`);
    if (expiry * 1000 <= this.now()) throw new TicketError('the ticket has expired');
  }

  private mac(room: string, expiry: number): Buffer {
    return createHmac('sha256', this.key).update(`tabswarm-ticket\n${room}\n${expiry}`).digest();
  }
}
