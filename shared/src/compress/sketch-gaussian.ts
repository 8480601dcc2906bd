/** Gaussian sketch (norm-k): Omega with i.i.d. N(0, 1/r) entries. */
import { CODEC_IDS } from './ids.ts';
import { createSketch } from './sketch.ts';
import type { LinearCodec } from './types.ts';

export function createGaussianSketch({ rank }: { rank: number }): LinearCodec {
  return createSketch(
    {
      id: CODEC_IDS['sketch-gaussian'],
      name: 'sketch-gaussian',
      draw: (rng, n, r) => rng.fillGaussian(new Float32Array(n * r), 1 / Math.sqrt(r)) as Float32Array,
    },
    rank,
  );
}
