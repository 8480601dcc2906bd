import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { hashArrays } from '../train/hash.ts';
import type { Dataset } from '../data/mnist.ts';
import { Rng } from '../rng.ts';
import { fromLayersModel } from './layers-model.ts';

/** `count` windows of `length` token ids in [0, vocab), labelled by their first token (learnable by any sequence model). */
function tokenWindows(count: number, length: number, vocab: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = Float32Array.from({ length: count * length }, () => rng.int(vocab));
  const labels = Uint8Array.from({ length: count }, (_, i) => images[i * length]! % 4);
  return { images, labels, count, shape: [length], classes: 4 };
}

const builders = {
  dense: () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 5, activation: 'relu' }), tf.layers.dense({ units: 4 })] }),
  conv: () => tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [6, 1, 1], kernelSize: [3, 1], filters: 3 }), tf.layers.flatten(), tf.layers.dense({ units: 4 })] }),
  'embedding + lstm': () => tf.sequential({ layers: [tf.layers.embedding({ inputDim: 9, outputDim: 5, inputLength: 6 }), tf.layers.lstm({ units: 7 }), tf.layers.dense({ units: 4 })] }),
  'embedding + gru': () => tf.sequential({ layers: [tf.layers.embedding({ inputDim: 9, outputDim: 5, inputLength: 6 }), tf.layers.gru({ units: 7 }), tf.layers.dense({ units: 4 })] }),
};

describe('a tfjs-layers model as a trainable model', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  const data = tokenWindows(32, 6, 9, 5);
  const batch: Dataset = { ...data, shape: [6] };

  for (const [kind, build] of Object.entries(builders)) {
    it(`${kind}: seeded weights, finite gradients of every layer, no tensor left after dispose`, () => {
      const baseline = tf.memory().numTensors;
      const model = fromLayersModel(build());
      const twin = fromLayersModel(build());
      const weights = model.initialWeights(11);
      assert.equal(hashArrays(weights), hashArrays(twin.initialWeights(11)), 'the seed alone fixes the initial weights');
      assert.notEqual(hashArrays(weights), hashArrays(model.initialWeights(12)));
      assert.deepEqual(weights.map((w) => w.length), model.layers.map((l) => l.shape.reduce((a, b) => a * b, 1)));
      assert.equal(model.size, weights.reduce((n, w) => n + w.length, 0));
      twin.dispose();

      model.setWeights(weights);
      const { grads, loss } = model.gradient(batch);
      assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
      assert.deepEqual(grads.map((g) => g.length), weights.map((w) => w.length));
      assert.ok(grads.every((g) => g.every(Number.isFinite) && g.some((v) => v !== 0)), 'every layer has a gradient');
      const stepped = weights.map((w, i) => w.map((v, j) => v - 0.05 * grads[i]![j]!));
      model.setWeights(stepped);
      assert.ok(model.gradient(batch).loss < loss, 'a gradient step lowers the batch loss');
      const accuracy = model.accuracy(data, 10); // several batches, the last one short
      assert.ok(accuracy >= 0 && accuracy <= 1);
      model.dispose();
      assert.equal(tf.memory().numTensors, baseline);
    });
  }

  it('the layers compressors see: embedding [vocab, dim], an LSTM\'s kernels [in, 4 units] and [units, 4 units]', () => {
    const model = fromLayersModel(builders['embedding + lstm']());
    assert.deepEqual(model.layers.map((l) => l.shape), [[9, 5], [5, 28], [7, 28], [28], [7, 4], [4]]);
    model.dispose();
  });

  it('refuses what replicas could not keep identical, or data of another shape, by name', () => {
    const normalized = tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 4 }), tf.layers.batchNormalization()] });
    assert.throws(() => fromLayersModel(normalized), { name: 'ConfigError', message: /non-trainable weights/ });
    normalized.dispose();
    const open = tf.sequential({ layers: [tf.layers.embedding({ inputDim: 9, outputDim: 5 }), tf.layers.gru({ units: 3 }), tf.layers.dense({ units: 4 })] });
    assert.throws(() => fromLayersModel(open), { name: 'ConfigError', message: /unknown size \[null\]/ });
    open.dispose();
    const model = fromLayersModel(builders.dense());
    assert.throws(() => model.gradient({ ...batch, images: new Float32Array(32 * 5), shape: [5] }), { name: 'ConfigError', message: /takes inputs of shape \[6\], the data's examples have shape \[5\]/ });
    assert.throws(() => fromLayersModel(builders.dense(), { initialWeights: () => [] }).initialWeights(1), { name: 'ConfigError', message: /layers' sizes/ });
    model.dispose();
  });
});
