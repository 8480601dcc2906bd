/**
 * A small learnable image task for tests and simulations without MNIST: `side x side` images of
 * noise in [0, 0.5) where one of four quadrants is brighter by 0.5; the label is that quadrant.
 */
import { Rng } from '../rng.ts';
import type { Dataset } from './mnist.ts';

export function quadrantImages(count: number, side: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const pixels = side * side;
  const half = Math.floor(side / 2);
  const images = new Float32Array(count * pixels);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = rng.int(4);
    labels[i] = label;
    for (let p = 0; p < pixels; p++) {
      const row = Math.floor(p / side);
      const col = p % side;
      const quadrant = ((row < half ? 0 : 1) << 1) | (col < half ? 0 : 1);
      images[i * pixels + p] = rng.next() * 0.5 + (quadrant === label ? 0.5 : 0);
    }
  }
  return { images, labels, count, shape: [side, side, 1], classes: 4 };
}
