/**
 * Haar sketch (haar-k): Omega = sqrt(n/r) times r orthonormal columns of a Haar-random orthogonal
 * matrix. Those are distributed as the Q of a QR of an n x r Gaussian matrix (positive diagonal of
 * R, as Gram-Schmidt gives), which costs O(n r^2) instead of O(n^3).
 */
import { CODEC_IDS } from './ids.ts';
import { orthonormalizeColumns } from './linalg.ts';
import { createSketch } from './sketch.ts';
import type { LinearCodec } from './types.ts';

export function createHaarSketch({ rank }: { rank: number }): LinearCodec {
  return createSketch(
    {
      id: CODEC_IDS['sketch-haar'],
      name: 'sketch-haar',
      draw(rng, n, r) {
        const q = orthonormalizeColumns(rng.fillGaussian(new Float64Array(n * r)) as Float64Array, n, r);
        const scale = Math.sqrt(n / r);
        return Float32Array.from(q, (v) => v * scale);
      },
    },
    rank,
  );
}
