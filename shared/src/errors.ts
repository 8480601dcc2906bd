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

/**
 * Bytes from a peer that this peer refuses: a malformed frame, Hello, snapshot or segment (a
 * chunk of the wrong length, NaN, an infinity no honest sum makes, a value over the caller's
 * bound), or a peer over its buffer limits. `suspect` is that peer: the step fails and the peer is blamed, as
 * for a missed deadline, and the session goes on (with the next epoch).
 */
export class PeerInputError extends TabswarmError {
  override name = 'PeerInputError';
  constructor(message: string, readonly suspect: string) {
    super(message);
  }
}

/** A peer's frame over its own byte or message limit in the messenger: refused (and blamed). */
export class PeerLimitError extends TabswarmError {
  override name = 'PeerLimitError';
}

/** A frame of an epoch or step too far ahead to keep: dropped, nobody blamed (an honest race can do it). */
export class OutOfWindowError extends TabswarmError {
  override name = 'OutOfWindowError';
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

/**
 * The operation was cancelled, e.g. because the room's membership epoch changed. `waitingFor`
 * names the peer it still waited on, where known: not blamed for that alone (the cut may simply
 * have come first); the caller judges whether it waited long enough to blame it.
 */
export class AbortedError extends TabswarmError {
  override name = 'AbortedError';
  constructor(message?: string, readonly waitingFor?: string) {
    super(message);
  }
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

/**
 * The room does not exist: this server opens no rooms on request (`--open-rooms false`: only the
 * rooms its organiser made can be joined), or an observer asked about a room with neither members
 * nor a finished run.
 */
export class UnknownRoomError extends TabswarmError {
  override name = 'UnknownRoomError';
}

/** The server drops this connection's events: it sent more than its budget. */
export class RateLimitError extends TabswarmError {
  override name = 'RateLimitError';
}

/** A closed room (the server requires join tickets) refused a join without a valid ticket for it. */
export class TicketError extends TabswarmError {
  override name = 'TicketError';
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

/**
 * Errors after which a collective step may simply be redone with the next membership. A peer's
 * bad input (PeerInputError) fails the step on every member alike, so it is one of them.
 */
export function isRecoverable(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'PeerLeftError' || name === 'AbortedError' || name === 'DivergenceError' || name === 'PeerInputError';
}

/** The peer to blame for a failed step, if the error names one. */
export function suspectOf(err: unknown): string | undefined {
  const e = err as { name?: unknown; suspect?: unknown; peerId?: unknown } | null;
  if ((e?.name === 'TimeoutError' || e?.name === 'PeerInputError') && typeof e.suspect === 'string') return e.suspect;
  if (e?.name === 'PeerLeftError' && typeof e.peerId === 'string') return e.peerId;
  return undefined;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Why a model file (model.json and its weights) is refused; `reason` says which check it failed. */
export const MODEL_FILE_REASONS = ['malformed', 'unknown-layer', 'non-trainable', 'inputs-outputs', 'weights', 'too-large', 'unbuildable'] as const;
export type ModelFileReason = (typeof MODEL_FILE_REASONS)[number];

/**
 * A model file refused before any tab trains it: by the server at upload or start, or by a tab
 * that cannot build it. Its message leads with the reason, so it survives the trip as `{ name, message }`.
 */
export class ModelFileError extends TabswarmError {
  override name = 'ModelFileError';
  readonly reason: ModelFileReason;
  constructor(message: string, reason?: ModelFileReason) {
    super(reason === undefined ? message : `${reason}: ${message}`);
    // Rebuilt from the wire (errorFromPayload), the reason is read back from the message.
    this.reason = reason ?? MODEL_FILE_REASONS.find((r) => message.startsWith(`${r}: `)) ?? 'malformed';
  }
}

/**
 * The model cannot be exported: the trained weights do not fit it (count or size of an array), or
 * it has no tfjs-layers topology (a task's own TrainableModel that is no LayersModel).
 */
export class ModelExportError extends TabswarmError {
  override name = 'ModelExportError';
}

/**
 * The room's run finished and nobody in it holds the model any more: every member left before
 * this tab could fetch it. The message gives the run's final step, weights hash and accuracy.
 */
export class ModelUnavailableError extends TabswarmError {
  override name = 'ModelUnavailableError';
}
