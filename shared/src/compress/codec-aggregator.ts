/**
 * What the error-control aggregators around a Codec (plain, EF14, EF21, DIANA) share: one exchange
 * per step that packs every layer's message into one collective call (one allReduceSum for linear
 * codecs, one allGather otherwise), and the shared-state plumbing.
 */
import type { Collective } from '../collective/collective.ts';
import { DisposedError, WireFormatError } from '../errors.ts';
import { checkGrads, checkLayers, concat, divide, layerSize, sentBytes, split, TAG_MAIN } from './layers.ts';
import { decodeSharedState, encodeSharedState, type StateKind } from './shared-state.ts';
import type { Codec, CodecContext, CollectiveBytes, GradientAggregator, LayerShape } from './types.ts';

export interface Exchanged {
  /** Per layer, the average over peers of the decompressed messages (identical on every peer). */
  mean: Float32Array[];
  /** Per layer, this peer's own decompressed message D(C(x_i)); empty unless asked for. */
  own: Float32Array[];
}

export async function exchange(
  codec: Codec,
  layers: LayerShape[],
  inputs: Float32Array[],
  collective: Collective,
  seed: number,
  withOwn: boolean,
): Promise<Exchanged> {
  const ctx = (layerIndex: number, peer = collective.rank): CodecContext => ({ seed, step: collective.step, layerIndex, peer });
  const peers = collective.size;
  if (codec.linear) {
    const messages = inputs.map((x, l) => codec.compress(x, layers[l]!, ctx(l)));
    const own = withOwn ? messages.map((y, l) => codec.decompress(y, layers[l]!, ctx(l))) : [];
    const sum = await collective.allReduceSum(concat(messages), TAG_MAIN, { wire: codec.wire });
    const averaged = split(divide(sum, peers), messages.map((y) => y.length));
    return { mean: averaged.map((y, l) => codec.decompress(y, layers[l]!, ctx(l))), own };
  }
  const messages = inputs.map((x, l) => codec.compress(x, layers[l]!, ctx(l)));
  const own = withOwn ? messages.map((c, l) => codec.decompress(c, layers[l]!, ctx(l))) : [];
  const blob = new Uint8Array(messages.reduce((s, c) => s + c.length, 0));
  let offset = 0;
  for (const c of messages) {
    blob.set(c, offset);
    offset += c.length;
  }
  const blobs = await collective.allGather(blob, TAG_MAIN);
  if (blobs.length !== peers) throw new WireFormatError(`all-gather returned ${blobs.length} blobs for ${peers} peers`);
  blobs.forEach((theirs, peer) => {
    if (theirs.length !== blob.length) throw new WireFormatError(`peer ${peer} sent ${theirs.length} bytes, expected ${blob.length}`);
  });
  // Decoded in rank order with f64 sums: every peer computes the same average.
  const { decompressMean } = codec;
  if (decompressMean) {
    let at = 0;
    const mean = layers.map((layer, l) => {
      const size = codec.messageBytes(layer);
      const slices = blobs.map((theirs) => theirs.subarray(at, at + size));
      at += size;
      return decompressMean.call(codec, slices, layer, slices.map((_, peer) => ctx(l, peer)));
    });
    return { mean, own };
  }
  const sums = layers.map((layer) => new Float64Array(layerSize(layer)));
  for (let peer = 0; peer < blobs.length; peer++) {
    const theirs = blobs[peer]!;
    let at = 0;
    for (let l = 0; l < layers.length; l++) {
      const layer = layers[l]!;
      const size = codec.messageBytes(layer);
      const slice = theirs.subarray(at, at + size);
      at += size;
      if (codec.decompressAdd) codec.decompressAdd(slice, layer, ctx(l, peer), sums[l]!);
      else addInto(sums[l]!, codec.decompress(slice, layer, ctx(l, peer)));
    }
  }
  return { mean: sums.map((sum) => divide(sum, peers)), own };
}

function addInto(sum: Float64Array, decoded: Float32Array): void {
  for (let j = 0; j < decoded.length; j++) sum[j]! += decoded[j]!;
}

/** Payload a codec's exchange hands to the collective for these layers. */
export function codecMessageBytes(codec: Codec, layers: LayerShape[]): CollectiveBytes {
  const bytes = layers.reduce((s, layer) => s + codec.messageBytes(layer), 0);
  return codec.linear ? { allReduce: bytes, allGather: 0 } : { allReduce: 0, allGather: bytes };
}

export abstract class CodecAggregator implements GradientAggregator {
  readonly codecId: number;
  private disposed = false;

  constructor(
    readonly name: string,
    protected readonly codec: Codec,
    protected readonly layers: LayerShape[],
    protected readonly seed: number,
    private readonly kind: StateKind,
  ) {
    checkLayers(layers);
    this.codecId = codec.id;
  }

  abstract aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]>;

  messageBytes(_step: number): CollectiveBytes {
    return codecMessageBytes(this.codec, this.layers);
  }

  bytesPerStep(peers: number): number {
    return sentBytes(codecMessageBytes(this.codec, this.layers), peers);
  }

  exportSharedState(): Uint8Array {
    return encodeSharedState({ codecId: this.codecId, kind: this.kind, initialised: this.initialised(), arrays: this.sharedArrays() });
  }

  importSharedState(bytes: Uint8Array): void {
    const lengths = this.sharedArrays().map((a) => a.length);
    const state = decodeSharedState(bytes, this.codecId, this.kind, lengths);
    this.adoptSharedState(state.arrays, state.initialised);
  }

  /** Plain and EF14 share nothing that depends on the members. */
  restart(): void {}

  dispose(): void {
    this.disposed = true;
  }

  /** Checks the call before anything is computed or sent. */
  protected begin(grads: Float32Array[]): void {
    if (this.disposed) throw new DisposedError(`${this.name} aggregator is disposed`);
    checkGrads(grads, this.layers);
  }

  protected exchange(inputs: Float32Array[], collective: Collective, withOwn: boolean): Promise<Exchanged> {
    return exchange(this.codec, this.layers, inputs, collective, this.seed, withOwn);
  }

  protected initialised(): boolean {
    return true;
  }

  /** The shared arrays, in a fixed order (their lengths define the state format). */
  protected sharedArrays(): Float32Array[] {
    return [];
  }

  protected adoptSharedState(_arrays: Float32Array[], _initialised: boolean): void {}
}
