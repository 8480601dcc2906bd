/**
 * The event and byte budget of each client address, shared by all its sockets: ten sockets from
 * one address get what one address gets, not ten times the per-socket budget. An address's
 * buckets live while it has a connection.
 */
import { TokenBucket } from './rate-limit.ts';

export interface Budget {
  burst: number;
  perSecond: number;
}

interface Entry {
  events: TokenBucket;
  bytes: TokenBucket;
  connections: number;
}

export class AddressBudgets {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly events: Budget, private readonly bytes: Budget) {}

  /** A connection from `address` opened; the returned function closes it (once). */
  opened(address: string): () => void {
    const entry = this.entries.get(address) ?? {
      events: new TokenBucket(this.events.burst, this.events.perSecond),
      bytes: new TokenBucket(this.bytes.burst, this.bytes.perSecond),
      connections: 0,
    };
    entry.connections += 1;
    this.entries.set(address, entry);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      entry.connections -= 1;
      if (entry.connections === 0) this.entries.delete(address);
    };
  }

  /** Takes one event of `bytes` from `address`'s budget; says which budget was spent, if one was. */
  take(address: string, bytes: number): 'address_events' | 'address_bytes' | undefined {
    const entry = this.entries.get(address);
    if (!entry) return undefined;
    if (!entry.events.take()) return 'address_events';
    if (!entry.bytes.take(bytes)) return 'address_bytes';
    return undefined;
  }
}
