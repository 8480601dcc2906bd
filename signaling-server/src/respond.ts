/**
 * Answers one socket event: runs its handler and sends the outcome through the ack if the client
 * sent one; otherwise only failures go back, as `server:error`. Never throws, so no event can
 * take the server down.
 */
import { isSignalingErrorName, type Ack, type AckCallback, type ErrorPayload } from '@tabswarm/shared/protocol';
import type { Connection } from './connection.ts';

/** Longest error message sent or logged: a named error quotes values short already; this is the backstop. */
const MAX_MESSAGE = 300;

export function respond<T>(conn: Connection, event: string, args: unknown[], handler: (payload: unknown) => T): Ack<T> {
  const { payload, ack } = split<T>(args);
  let result: Ack<T>;
  try {
    result = { ok: true, data: handler(payload) };
  } catch (err) {
    result = { ok: false, error: errorPayload(conn, event, err) };
  }
  if (ack) ack(result);
  else if (!result.ok) conn.socket.emit('server:error', result.error);
  return result;
}

/**
 * The same for a handler that answers later (`answer`, at most once): what it throws at once is
 * answered at once. Without an ack, a success goes nowhere.
 */
export function respondLater<T>(conn: Connection, event: string, args: unknown[], handler: (payload: unknown, answer: (data: T) => void) => void): void {
  const { payload, ack } = split<T>(args);
  let answered = false;
  try {
    handler(payload, (data) => {
      if (answered) return;
      answered = true;
      ack?.({ ok: true, data });
    });
  } catch (err) {
    if (answered) return;
    answered = true;
    const error = errorPayload(conn, event, err);
    if (ack) ack({ ok: false, error });
    else conn.socket.emit('server:error', error);
  }
}

/** The payload is the first argument, unless that is the ack itself. */
function split<T>(args: unknown[]): { payload: unknown; ack: AckCallback<T> | undefined } {
  const last = args.at(-1);
  const ack = typeof last === 'function' ? (last as AckCallback<T>) : undefined;
  return { payload: args.length > 1 || !ack ? args[0] : undefined, ack };
}

/**
 * The wire form of an error: named signaling errors (shared/src/errors.ts) go out as they are;
 * anything else is a bug of ours, logged with its stack and sent as a bare InternalError.
 */
function errorPayload(conn: Connection, event: string, err: unknown): ErrorPayload {
  const { log, metrics } = conn.server;
  if (err instanceof Error && isSignalingErrorName(err.name)) {
    metrics.reject(err.name);
    // Messages quote at most ~64 characters of a value; the cut bounds the rest.
    const message = err.message.slice(0, MAX_MESSAGE);
    if (conn.mayLog()) log.error(`error ${conn.who()} event=${event} ${err.name}: ${message}`, { event, error: err.name, address: conn.address });
    return { name: err.name, message };
  }
  metrics.reject('InternalError');
  if (conn.mayLog()) log.error(`error ${conn.who()} event=${event} InternalError: ${err instanceof Error ? err.stack : String(err)}`, { event, error: 'InternalError' });
  return { name: 'InternalError', message: 'internal server error' };
}
