/**
 * The ICE servers a member gets in its join (and rejoin) answer: STUN URLs as configured, and a
 * TURN server with credentials of its own, by the TURN REST convention that coturn implements
 * (`use-auth-secret` + `static-auth-secret`): the username is `expiry:peerId` (expiry in Unix
 * seconds), the password the base64 HMAC-SHA1 of the username under the shared secret. coturn
 * recomputes the password from the username and refuses it once the expiry has passed, so the
 * secret stays on the servers and a leaked credential dies by itself.
 */
import { createHmac } from 'node:crypto';
import { ConfigError, type IceServer } from '@tabswarm/shared/protocol';

/** How long TURN credentials stay valid unless configured: a day covers a long run. */
export const DEFAULT_TURN_TTL_SECONDS = 86_400;

export interface TurnOptions {
  /** `turn:` or `turns:` URLs of one TURN server (or several sharing its secret). */
  urls: string[];
  /** coturn's `static-auth-secret`; never sent to a tab. */
  secret: string;
  /** @default DEFAULT_TURN_TTL_SECONDS */
  ttlSeconds?: number;
}

export interface IceOptions {
  /** `stun:` or `stuns:` URLs, handed out as they are. @default [] */
  stun?: string[];
  turn?: TurnOptions;
}

/** The password of a TURN REST username: base64 HMAC-SHA1 of the username under `secret`. */
export function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

/** Credentials for `peerId`, valid for `ttlSeconds` from `nowMs`. */
export function turnCredentials(secret: string, peerId: string, nowMs: number, ttlSeconds: number): { username: string; credential: string } {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiry}:${peerId}`;
  return { username, credential: turnPassword(secret, username) };
}

/** Throws ConfigError for URLs of the wrong scheme, an empty secret, or a TTL that is not a positive integer. */
export function checkIceOptions(options: IceOptions): void {
  for (const url of options.stun ?? []) {
    if (!/^stuns?:\S+$/.test(url)) throw new ConfigError(`a STUN URL starts with stun: or stuns:, got ${JSON.stringify(url)}`);
  }
  const turn = options.turn;
  if (!turn) return;
  if (turn.urls.length === 0) throw new ConfigError('a TURN server needs at least one URL');
  for (const url of turn.urls) {
    if (!/^turns?:\S+$/.test(url)) throw new ConfigError(`a TURN URL starts with turn: or turns:, got ${JSON.stringify(url)}`);
  }
  if (turn.secret === '') throw new ConfigError('the TURN secret is empty');
  const ttl = turn.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1) throw new ConfigError(`the TURN credential lifetime must be a positive integer of seconds, got ${ttl}`);
}

/** The ICE servers of `peerId` at `nowMs`: fresh TURN credentials each time. */
export function iceServersFor(options: IceOptions, peerId: string, nowMs: number): IceServer[] {
  const servers: IceServer[] = [];
  if (options.stun && options.stun.length > 0) servers.push({ urls: [...options.stun] });
  const turn = options.turn;
  if (turn) servers.push({ urls: [...turn.urls], ...turnCredentials(turn.secret, peerId, nowMs, turn.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS) });
  return servers;
}
