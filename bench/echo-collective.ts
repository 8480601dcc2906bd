import type { Collective } from '@tabswarm/shared';

/**
 * What a 4-peer collective hands back, without the network: the sum of `size` copies of the input,
 * `size` copies of the blob. Times its own copying so that the caller can subtract it.
 */
export class EchoCollective implements Collective {
  readonly rank = 0;
  elapsedMs = 0;

  constructor(
    readonly size: number,
    readonly step: number,
  ) {}

  async allReduceSum(values: Float32Array): Promise<Float32Array> {
    const start = performance.now();
    const out = new Float32Array(values.length);
    for (let j = 0; j < values.length; j++) out[j] = values[j]! * this.size;
    this.elapsedMs += performance.now() - start;
    return out;
  }

  async allGather(blob: Uint8Array): Promise<Uint8Array[]> {
    const start = performance.now();
    const out = Array.from({ length: this.size }, () => blob.slice());
    this.elapsedMs += performance.now() - start;
    return out;
  }
}
