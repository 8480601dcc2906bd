/**
 * The organiser's token: it opens the organiser page and its API (HTTP Basic authentication, any
 * user name, the token as password, so a browser asks once and sends it with every request).
 * Compared in constant time over digests of equal length, so neither the bytes nor the length
 * leak through timing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '@tabswarm/shared/protocol';

/** Shortest token accepted from `--admin-token` or TABSWARM_ADMIN_TOKEN: guessing must not pay. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** A fresh token: 16 random bytes as hex. */
export function randomAdminToken(): string {
  return randomBytes(16).toString('hex');
}

/** A token given by flag or environment: ConfigError if it is too short to keep anyone out. */
export function checkAdminToken(token: string): string {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) throw new ConfigError(`the admin token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  return token;
}

export class AdminToken {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = digestOf(checkAdminToken(token));
  }

  /** `presented` is the token. */
  matches(presented: string): boolean {
    return timingSafeEqual(digestOf(presented), this.digest);
  }

  /** The request carries the token as its Basic authentication password. */
  allows(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Basic ([A-Za-z0-9+/=]{1,1024})$/.exec(header);
    if (!match) return false;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && this.matches(decoded.slice(colon + 1));
  }
}

function digestOf(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
