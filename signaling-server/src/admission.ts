/**
 * Who may open a socket.io connection at all (engine.io's `allowRequest`, before any state is
 * held): a browser page of an allowed Origin (by default only the page this server serves), and
 * within the caps on connections, in total and per client address. Requests without an Origin
 * header come from programs (Node workers), which could send any header they like anyway: the
 * Origin check keeps other web sites' pages out, the caps everyone.
 */
import type { IncomingMessage } from 'node:http';
import { AddressCounts } from './address-counts.ts';
import { clientAddress } from './client-address.ts';

export interface AdmissionOptions {
  /** Origins (`https://example.org`) whose pages may connect; empty: the server's own origin only. */
  allowedOrigins: readonly string[];
  maxConnections: number;
  maxConnectionsPerAddress: number;
  trustProxy: boolean;
}

export class Admission {
  private total = 0;
  private readonly perAddress = new AddressCounts();
  private readonly origins: Set<string>;

  constructor(private readonly options: AdmissionOptions, private readonly refused: (reason: string, address: string) => void) {
    this.origins = new Set(options.allowedOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  }

  /** engine.io's allowRequest: refuses a handshake with a reason, holds nothing. */
  readonly allowRequest = (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const address = clientAddress(req, this.options.trustProxy);
    const reason = this.refusal(req, address);
    if (reason !== undefined) this.refused(reason, address);
    callback(reason ?? null, reason === undefined);
  };

  /** A connection from `address` opened; the returned function closes it (once). */
  opened(address: string): () => void {
    this.total += 1;
    this.perAddress.add(address);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.total -= 1;
      this.perAddress.remove(address);
    };
  }

  private refusal(req: IncomingMessage, address: string): string | undefined {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, req.headers.host)) return 'origin';
    if (this.total >= this.options.maxConnections) return 'connections';
    if (this.perAddress.get(address) >= this.options.maxConnectionsPerAddress) return 'connections_per_address';
    return undefined;
  }

  private originAllowed(origin: string, host: string | undefined): boolean {
    const normalized = origin.toLowerCase();
    if (this.origins.size > 0) return this.origins.has(normalized);
    try {
      // Same origin: the page this server (or its proxy, passing Host on) served.
      return host !== undefined && new URL(normalized).host === host.toLowerCase();
    } catch {
      return false; // "null" and other non-URLs
    }
  }
}
