/**
 * A volunteer's own training data, chosen in the tab and checked there against the room task's
 * input shape and labels before the tab joins. Nothing here leaves the tab: the session trains on
 * it as this member's shard, and only (compressed) updates travel.
 *
 * Two forms (docs/TASKS.md, "Your own data in a tab"):
 * - CSV: a header row with one column named `label` (an integer class, 0 to classes - 1) and the
 *   example's values in order in the others (as many as the task's shape holds); `,` separated,
 *   no quoting, blank lines skipped. Values are divided by `scale`: MNIST takes pixels 0-255.
 * - Images (decoded by the page into RGBA pixels): each in a folder named by its label, of the
 *   task's exact height and width; one channel takes the luminance, three take red, green, blue.
 *
 * A mismatch is a DataError naming the file (and line and column) and the problem.
 */
import { DataError } from '../errors.ts';
import type { Dataset } from './mnist.ts';

/** What the room's task takes: checked against every file. */
export interface LocalDataSpec {
  /** One example's input shape, e.g. [28, 28, 1] or [2]. */
  shape: readonly number[];
  classes: number;
  /** CSV values are divided by it: 255 where the task's examples are bytes (MNIST's pixels), else 1. */
  scale: number;
}

export interface CsvFile {
  name: string;
  text: string;
}

/** One decoded image: RGBA pixels, row by row, as a canvas gives them. */
export interface LocalImage {
  /** Its path as chosen, `digits/3/a.png`: the folder it sits in names its label. */
  path: string;
  width: number;
  height: number;
  rgba: Uint8ClampedArray | Uint8Array;
}

/** The examples of every CSV file, in order, checked against `spec`. */
export function csvDataset(files: readonly CsvFile[], spec: LocalDataSpec): Dataset {
  if (files.length === 0) throw new DataError('no file chosen');
  const parts = files.map((f) => parseCsv(f, spec));
  return concat(parts.map((p) => p.values), parts.map((p) => p.labels), spec);
}

/** The examples of decoded images, each labelled by its folder, checked against `spec`. */
export function imageDataset(images: readonly LocalImage[], spec: LocalDataSpec): Dataset {
  if (images.length === 0) throw new DataError('no image chosen');
  const [height, width, channels] = spec.shape;
  if (spec.shape.length !== 3 || (channels !== 1 && channels !== 3)) {
    throw new DataError(`this task's examples are ${describeShape(spec.shape)} values, not images: choose a CSV file`);
  }
  const features = height! * width! * channels;
  const values = new Float32Array(images.length * features);
  const labels = new Uint8Array(images.length);
  images.forEach((image, i) => {
    if (image.width !== width || image.height !== height) throw new DataError(`${image.path}: the image is ${image.width}x${image.height} pixels, the task takes ${width}x${height}`);
    const folder = image.path.split('/').at(-2);
    if (folder === undefined) throw new DataError(`${image.path}: not in a folder; each image goes in a folder named by its label`);
    labels[i] = parseLabel(folder, spec.classes, `${image.path}: folder`);
    const out = i * features;
    for (let p = 0; p < width! * height!; p++) {
      const r = image.rgba[4 * p]!;
      const g = image.rgba[4 * p + 1]!;
      const b = image.rgba[4 * p + 2]!;
      // Bytes over 255, as the built-in MNIST store scales its pixels.
      if (channels === 1) {
        values[out + p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b) / 255;
      } else {
        values[out + 3 * p] = r / 255;
        values[out + 3 * p + 1] = g / 255;
        values[out + 3 * p + 2] = b / 255;
      }
    }
  });
  return { images: values, labels, count: images.length, shape: [...spec.shape], classes: spec.classes };
}

/** How many examples of each class `data` holds. */
export function classCounts(data: Pick<Dataset, 'labels' | 'classes'>): number[] {
  const counts = new Array<number>(data.classes).fill(0);
  for (const label of data.labels) counts[label]!++;
  return counts;
}

function parseCsv(file: CsvFile, spec: LocalDataSpec): { values: Float32Array; labels: Uint8Array } {
  const lines = file.text.split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) throw new DataError(`${file.name}: the file is empty`);
  const where = (line: number): string => `${file.name}, line ${line + 1}`;
  const columns = lines[headerAt]!.split(',').map((c) => c.trim());
  const labelColumn = columns.indexOf('label');
  if (labelColumn < 0) throw new DataError(`${where(headerAt)}: the header has no column named "label" (got ${quoteList(columns)})`);
  const features = spec.shape.reduce((a, b) => a * b, 1);
  if (columns.length - 1 !== features) {
    throw new DataError(`${where(headerAt)}: ${columns.length - 1} value columns besides "label", the task takes ${features} (${describeShape(spec.shape)})`);
  }
  const rows = lines.flatMap((l, i) => (i > headerAt && l.trim() !== '' ? [i] : []));
  if (rows.length === 0) throw new DataError(`${file.name}: a header but no rows`);
  const values = new Float32Array(rows.length * features);
  const labels = new Uint8Array(rows.length);
  rows.forEach((line, row) => {
    const cells = lines[line]!.split(',');
    if (cells.length !== columns.length) throw new DataError(`${where(line)}: ${cells.length} values, the header has ${columns.length} columns`);
    let at = row * features;
    cells.forEach((cell, c) => {
      if (c === labelColumn) {
        labels[row] = parseLabel(cell.trim(), spec.classes, where(line));
        return;
      }
      values[at++] = parseValue(cell.trim(), spec.scale, `${where(line)}, column "${columns[c]}"`);
    });
  });
  return { values, labels };
}

function parseValue(cell: string, scale: number, where: string): number {
  const value = cell === '' ? NaN : Number(cell);
  if (!Number.isFinite(value)) throw new DataError(`${where}: ${JSON.stringify(cell.slice(0, 32))} is not a number`);
  if (scale !== 1 && (value < 0 || value > scale)) throw new DataError(`${where}: ${value} is outside 0-${scale}`);
  return value / scale;
}

function parseLabel(text: string, classes: number, where: string): number {
  const label = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(label < classes)) throw new DataError(`${where}: label ${JSON.stringify(text.slice(0, 32))} is not one of the task's ${classes} classes (0-${classes - 1})`);
  return label;
}

function concat(values: Float32Array[], labels: Uint8Array[], spec: LocalDataSpec): Dataset {
  const count = labels.reduce((n, l) => n + l.length, 0);
  const features = spec.shape.reduce((a, b) => a * b, 1);
  const images = new Float32Array(count * features);
  const allLabels = new Uint8Array(count);
  let at = 0;
  values.forEach((v, i) => {
    images.set(v, at * features);
    allLabels.set(labels[i]!, at);
    at += labels[i]!.length;
  });
  return { images, labels: allLabels, count, shape: [...spec.shape], classes: spec.classes };
}

function describeShape(shape: readonly number[]): string {
  return `shape ${shape.join('x')}`;
}

function quoteList(columns: string[]): string {
  const shown = columns.slice(0, 4).map((c) => JSON.stringify(c.slice(0, 16))).join(', ');
  return columns.length > 4 ? `${shown}, ...` : shown;
}
