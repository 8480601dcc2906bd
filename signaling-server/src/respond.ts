/**
 * Answers one socket event: runs its handler and sends the outcome through the ack if the client
 * sent one; otherwise only failures go back, as `server:error`. Never throws, so no event can
 * take the server down.
 */
import { isSignalingErrorName, type Ack, type AckCallback, type ErrorPayload } from '@tabswarm/shared/protocol';
import type { Connection } from './connection.ts';

export function respond<T>(conn: Connection, event: string, args: unknown[], handler: (payload: unknown) => T): Ack<T> {
  const last = args.at(-1);
  const ack = typeof last === 'function' ? (last as AckCallback<T>) : undefined;
  let result: Ack<T>;
  try {
    // The payload is the first argument, unless that is the ack itself.
    result = { ok: true, data: handler(args.length > 1 || !ack ? args[0] : undefined) };
  } catch (err) {
    result = { ok: false, error: errorPayload(conn, event, err) };
  }
  if (ack) ack(result);
  else if (!result.ok) conn.socket.emit('server:error', result.error);
  return result;
}

/**
 * The wire form of an error: named signaling errors (shared/src/errors.ts) go out as they are;
 * anything else is a bug of ours, logged with its stack and sent as a bare InternalError.
 */
function errorPayload(conn: Connection, event: string, err: unknown): ErrorPayload {
  if (err instanceof Error && isSignalingErrorName(err.name)) {
    conn.server.log.error(`error ${conn.who()} event=${event} ${err.name}: ${err.message}`);
    return { name: err.name, message: err.message };
  }
  conn.server.log.error(`error ${conn.who()} event=${event} InternalError: ${err instanceof Error ? err.stack : String(err)}`);
  return { name: 'InternalError', message: 'internal server error' };
}
