/**
 * Examples of an IDX image file held as bytes, only those a worker trains or evaluates on. A float
 * copy of all of MNIST's training images is 188 MB and a tab trains on 1/N of them: the store
 * fetches its examples by byte range (HTTP in a tab, the disk in Node), keeps them as Uint8, and
 * turns a batch into floats when it is drawn. `hold` moves the store to another set of examples
 * (a new shard after a membership change) and fetches only those it does not hold yet.
 *
 * The floats are `byte / 255` rounded to f32, exactly as `parseMnist` makes them, so a batch is
 * bit-identical to the one cut from the whole file.
 */
import { DataError, WireFormatError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import { recordRanges, type ByteRange } from './byte-ranges.ts';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, subset, type Dataset } from './mnist.ts';

/** Reads byte ranges of one file: over HTTP in a tab, from the disk in Node, from memory in tests. */
export interface RangeReader {
  /** The bytes of `ranges` (sorted, disjoint), concatenated; rejects with the signal's reason. */
  read(ranges: readonly ByteRange[], signal: AbortSignal): Promise<Uint8Array>;
  /** What it has transferred so far: bytes (answers whole, overhead included) and requests. */
  readonly traffic: Traffic;
}

export interface Traffic {
  bytes: number;
  requests: number;
}

/** Training data as the session sees it: labels for everyone, images for the examples held. */
export interface ExampleSource {
  readonly count: number;
  /** Per-example input shape (Dataset's). */
  readonly shape: number[];
  readonly classes: number;
  /** Every example's label: small (1 byte each), and label-based shardings need them all. */
  readonly labels: Uint8Array;
  /** The examples at `indices` (all held), in that order, as floats. */
  gather(indices: ArrayLike<number>): Dataset;
  /** Holds exactly the examples at `indices` from now on, fetching those missing. */
  hold(indices: ArrayLike<number>, signal: AbortSignal): Promise<void>;
}

/** Everything in memory (tests, simulations) or a store of held examples. */
export type Examples = Dataset | ExampleSource;

/** The examples at `indices` as floats, whichever kind `data` is. */
export function gather(data: Examples, indices: ArrayLike<number>): Dataset {
  return 'gather' in data ? data.gather(indices) : subset(data, indices);
}

/** A batch: `batchSize` examples drawn with replacement from `shard` (indices into `data`) by `rng`. */
export function drawBatch(data: Examples, shard: Int32Array, batchSize: number, rng: Rng): Dataset {
  const indices = new Int32Array(batchSize);
  for (let i = 0; i < indices.length; i++) indices[i] = shard[rng.int(shard.length)]!;
  return gather(data, indices);
}

/** Makes `data` hold the examples at `indices` (a Dataset holds everything already). */
export async function hold(data: Examples, indices: ArrayLike<number>, signal: AbortSignal): Promise<void> {
  if ('hold' in data) await data.hold(indices, signal);
}

const IMAGES_HEADER = 16;
/** Examples per read while holding: 4,000 MNIST images are 3 MB. */
const FETCH_BATCH = 4000;
const LABELS_HEADER = 8;

export class ExampleStore implements ExampleSource {
  readonly classes = 10;
  private readonly features: number;
  /** Where each example sits in `bytes` (in records), or -1 if not held. */
  private slots: Int32Array;
  private bytes = new Uint8Array(0);
  private heldCount = 0;

  private constructor(
    private readonly images: RangeReader,
    private readonly labelReader: RangeReader,
    readonly count: number,
    readonly shape: [number, number, number],
    readonly labels: Uint8Array,
  ) {
    this.features = shape[0] * shape[1] * shape[2];
    this.slots = new Int32Array(count).fill(-1);
  }

