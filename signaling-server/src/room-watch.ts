/**
 * What the server knows of a room beside its members (room-registry.ts): its observers and
 * whether its run finished. No sockets, no weights.
 *
 * - Observers follow a room without training: they are not members (no epoch, no ring, nobody
 *   blames them), but signals may pass between them and the members, who serve them the state.
 * - A run is finished when more than half of the room (its members and the members who reported)
 *   reported the same last step and weights hash. The record outlives the members, so a tab
 *   opening the room later hears that the run finished (and whether anyone still holds it)
 *   rather than starting a new run under the old name. At most `maxFinished` records are kept,
 *   the oldest forgotten first.
 */
import type { FinishedRun, RunConfig } from '@tabswarm/shared/protocol';

interface Watch {
  /** Observers by peer id, with their client address. */
  observers: Map<string, string>;
  /** Reports of members whose run ended, by peer id. */
  reports: Map<string, FinishedRun>;
  finished: { run: FinishedRun; config: RunConfig } | undefined;
}

export class RoomWatch {
  private readonly rooms = new Map<string, Watch>();

  constructor(private readonly maxFinished = 1000) {}

  observe(room: string, peerId: string, address: string): void {
    this.watch(room).observers.set(peerId, address);
  }

  /** Returns false if `peerId` was not an observer of `room`. */
  unobserve(room: string, peerId: string): boolean {
    const w = this.rooms.get(room);
    const was = w?.observers.delete(peerId) ?? false;
    if (w) this.forgetIfEmpty(room, w);
    return was;
  }

  isObserver(room: string, peerId: string): boolean {
    return this.rooms.get(room)?.observers.has(peerId) ?? false;
  }

  observers(room: string): string[] {
    return [...(this.rooms.get(room)?.observers.keys() ?? [])].sort();
  }

  /** Observers of `room` from `address`. */
  observersFrom(room: string, address: string): number {
    return [...(this.rooms.get(room)?.observers.values() ?? [])].filter((a) => a === address).length;
  }

  finished(room: string): { run: FinishedRun; config: RunConfig } | undefined {
    return this.rooms.get(room)?.finished;
  }

  /**
   * Member `peerId` of `room` (whose members are `members` now, run configuration `config`) says
   * its run ended with `run`. Returns the run if this report made the room finished.
   */
  report(room: string, peerId: string, run: FinishedRun, members: readonly string[], config: RunConfig): FinishedRun | undefined {
    const w = this.watch(room);
    if (w.finished || run.step !== config.steps) return undefined;
    w.reports.set(peerId, run);
    const voters = new Set([...members, ...w.reports.keys()]);
    const agreeing = [...w.reports.values()].filter((r) => r.step === run.step && r.hash === run.hash).length;
    if (2 * agreeing <= voters.size) return undefined;
    w.finished = { run, config };
    w.reports.clear();
    // Re-inserted last: the oldest records go first when there are too many.
    this.rooms.delete(room);
    this.rooms.set(room, w);
    this.trim();
    return run;
  }

  /** The room emptied: a room whose run did not finish is forgotten with its reports. */
  emptied(room: string): void {
    const w = this.rooms.get(room);
    if (!w) return;
    w.reports.clear();
    this.forgetIfEmpty(room, w);
  }

  private watch(room: string): Watch {
    let w = this.rooms.get(room);
    if (!w) {
      w = { observers: new Map(), reports: new Map(), finished: undefined };
      this.rooms.set(room, w);
    }
    return w;
  }

  private forgetIfEmpty(room: string, w: Watch): void {
    if (w.observers.size === 0 && w.reports.size === 0 && !w.finished) this.rooms.delete(room);
  }

  private trim(): void {
    let excess = [...this.rooms.values()].filter((w) => w.finished).length - this.maxFinished;
    for (const [room, w] of this.rooms) {
      if (excess <= 0) return;
      if (w.finished && w.observers.size === 0) {
        this.rooms.delete(room);
        excess--;
      }
    }
  }
}
