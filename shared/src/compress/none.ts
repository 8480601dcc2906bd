/** No compression: every value as f32. */
import { CODEC_IDS } from './ids.ts';
import { layerSize } from './layers.ts';
import type { LinearCodec } from './types.ts';

export const noneCodec: LinearCodec = {
  id: CODEC_IDS.none,
  name: 'none',
  linear: true,
  wire: 'f32',
  unbiased: true,
  messageBytes: (layer) => 4 * layerSize(layer),
  contraction: () => 1,
  omega: () => 0,
  compress: (x) => x.slice(),
  decompress: (y) => y.slice(),
};