  /** Reads the image file's header and every label (two small reads); holds no image yet. */
  static async open(images: RangeReader, labels: RangeReader, signal: AbortSignal): Promise<ExampleStore> {
    const head = await images.read([{ start: 0, end: IMAGES_HEADER }], signal);
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (head.length < IMAGES_HEADER || view.getUint32(0) !== IDX_IMAGES_MAGIC) throw new WireFormatError('not an IDX image file');
    const count = view.getUint32(4);
    const shape: [number, number, number] = [view.getUint32(8), view.getUint32(12), 1];
    const labelFile = await labels.read([{ start: 0, end: LABELS_HEADER + count }], signal);
    const lab = new DataView(labelFile.buffer, labelFile.byteOffset, labelFile.byteLength);
    if (labelFile.length !== LABELS_HEADER + count || lab.getUint32(0) !== IDX_LABELS_MAGIC) throw new WireFormatError('not an IDX label file of the image file\'s length');
    if (lab.getUint32(4) !== count) throw new WireFormatError(`images (${count}) and labels (${lab.getUint32(4)}) differ in count`);
    return new ExampleStore(images, labels, count, shape, labelFile.slice(LABELS_HEADER));
  }

  /** Examples held now. */
  get held(): number {
    return this.heldCount;
  }

  /** What both readers transferred. */
  get traffic(): Traffic {
    const a = this.images.traffic;
    const b = this.labelReader.traffic;
    return { bytes: a.bytes + b.bytes, requests: a.requests + b.requests };
  }

  /**
   * Fetches the examples of `indices` not held yet and drops those not in `indices`. Atomic: if
   * the fetch fails or the signal aborts, the store holds what it held before.
   */
  async hold(indices: ArrayLike<number>, signal: AbortSignal): Promise<void> {
    const wanted = Int32Array.from(new Set(Array.from(indices))).sort();
    for (const i of [wanted[0], wanted.at(-1)]) {
      if (i !== undefined && !(i >= 0 && i < this.count)) throw new RangeError(`example ${i} is not in [0, ${this.count})`);
    }
    const f = this.features;
    const bytes = new Uint8Array(wanted.length * f);
    const slots = new Int32Array(this.count).fill(-1);
    const missing: number[] = [];
    wanted.forEach((i, slot) => {
      const old = this.slots[i]!;
      if (old >= 0) bytes.set(this.bytes.subarray(old * f, (old + 1) * f), slot * f);
      else missing.push(i);
      slots[i] = slot;
    });
    // In batches written straight into place: the peak is the new shard plus one batch, not
    // the shard three times over (the answers, their concatenation, the copy).
    for (let from = 0; from < missing.length; from += FETCH_BATCH) {
      const batch = missing.slice(from, from + FETCH_BATCH);
      const fetched = await this.images.read(recordRanges(batch, IMAGES_HEADER, f), signal);
      if (fetched.length !== batch.length * f) throw new WireFormatError(`asked for ${batch.length * f} image bytes, got ${fetched.length}`);
      batch.forEach((i, k) => bytes.set(fetched.subarray(k * f, (k + 1) * f), slots[i]! * f));
    }
    this.bytes = bytes;
    this.slots = slots;
    this.heldCount = wanted.length;
  }

  gather(indices: ArrayLike<number>): Dataset {
    const f = this.features;
    const images = new Float32Array(indices.length * f);
    const labels = new Uint8Array(indices.length);
    for (let j = 0; j < indices.length; j++) {
      const i = indices[j]!;
      const slot = this.slots[i] ?? -1;
      if (slot < 0) throw new DataError(`example ${i} is not held by this worker (it holds ${this.heldCount})`);
      const src = slot * f;
      const dst = j * f;
      for (let p = 0; p < f; p++) images[dst + p] = this.bytes[src + p]! / 255;
      labels[j] = this.labels[i]!;
    }
    return { images, labels, count: indices.length, shape: this.shape, classes: this.classes };
  }
}

/** A RangeReader over bytes in memory, counting what it hands out (tests, and the whole-file path). */
export class MemoryRangeReader implements RangeReader {
  readonly traffic: Traffic = { bytes: 0, requests: 0 };
  constructor(private readonly file: Uint8Array) {}

  read(ranges: readonly ByteRange[], signal: AbortSignal): Promise<Uint8Array> {
    if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new DataError('read aborted'));
    const out = new Uint8Array(ranges.reduce((n, r) => n + r.end - r.start, 0));
    let at = 0;
    for (const r of ranges) {
      if (r.end > this.file.length) return Promise.reject(new DataError(`bytes ${r.start}-${r.end - 1} are past the end (${this.file.length})`));
      out.set(this.file.subarray(r.start, r.end), at);
      at += r.end - r.start;
    }
    this.traffic.bytes += out.length;
    this.traffic.requests++;
    return Promise.resolve(out);
  }
}
