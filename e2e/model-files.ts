/** A model a page downloaded (model.json + weights) read back in Node, and its accuracy there. */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { evaluationSubset, gather, hold, type Examples } from '@tabswarm/shared';
import type { RunConfig } from '@tabswarm/shared/protocol';
import { loadMnistFromFs } from '@tabswarm/client/mnist-fs';

export interface ModelFiles {
  json: { modelTopology: object; weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> };
  weights: Buffer;
}

export async function readModelFiles(jsonPath: string, weightsPath: string): Promise<ModelFiles> {
  return { json: JSON.parse(await readFile(jsonPath, 'utf8')) as ModelFiles['json'], weights: await readFile(weightsPath) };
}

/**
 * Test accuracy of a downloaded model on the room's evaluation subset of `testSet` (MNIST's by
 * default), computed in Node (tfjs cpu).
 */
export async function accuracyInNode(files: ModelFiles, config: RunConfig, testSet?: Examples): Promise<number> {
  await tf.setBackend('cpu');
  const weightData = files.weights.buffer.slice(files.weights.byteOffset, files.weights.byteOffset + files.weights.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: files.json.modelTopology, weightSpecs: files.json.weightsManifest[0]!.weights, weightData }));
  const test = testSet ?? (await loadMnistFromFs()).test;
  const indices = evaluationSubset(config, test.count);
  await hold(test, indices, AbortSignal.timeout(30_000));
  const data = gather(test, indices);
  const predicted = tf.tidy(() => (model.predict(tf.tensor(data.images, [data.count, ...data.shape])) as tf.Tensor).argMax(1));
  const classes = predicted.dataSync();
  predicted.dispose();
  model.dispose();
  let correct = 0;
  for (let i = 0; i < data.count; i++) if (classes[i] === data.labels[i]) correct++;
  return correct / data.count;
}
