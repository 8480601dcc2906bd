/**
 * IDX files of random images and labels, the layout of MNIST's, for tests of the readers and
 * stores without the real files.
 */
import { Rng } from '../rng.ts';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from '../data/mnist.ts';

export function idxFiles(count: number, side: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const rng = new Rng(seed);
  const images = new Uint8Array(16 + count * side * side);
  const labels = new Uint8Array(8 + count);
  const img = new DataView(images.buffer);
  const lab = new DataView(labels.buffer);
  img.setUint32(0, IDX_IMAGES_MAGIC);
  img.setUint32(4, count);
  img.setUint32(8, side);
  img.setUint32(12, side);
  lab.setUint32(0, IDX_LABELS_MAGIC);
  lab.setUint32(4, count);
  for (let i = 16; i < images.length; i++) images[i] = rng.int(256);
  for (let i = 8; i < labels.length; i++) labels[i] = rng.int(10);
  return { images, labels };
}
