/**
 * Named errors of tabswarm. Match them by `.name` (they cross realms and workers), never by message.
 */
export class TabswarmError extends Error {
  override name = 'TabswarmError';
}

/** A wire frame or message that does not decode: wrong magic/version/kind, truncated, bad checksum. */
export class WireFormatError extends TabswarmError {
  override name = 'WireFormatError';
}

/** A wait ran past its deadline. `suspect` names the peer most likely at fault, where known. */
export class TimeoutError extends TabswarmError {
  override name = 'TimeoutError';
  constructor(message: string, readonly suspect?: string) {
    super(message);
  }
}

/** A peer we needed left the room or closed its channel. */
export class PeerLeftError extends TabswarmError {
  override name = 'PeerLeftError';
  constructor(readonly peerId: string, message = `peer ${peerId} left`) {
    super(message);
  }
}

/** The operation was cancelled, e.g. because the room's membership epoch changed. */
export class AbortedError extends TabswarmError {
  override name = 'AbortedError';
}

/** An object used after its dispose() (an aggregator, for instance). */
export class DisposedError extends TabswarmError {
  override name = 'DisposedError';
}

/** A run configuration or URL/CLI parameter that is not valid. */
export class ConfigError extends TabswarmError {
  override name = 'ConfigError';
}

/** Replicas hold different weights at the same step (found by the periodic hash check). */
export class DivergenceError extends TabswarmError {
  override name = 'DivergenceError';
}

/** A gradient or update holding NaN or Infinity: never sent, never applied. */
export class NonFiniteError extends TabswarmError {
  override name = 'NonFiniteError';
}

/** Training data that could not be fetched, or an example used that this worker does not hold. */
export class DataError extends TabswarmError {
  override name = 'DataError';
}

/*
 * Errors of the signaling protocol. The server sends them as `{ name, message }` (an ack's error or
 * `server:error`); `errorFromPayload` in protocol/signaling.ts turns them back into these classes.
 */

/** A signaling payload of the wrong shape, type or size. */
export class ValidationError extends TabswarmError {
  override name = 'ValidationError';
}

/** An event that needs a room (`signal:relay`, `room:report`, `room:resync`) sent before joining one. */
export class NotInRoomError extends TabswarmError {
  override name = 'NotInRoomError';
}

/** A signal addressed to a peer id that is not a member of the sender's room. */
export class PeerNotFoundError extends TabswarmError {
  override name = 'PeerNotFoundError';
}

/** A rejoin claims a peer id that another connection holds, or presents the wrong token for it. */
export class PeerIdTakenError extends TabswarmError {
  override name = 'PeerIdTakenError';
}

/** The room holds the server's maximum number of members already. */
export class RoomFullError extends TabswarmError {
  override name = 'RoomFullError';
}

/** The server holds its maximum number of rooms already, so no new room can open. */
export class TooManyRoomsError extends TabswarmError {
  override name = 'TooManyRoomsError';
}

/** The server drops this connection's events: it sent more than its budget. */
export class RateLimitError extends TabswarmError {
  override name = 'RateLimitError';
}

/** A bug in the server; its message says nothing more, on purpose. */
export class InternalError extends TabswarmError {
  override name = 'InternalError';
}

/**
 * A signaling error whose name this side does not know (e.g. from a newer server). The name is
 * kept as `remoteName` and leads the message.
 */
export class SignalingError extends TabswarmError {
  override name = 'SignalingError';
  constructor(readonly remoteName: string, message: string) {
    super(`${remoteName}: ${message}`);
  }
}

/** Errors after which a collective step may simply be redone with the next membership. */
export function isRecoverable(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'PeerLeftError' || name === 'AbortedError' || name === 'DivergenceError';
}

/** The peer to blame for a failed step, if the error names one. */
export function suspectOf(err: unknown): string | undefined {
  const e = err as { name?: unknown; suspect?: unknown; peerId?: unknown } | null;
  if (e?.name === 'TimeoutError' && typeof e.suspect === 'string') return e.suspect;
  if (e?.name === 'PeerLeftError' && typeof e.peerId === 'string') return e.peerId;
  return undefined;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
