/**
 * A hostile signaling client for the e2e tests: a socket.io client that joins a room as a member
 * and never opens a data channel, blames an honest member in a resync for every epoch it sees,
 * floods the members with junk signals and its own resyncs, and joins again as soon as the server
 * lets it after each eviction. `counts` says what it did and what the server refused.
 */
import { io, type Socket } from 'socket.io-client';

export interface HostileSocketCounts {
  joins: number;
  joinsRefused: number;
  resyncs: number;
  resyncsRefused: number;
  signals: number;
  signalsRefused: number;
  evictions: number;
}

type Ack = { ok: true; data: unknown } | { ok: false; error: { name: string; message: string } };

export class HostileSocket {
  readonly counts: HostileSocketCounts = { joins: 0, joinsRefused: 0, resyncs: 0, resyncsRefused: 0, signals: 0, signalsRefused: 0, evictions: 0 };
  private readonly socket: Socket;
  private peerId: string | undefined;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(url: string, private readonly room: string) {
    this.socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket.on('room:members', (e: { epoch: number; members: string[] }) => void this.attack(e));
    this.socket.on('room:evicted', () => {
      this.counts.evictions++;
      this.peerId = undefined;
      this.scheduleJoin(1000);
    });
    this.scheduleJoin(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket.close();
  }

  private scheduleJoin(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.join(), ms);
  }

  /** Joins, and tries again every second while the server refuses it. */
  private async join(): Promise<void> {
    const answer = await this.ask('room:join', { room: this.room });
    if (answer?.ok) {
      this.counts.joins++;
      this.peerId = (answer.data as { peerId: string }).peerId;
    } else {
      this.counts.joinsRefused++;
      this.scheduleJoin(1000);
    }
  }

  /** A new epoch: blame an honest member, ask for more epochs, and send junk to everyone. */
  private async attack(e: { epoch: number; members: string[] }): Promise<void> {
    const self = this.peerId;
    if (self === undefined || this.stopped) return;
    const honest = e.members.filter((id) => id !== self);
    if (honest.length === 0) return;
    const victim = honest[e.epoch % honest.length]!;
    for (let i = 0; i < 3; i++) {
      const answer = await this.ask('room:resync', { epoch: e.epoch + i, suspect: victim });
      if (answer?.ok) this.counts.resyncs++;
      else this.counts.resyncsRefused++;
    }
    for (const to of honest) {
      const answer = await this.ask('signal:relay', { to, data: { type: 'offer', sdp: 'v=0 not a session description' } });
      if (answer?.ok) this.counts.signals++;
      else this.counts.signalsRefused++;
    }
  }

  /** An event with its ack, or undefined if none came within 5 s (or the socket is gone). */
  private ask(event: string, payload: unknown): Promise<Ack | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    return new Promise((done) => {
      this.socket.timeout(5000).emit(event, payload, (err: unknown, answer: Ack) => done(err ? undefined : answer));
    });
  }
}
