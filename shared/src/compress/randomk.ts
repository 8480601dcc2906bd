/**
 * Random-K with a shared seed: every peer keeps the same k coordinates, drawn per
 * (seed, step, layer), so messages sum on the way (linear). `scaled` multiplies by d/k in
 * decompression, which makes it unbiased (omega = d/k - 1); unscaled is for error feedback
 * (contractive in expectation: E|C(x) - x|^2 = (1 - k/d)|x|^2).
 */
import { Rng } from '../rng.ts';
import { CODEC_IDS } from './ids.ts';
import { layerSize } from './layers.ts';
import { keptEntries } from './sparsity.ts';
import type { CodecContext, LayerShape, LinearCodec } from './types.ts';

export interface RandomKInit {
  /** Fraction of entries kept. */
  ratio: number;
  /** Multiply by d/k so that the codec is unbiased. */
  scaled: boolean;
}

export function createRandomK({ ratio, scaled }: RandomKInit): LinearCodec {
  const indices = (layer: LayerShape, ctx: CodecContext): Int32Array =>
    Rng.derive(ctx.seed, ctx.step, ctx.layerIndex, 'randomk').sample(layerSize(layer), keptEntries(ratio, layerSize(layer)));
  const codec: LinearCodec = {
    id: CODEC_IDS.randomk,
    name: scaled ? 'randomk-scaled' : 'randomk',
    linear: true,
    wire: 'f32',
    unbiased: scaled,
    messageBytes: (layer) => 4 * keptEntries(ratio, layerSize(layer)),
    compress(x, layer, ctx) {
      const idx = indices(layer, ctx);
      const out = new Float32Array(idx.length);
      for (let j = 0; j < idx.length; j++) out[j] = x[idx[j]!]!;
      return out;
    },
    decompress(y, layer, ctx) {
      const d = layerSize(layer);
      const idx = indices(layer, ctx);
      const scale = scaled && idx.length > 0 ? d / idx.length : 1;
      const out = new Float32Array(d);
      for (let j = 0; j < idx.length; j++) out[idx[j]!] = y[j]! * scale;
      return out;
    },
  };
  if (scaled) {
    codec.omega = (layer) => {
      const d = layerSize(layer);
      return d === 0 ? 0 : d / keptEntries(ratio, d) - 1;
    };
  } else {
    codec.contraction = (layer) => {
      const d = layerSize(layer);
      return d === 0 ? 1 : keptEntries(ratio, d) / d;
    };
  }
  return codec;
}
