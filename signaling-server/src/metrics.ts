/**
 * The server's Prometheus metrics (prom-client), on its own registry so that several servers in
 * one process (tests) keep theirs apart: rooms and members (read when scraped), epochs started,
 * resyncs, evictions, events and connections refused by reason, relayed bytes, connections.
 */
import { Counter, Gauge, Registry } from 'prom-client';

/** Why something a client sent was refused: an error name (`ValidationError`, ...) or a limit. */
export type RejectReason = string;

export class ServerMetrics {
  readonly registry = new Registry();
  readonly epochs: Counter;
  readonly resyncs: Counter;
  readonly evictions: Counter;
  readonly rejected: Counter<'reason'>;
  readonly relayedBytes: Counter;
  readonly connections: Gauge;

  constructor(read: { rooms(): number; members(): number }) {
    const registers = [this.registry];
    new Gauge({ name: 'tabswarm_rooms', help: 'Rooms open (rebuilding ones included).', registers, collect() { this.set(read.rooms()); } });
    new Gauge({ name: 'tabswarm_members', help: 'Members of all rooms.', registers, collect() { this.set(read.members()); } });
    new Gauge({ name: 'tabswarm_heap_bytes', help: 'V8 heap in use.', registers, collect() { this.set(process.memoryUsage().heapUsed); } });
    this.connections = new Gauge({ name: 'tabswarm_connections', help: 'Open socket.io connections.', registers });
    this.epochs = new Counter({ name: 'tabswarm_epochs_total', help: 'Membership epochs announced.', registers });
    this.resyncs = new Counter({ name: 'tabswarm_resyncs_total', help: 'Resync requests counted (one per member per failed epoch).', registers });
    this.evictions = new Counter({ name: 'tabswarm_evictions_total', help: 'Members evicted by their room.', registers });
    this.rejected = new Counter({ name: 'tabswarm_rejected_total', help: 'Events, connections and packets refused, by reason.', labelNames: ['reason'], registers });
    this.relayedBytes = new Counter({ name: 'tabswarm_relayed_bytes_total', help: 'Bytes of WebRTC signals relayed.', registers });
  }

  reject(reason: RejectReason): void {
    this.rejected.inc({ reason });
  }
}
