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

/** Errors after which a collective step may simply be redone with the next membership. */
export function isRecoverable(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'PeerLeftError' || name === 'AbortedError' || name === 'DivergenceError';
}

/** The peer to blame for a failed step, if the error names one. */
export function suspectOf(err: unknown): string | undefined {
  const e = err as { name?: unknown; suspect?: unknown; peerId?: unknown } | null;
  if (e?.name === 'TimeoutError' && typeof e.suspect === 'string') return e.suspect;
  if (e?.name === 'PeerLeftError' && typeof e.peerId === 'string' && e.peerId !== '') return e.peerId;
  return undefined;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
