/**
 * The collective operations a training step uses, bound to one membership epoch and one step.
 * Every peer of the epoch calls the same operations in the same order with the same tags.
 *
 * Contract:
 * - `allReduceSum` returns the element-wise sum over all peers, with identical bits on every peer.
 * - `allGather` returns every peer's blob, indexed by rank (own blob included).
 * - Every operation ends by the collective's deadline or when its AbortSignal fires; it then
 *   rejects with TimeoutError / AbortedError / PeerLeftError and nothing was committed.
 */
export interface Collective {
  /** Number of peers taking part. */
  readonly size: number;
  /** This peer's position among them (peers are ordered by id). */
  readonly rank: number;
  /** Step this collective belongs to. */
  readonly step: number;
  /**
   * Element-wise sum over peers. `wire: 'f16'` sends half floats on each hop (sums stay f32 in
   * between), for the fp16 codec. `tag` tells apart the collectives of one step (phases, layer groups).
   */
  allReduceSum(values: Float32Array, tag: number, options?: { wire?: 'f32' | 'f16' }): Promise<Float32Array>;
  /** Every peer's blob, indexed by rank. */
  allGather(blob: Uint8Array, tag: number): Promise<Uint8Array[]>;
}
