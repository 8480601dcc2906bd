/**
 * A clock that moves only when a test says so (for ShapedTransport and anything else that takes a
 * `Clock`): `sleep` waits for `advance` to reach its time, so tests assert exact times, never
 * wall-clock ones. Between wake-ups it lets the woken code run to its next wait (a setImmediate
 * turn: every promise continuation queued by then has run).
 */
import type { Clock } from '../transport/shaped-transport.ts';

interface Sleeper {
  at: number;
  wake(): void;
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class ManualClock implements Clock {
  private time = 0;
  /** Sorted by time, then by order of arrival. */
  private readonly sleepers: Sleeper[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      const at = this.time + Math.max(0, ms);
      let i = this.sleepers.length;
      while (i > 0 && this.sleepers[i - 1]!.at > at) i--;
      this.sleepers.splice(i, 0, { at, wake });
    });
  }

  /** Sleepers not woken yet. */
  get pending(): number {
    return this.sleepers.length;
  }

  /** Moves time `ms` forward, waking every sleeper due on the way, in time order, at its own time. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (let next = this.sleepers[0]; next && next.at <= target; next = this.sleepers[0]) {
      this.sleepers.shift();
      this.time = Math.max(this.time, next.at);
      next.wake();
      await settle();
    }
    this.time = target;
    await settle();
  }
}
