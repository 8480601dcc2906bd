import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { quadrantImages } from '../data/synthetic.ts';
import { subset } from '../data/mnist.ts';
import { Model } from './model.ts';

describe('model tensors', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  const data = quadrantImages(64, 16, 3);

  for (const name of ['mlp', 'cnn'] as const) {
    it(`${name}: one tensor per weight while alive, none after dispose`, () => {
      const baseline = tf.memory().numTensors;
      const model = new Model(name, data.shape, data.classes);
      const layerCount = model.layers.length;
      assert.equal(tf.memory().numTensors - baseline, layerCount, 'construction leaves only the variables');

      const weights = model.initialWeights(7);
      model.setWeights(weights);
      const { grads, loss } = model.gradient(subset(data, Int32Array.from({ length: 16 }, (_, i) => i)));
      assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
      assert.deepEqual(grads.map((g) => g.length), weights.map((w) => w.length));
      const stepped = weights.map((w, i) => w.map((x, j) => x - 0.1 * grads[i]![j]!));
      model.setWeights(stepped);
      const accuracy = model.accuracy(data, 20); // several batches, the last one short
      assert.ok(accuracy >= 0 && accuracy <= 1, `accuracy ${accuracy}`);
      assert.equal(tf.memory().numTensors - baseline, layerCount, 'a step leaves only the variables');

      model.dispose();
      assert.equal(tf.memory().numTensors, baseline);
    });
  }
});
