/**
 * The window in which a server collects the registrations of a room it does not know (it
 * restarted) before deciding it: who waits for an answer, the joins held back until then, and the
 * timer that ends the window. The registrations themselves live in the registry.
 */
import type { RejoinResult } from '@tabswarm/shared/protocol';
import type { Connection } from './connection.ts';

/** A registrant waiting for the decision. */
export interface Registrant {
  conn: Connection;
  token: string;
  answer(result: RejoinResult): void;
}

interface Window {
  timer: ReturnType<typeof setTimeout>;
  registrants: Map<string, Registrant>;
  joins: Array<() => void>;
}

export class RebuildWindows {
  private readonly windows = new Map<string, Window>();

  /** `windowMs`: how long a rebuild waits for the registrations of members it has not heard from. */
  constructor(readonly windowMs: number) {}

  /** The rooms being rebuilt. */
  rooms(): string[] {
    return [...this.windows.keys()];
  }

  has(room: string): boolean {
    return this.windows.has(room);
  }

  /** Opens `room`'s window; `end` runs if it is still open after `windowMs`. */
  open(room: string, end: () => void): void {
    if (this.windows.has(room)) return;
    const timer = setTimeout(end, this.windowMs);
    this.windows.set(room, { timer, registrants: new Map(), joins: [] });
  }

  /** Adds (or replaces: a new connection of the same member) the registrant `peerId`; returns the one it replaced. */
  add(room: string, peerId: string, registrant: Registrant): Registrant | undefined {
    const window = this.windows.get(room);
    if (!window) return undefined;
    const before = window.registrants.get(peerId);
    window.registrants.set(peerId, registrant);
    return before;
  }

  /** Removes the registrant `peerId` if it is `conn`'s; says whether it did. */
  remove(room: string, peerId: string, conn: Connection): boolean {
    const window = this.windows.get(room);
    if (window?.registrants.get(peerId)?.conn !== conn) return false;
    window.registrants.delete(peerId);
    return true;
  }

  /** Holds a join to `room` back until its window closes. */
  hold(room: string, join: () => void): void {
    this.windows.get(room)?.joins.push(join);
  }

  /** Closes `room`'s window: who waits for the decision, and the joins held back. */
  close(room: string): { registrants: Map<string, Registrant>; joins: Array<() => void> } | undefined {
    const window = this.windows.get(room);
    if (!window) return undefined;
    clearTimeout(window.timer);
    this.windows.delete(room);
    return { registrants: window.registrants, joins: window.joins };
  }

  /** Stops every timer (the server closes); nobody is answered. */
  clear(): void {
    for (const window of this.windows.values()) clearTimeout(window.timer);
    this.windows.clear();
  }
}
