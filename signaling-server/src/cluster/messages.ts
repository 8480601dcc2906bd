/**
 * What server processes say to each other, through socket.io's `serverSideEmit` (Redis pub/sub in
 * the streams adapter). Every process hears every message and takes those addressed `to` it.
 */
import type { Server } from 'socket.io';
import type { Ack } from '@tabswarm/shared/protocol';

/** An event a tab sent to the process it is connected to, for the process that owns its room. */
export interface Forward {
  to: string;
  from: string;
  /** The tab's socket id (where the owner's answers go) and client address (for the caps). */
  socket: string;
  address: string;
  room: string;
  /** A socket event (`room:join`, ...) or `disconnect` (args: the reason). */
  event: string;
  /** The event's arguments, without the ack. */
  args: unknown[];
  /** Set when the tab asked for an ack: the owner answers with a Reply of this number. */
  call?: number;
}

/** The owner's answer to a forwarded event that asked for an ack. */
export interface Reply {
  to: string;
  call: number;
  result: Ack<unknown>;
}

export const FORWARD = 'tabswarm:forward';
export const REPLY = 'tabswarm:reply';

export interface ClusterEvents {
  [FORWARD]: (message: Forward) => void;
  [REPLY]: (message: Reply) => void;
}

/** The server as the cluster uses it: any event name to sockets, the messages above between processes. */
export type ClusterServer = Server<Record<string, never>, Record<string, (...args: unknown[]) => void>, ClusterEvents>;

/** Runs tasks one after another per key (one tab's events keep their order across awaits). */
export class SerialQueues {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly onError: (err: unknown) => void) {}

  run(key: string, task: () => Promise<void> | void): void {
    const tail = (this.tails.get(key) ?? Promise.resolve()).then(task).catch(this.onError);
    this.tails.set(key, tail);
    void tail.finally(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
  }
}
