/**
 * Initial weights from the run seed, computed in TypeScript: every replica starts from the same
 * bits without a transfer, whatever backend it runs (tfjs's own initializers draw from an unseeded
 * generator). Kernels (rank >= 2) are Glorot uniform, vectors zero, a normalization's scale one.
 */
import type { LayerShape } from '../compress/types.ts';
import { Rng } from '../rng.ts';

/**
 * Fan-in and fan-out of a kernel, as Keras counts them: the last two dims are (in, out) and the
 * others a receptive field (conv [h, w, in, out]: 9 in, 9 out for 3x3). Embeddings [vocab, dim]
 * and recurrent kernels [in, gates x units] are matrices like any dense kernel.
 */
export function glorotFans(shape: readonly number[]): [number, number] {
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [shape.at(-2)! * receptive, shape.at(-1)! * receptive];
}

/** Glorot uniform in [-limit, limit], limit = sqrt(6 / (fanIn + fanOut)), from the stream of (seed, 'init', index). */
export function glorotUniform(seed: number, index: number, size: number, fans: readonly [number, number]): Float32Array {
  const out = new Float32Array(size);
  const limit = Math.sqrt(6 / (fans[0] + fans[1]));
  const rng = Rng.derive(seed, 'init', index);
  for (let j = 0; j < size; j++) out[j] = (rng.next() * 2 - 1) * limit;
  return out;
}

/** Seeded weights for `layers`: Glorot kernels, zero vectors, ones for a scale (`gamma`, as batch or layer normalization name it). */
export function seededWeights(seed: number, layers: readonly LayerShape[]): Float32Array[] {
  return layers.map((layer, i) => {
    const size = layer.shape.reduce((a, b) => a * b, 1);
    if (layer.shape.length >= 2) return glorotUniform(seed, i, size, glorotFans(layer.shape));
    return new Float32Array(size).fill(/(^|\/)gamma$/.test(layer.name) ? 1 : 0);
  });
}
