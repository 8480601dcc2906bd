/**
 * A Collective that times the waits inside the one it wraps, so a step's time splits into
 * compress (the aggregator's own work) and communicate (waiting on the network).
 */
import type { Collective } from '../collective/collective.ts';

export class TimedCollective implements Collective {
  /** Milliseconds spent inside the wrapped collective's operations so far. */
  waitedMs = 0;

  constructor(private readonly inner: Collective) {}

  get size(): number {
    return this.inner.size;
  }

  get rank(): number {
    return this.inner.rank;
  }

  get step(): number {
    return this.inner.step;
  }

  allReduceSum(values: Float32Array, tag: number, options?: { wire?: 'f32' | 'f16' }): Promise<Float32Array> {
    return this.timed(this.inner.allReduceSum(values, tag, options));
  }

  allGather(blob: Uint8Array, tag: number): Promise<Uint8Array[]> {
    return this.timed(this.inner.allGather(blob, tag));
  }

  private async timed<T>(work: Promise<T>): Promise<T> {
    const began = performance.now();
    try {
      return await work;
    } finally {
      this.waitedMs += performance.now() - began;
    }
  }
}
