/**
 * Top-K by magnitude. Each peer keeps its own indices, so messages are all-gathered and the N
 * decoded messages averaged. Ties are broken by the lower index, so the choice is deterministic.
 * Message per layer: k f32 values, then their k int32 indices ascending (little-endian).
 * Contractive with delta = k/d, biased: use with error feedback.
 */
import { WireFormatError } from '../errors.ts';
import { CODEC_IDS } from './ids.ts';
import { layerSize } from './layers.ts';
import { keptEntries } from './sparsity.ts';
import type { GatherCodec, LayerShape } from './types.ts';

/** Buckets of the first radix pass: the top 16 of the 31 magnitude bits. */
const HIGH_BITS = 16;
const LOW_BITS = 31 - HIGH_BITS;

/**
 * The k-th largest magnitude's bit pattern (1 <= k <= length). |x| of an f32 is its bits without the
 * sign, and for non-NaN values those bits order like the magnitudes, so two counting passes (the
 * high 16 bits, then the low 15 within the one bucket that holds the k-th) find it exactly in O(d)
 * integer work, however many entries tie.
 */
function kthLargestMagnitude(bits: Uint32Array, k: number): number {
  const high = new Uint32Array(1 << HIGH_BITS);
  for (let i = 0; i < bits.length; i++) high[(bits[i]! & 0x7fffffff) >>> LOW_BITS]!++;
  let bucket = high.length - 1;
  let above = 0;
  while (above + high[bucket]! < k) above += high[bucket--]!;
  const low = new Uint32Array(1 << LOW_BITS);
  for (let i = 0; i < bits.length; i++) {
    const magnitude = bits[i]! & 0x7fffffff;
    if (magnitude >>> LOW_BITS === bucket) low[magnitude & ((1 << LOW_BITS) - 1)]!++;
  }
  let rest = low.length - 1;
  while (above + low[rest]! < k) above += low[rest--]!;
  return (bucket << LOW_BITS) | rest;
}

/** The k indices of largest |x|, ascending; among equal magnitudes the lower indices win. x holds no NaN. */
export function topKIndices(x: Float32Array, k: number): Int32Array {
  const d = x.length;
  if (k >= d) return Int32Array.from({ length: d }, (_, i) => i);
  if (k <= 0) return new Int32Array(0);
  const bits = new Uint32Array(x.buffer, x.byteOffset, d);
  const threshold = kthLargestMagnitude(bits, k);
  let ties = k;
  for (let i = 0; i < d; i++) if ((bits[i]! & 0x7fffffff) > threshold) ties--;
  const out = new Int32Array(k);
  let j = 0;
  for (let i = 0; i < d && j < k; i++) {
    const magnitude = bits[i]! & 0x7fffffff;
    if (magnitude > threshold || (magnitude === threshold && ties-- > 0)) out[j++] = i;
  }
  return out;
}

export function createTopK({ ratio }: { ratio: number }): GatherCodec {
  return {
    id: CODEC_IDS.topk,
    name: 'topk',
    linear: false,
    unbiased: false,
    messageBytes: (layer) => 8 * keptEntries(ratio, layerSize(layer)),
    contraction(layer) {
      const d = layerSize(layer);
      return d === 0 ? 1 : keptEntries(ratio, d) / d;
    },
    compress(x, layer) {
      const k = keptEntries(ratio, layerSize(layer));
      const idx = topKIndices(x, k);
      const bytes = new Uint8Array(8 * k);
      const view = new DataView(bytes.buffer);
      for (let j = 0; j < k; j++) {
        view.setFloat32(4 * j, x[idx[j]!]!, true);
        view.setInt32(4 * (k + j), idx[j]!, true);
      }
      return bytes;
    },
    decompress(message, layer) {
      const out = new Float32Array(layerSize(layer));
      scatter(message, layer, out, false);
      return out;
    },
    decompressAdd(message, layer, _ctx, sum) {
      scatter(message, layer, sum, true);
    },
  };

  /** Stores (or adds) the message's k values at its indices, checking them as it goes. */
  function scatter(message: Uint8Array, layer: LayerShape, into: Float32Array | Float64Array, add: boolean): void {
    const d = layerSize(layer);
    const k = keptEntries(ratio, d);
    if (message.length !== 8 * k) throw new WireFormatError(`topk message for ${layer.name} has ${message.length} bytes, expected ${8 * k}`);
    if (into.length !== d) throw new RangeError(`topk output for ${layer.name} has ${into.length} entries, expected ${d}`);
    const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
    let previous = -1;
    for (let j = 0; j < k; j++) {
      const index = view.getInt32(4 * (k + j), true);
      if (index <= previous || index >= d) throw new WireFormatError(`topk message for ${layer.name} has a bad index ${index}`);
      previous = index;
      const value = view.getFloat32(4 * j, true);
      if (add) into[index]! += value;
      else into[index] = value;
    }
  }
}
