/**
 * A room member's own events (warnings, evictions), bounded: the latest `limit` are kept, and a
 * note identical to the one before it (same kind and message) is counted on that one instead of
 * added, so a peer sending bad frames all day cannot grow the list.
 */
import type { SessionEvent } from '@tabswarm/shared/protocol';

interface Entry {
  kind: SessionEvent['kind'];
  /** The message as given, without the repeat count. */
  message: string;
  count: number;
  time: number;
}

export class NoteLog {
  private readonly entries: Entry[] = [];

  /** @param limit how many notes are kept, the latest ones. @default 200 */
  constructor(readonly limit = 200) {}

  add(kind: SessionEvent['kind'], message: string, time: number): void {
    const last = this.entries.at(-1);
    if (last && last.kind === kind && last.message === message) {
      last.count += 1;
      last.time = time;
      return;
    }
    this.entries.push({ kind, message, count: 1, time });
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
  }

  /** Oldest first; a repeated note carries its count, e.g. `... (x12)`, and the time of its last repeat. */
  list(): SessionEvent[] {
    return this.entries.map((e) => ({ time: e.time, kind: e.kind, message: e.count > 1 ? `${e.message} (x${e.count})` : e.message }));
  }
}
