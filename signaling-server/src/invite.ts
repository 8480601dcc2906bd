/**
 * CLI: prints an invite URL for a closed room, its ticket signed with the server's key.
 *   TABSWARM_TICKET_KEY=... tsx signaling-server/src/invite.ts --url https://tabs.example.org --room NAME [--hours 24]
 *   tsx signaling-server/src/invite.ts --ticket-key-file KEYFILE --url ... --room ...
 * The server must run with the same key (--ticket-key-file or TABSWARM_TICKET_KEY). The ticket
 * should outlive the run: a member that rejoins after a server restart presents it again.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ROOM_NAME_PATTERN } from '@tabswarm/shared/protocol';
import { Tickets } from './tickets.ts';

const USAGE = 'usage: tsx signaling-server/src/invite.ts --url URL --room NAME [--hours 24] [--ticket-key-file FILE] (or TABSWARM_TICKET_KEY)';

function main(): void {
  const { values } = parseArgs({
    options: { url: { type: 'string' }, room: { type: 'string' }, hours: { type: 'string' }, 'ticket-key-file': { type: 'string' } },
    strict: true,
  });
  const keyFile = values['ticket-key-file'];
  const key = keyFile === undefined ? process.env.TABSWARM_TICKET_KEY : readFileSync(keyFile, 'utf8').trim();
  const hours = Number(values.hours ?? '24');
  if (values.url === undefined || values.room === undefined || !ROOM_NAME_PATTERN.test(values.room) || !key || !(hours > 0)) {
    console.error(USAGE);
    process.exitCode = 1;
    return;
  }
  const ticket = new Tickets(key).issue(values.room, Date.now() + hours * 3_600_000);
  const invite = new URL(values.url);
  invite.searchParams.set('room', values.room);
  invite.searchParams.set('ticket', ticket);
  console.log(invite.toString());
}

main();
