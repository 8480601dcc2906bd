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
import type { GatherCodec } from './types.ts';

/** The k-th largest of `values` (1 <= k <= length). */
function kthLargest(values: Float32Array, k: number): number {
  const d = values.length;
  // Few kept entries (the usual 1%): a min-heap of the k largest, O(d log k); else a native sort.
  if (k > d / 16) return values.slice().sort()[d - k]!;
  const heap = values.slice(0, k).sort(); // a sorted array is a valid min-heap
  for (let i = k; i < d; i++) {
    const v = values[i]!;
    if (v <= heap[0]!) continue;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= k) break;
      const child = left + 1 < k && heap[left + 1]! < heap[left]! ? left + 1 : left;
      if (heap[child]! >= v) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = v;
  }
  return heap[0]!;
}

/** The k indices of largest |x|, ascending; among equal magnitudes the lower indices win. */
export function topKIndices(x: Float32Array, k: number): Int32Array {
  const d = x.length;
  if (k >= d) return Int32Array.from({ length: d }, (_, i) => i);
  if (k <= 0) return new Int32Array(0);
  const magnitudes = new Float32Array(d);
  for (let i = 0; i < d; i++) magnitudes[i] = Math.abs(x[i]!);
  const threshold = kthLargest(magnitudes, k);
  let ties = k;
  for (let i = 0; i < d; i++) if (magnitudes[i]! > threshold) ties--;
  const out = new Int32Array(k);
  let j = 0;
  for (let i = 0; i < d && j < k; i++) {
    const v = magnitudes[i]!;
    if (v > threshold || (v === threshold && ties-- > 0)) out[j++] = i;
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
      const d = layerSize(layer);
      const k = keptEntries(ratio, d);
      if (message.length !== 8 * k) throw new WireFormatError(`topk message for ${layer.name} has ${message.length} bytes, expected ${8 * k}`);
      const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
      const out = new Float32Array(d);
      let previous = -1;
      for (let j = 0; j < k; j++) {
        const index = view.getInt32(4 * (k + j), true);
        if (index <= previous || index >= d) throw new WireFormatError(`topk message for ${layer.name} has a bad index ${index}`);
        previous = index;
        out[index] = view.getFloat32(4 * j, true);
      }
      return out;
    },
  };
}
