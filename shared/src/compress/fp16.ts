/**
 * Half floats on the wire. The message is the f32 vector rounded to halves; the collective sends
 * halves per hop and sums in f32 in between, so the sum is linear up to half rounding, not f32.
 * Round-to-nearest is deterministic, hence (slightly) biased and without a strict contraction
 * (subnormals lose relative precision, |x| >= 65520 overflows to infinity).
 */
import { roundToHalf } from '../collective/half.ts';
import { CODEC_IDS } from './ids.ts';
import { layerSize } from './layers.ts';
import type { LinearCodec } from './types.ts';

export const fp16Codec: LinearCodec = {
  id: CODEC_IDS.fp16,
  name: 'fp16',
  linear: true,
  wire: 'f16',
  unbiased: false,
  messageBytes: (layer) => 2 * layerSize(layer),
  compress: (x) => roundToHalf(x),
  decompress: (y) => y.slice(),
};
