/**
 * The two faces of gradient compression:
 * - a Codec compresses one layer's vector into one message and back; it is stateless, and its
 *   randomness comes only from the context, so every peer derives the same shared matrices;
 * - a GradientAggregator is what the training loop calls once per step: it owns the state
 *   (error feedback, shifts, warm starts) and talks to the collective.
 */
import type { Collective } from '../collective/collective.ts';

/** One layer's gradient shape, as the model reports it. */
export interface LayerShape {
  name: string;
  shape: number[];
}

/** Inputs of the shared randomness of one layer's message. */
export interface CodecContext {
  /** Run seed. */
  seed: number;
  /** Training step (the collective's step, so a redone step draws the same randomness). */
  step: number;
  /** Position of the layer in the model's layer list. */
  layerIndex: number;
  /**
   * Rank of the peer that compresses (or, in `decompress`, sent) the message. Only per-peer
   * randomness (QSGD's stochastic rounding) uses it; shared matrices must not.
   */
  peer: number;
}

interface CodecBase {
  /** Stable id written into the wire header (uint8). Never renumber. */
  readonly id: number;
  readonly name: string;
  /** `E[D(C(x))] = x` over the shared randomness. */
  readonly unbiased: boolean;
  /** Exact bytes of one peer's message for this layer. */
  messageBytes(layer: LayerShape): number;
  /** delta of `|D(C(x)) - x|^2 <= (1 - delta)|x|^2`, for codecs that have one (see each codec for "in expectation"). */
  contraction?(layer: LayerShape): number;
  /** omega of `E|D(C(x)) - x|^2 <= omega |x|^2`, for unbiased codecs (DIANA's step size needs it). */
  omega?(layer: LayerShape): number;
}

/**
 * A codec with parameters shared by all peers and `sum_i C(x_i) = C(sum_i x_i)`: its messages ride
 * a sum all-reduce, and `decompress` of the averaged message is the average of the decompressions.
 */
export interface LinearCodec extends CodecBase {
  readonly linear: true;
  /** How each value crosses the wire: 'f16' asks the collective for half floats per hop. */
  readonly wire: 'f32' | 'f16';
  compress(x: Float32Array, layer: LayerShape, ctx: CodecContext): Float32Array;
  decompress(y: Float32Array, layer: LayerShape, ctx: CodecContext): Float32Array;
}

/** A codec whose messages cannot be summed on the way (per-peer indices or scales): they are all-gathered. */
export interface GatherCodec extends CodecBase {
  readonly linear: false;
  compress(x: Float32Array, layer: LayerShape, ctx: CodecContext): Uint8Array;
  /** Throws WireFormatError on a message that does not decode for this layer. */
  decompress(message: Uint8Array, layer: LayerShape, ctx: CodecContext): Float32Array;
  /**
   * Optional: adds decompress(message) to `sum` entry by entry, with exactly the bits of adding
   * decompress's output, but without that dense array (the all-gather decodes N messages a step).
   * Throws what decompress throws; `sum` is then partly updated, and the caller discards it.
   */
  decompressAdd?(message: Uint8Array, layer: LayerShape, ctx: CodecContext, sum: Float64Array): void;
  /**
   * Optional: the mean of all peers' messages for this layer (`messages` and `ctxs` in rank order),
   * with exactly the bits of decompressAdd-ing them in that order onto f64 zeros and dividing by
   * their count into f32, but without the layer-sized f64 sums. Throws what decompress throws.
   */
  decompressMean?(messages: Uint8Array[], layer: LayerShape, ctxs: CodecContext[]): Float32Array;
}

export type Codec = LinearCodec | GatherCodec;

/** Payload bytes one peer hands to the collective in one step, by operation. */
export interface CollectiveBytes {
  /** Sum over allReduceSum calls of the values passed (4 bytes per value, 2 on an f16 wire). */
  allReduce: number;
  /** Sum over allGather calls of the blob lengths. */
  allGather: number;
}

export interface GradientAggregator {
  readonly name: string;
  /** Id of the codec (see CODEC_IDS), for the wire header. */
  readonly codecId: number;
  /**
   * Averages the peers' gradients (one Float32Array per layer) through the collective and returns
   * the update every replica applies (identical bits on every peer). Internal state changes only if
   * it resolves; if any collective rejects, state is exactly as before (the step will be redone).
   * Rejects with NonFiniteError, before any collective, if a gradient holds NaN or Infinity; and,
   * committing nothing, if the step's shared values (sums, update, shared state) would: those have
   * identical bits everywhere, so every peer refuses the same step (see compress/finite.ts).
   * Calls must not overlap.
   */
  aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]>;
  /**
   * Re-establishes the state the members share from scratch, identically on every member, without
   * communicating: called by every member after every sync (a membership change, a state
   * transfer), when a shared mean of the members' local estimates (EF21's g, DIANA's h) may no
   * longer be the mean over the members now present. A no-op where no shared state depends on who
   * the members are.
   */
  restart(): void;
  /**
   * Bytes one peer sends in one steady (non-refresh) step with `peers` peers: a ring all-reduce
   * sends 2(N-1)/N of its input (mean over peers; the ring's total is exactly 2(N-1) inputs), an
   * all-gather (N-1) times the own blob. Frame headers not included.
   */
  bytesPerStep(peers: number): number;
  /** What the next `aggregate` at `step` hands to the collective (refresh and init steps included). */
  messageBytes(step: number): CollectiveBytes;
  /**
   * Shared (identical-on-every-peer) state, e.g. PowerSGD's warm-start Q, GreedyLore's basis U,
   * DIANA's mean shift h, EF21's mean g: a late joiner imports it from a current member. Local
   * state (e_i, h_i) is not shared.
   */
  exportSharedState(): Uint8Array;
  /** Throws WireFormatError if the bytes were not exported by an aggregator of the same kind and layers. */
  importSharedState(bytes: Uint8Array): void;
  /** Idempotent; `aggregate` afterwards throws. */
  dispose(): void;
}
