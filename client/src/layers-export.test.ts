import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Model, Rng } from '@tabswarm/shared';
import { exportLayersModel, inMemory, layersModelOf } from './layers-export.ts';

/** Weights unlike the initial ones (random biases too), so a swapped or transposed array shows. */
function randomWeights(model: Model, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return model.layers.map((l) => Float32Array.from({ length: l.shape.reduce((a, b) => a * b, 1) }, () => rng.next() - 0.5));
}

describe('Layers export', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const name of ['mlp', 'cnn'] as const) {
    it(`${name}: the loaded LayersModel gives the trained model's logits and weights, in order`, async () => {
      const baseline = tf.memory().numTensors;
      const spec = { name, inputShape: [28, 28, 1] as [number, number, number], classes: 10 };
      const model = new Model(name, spec.inputShape, spec.classes);
      const weights = randomWeights(model, 7);
      model.setWeights(weights);
      const count = 16;
      const rng = new Rng(3);
      const images = Float32Array.from({ length: count * 784 }, () => rng.next());
      const expected = model.logits(images, count);

      const files = await exportLayersModel(spec, weights);
      assert.equal(files.modelJson.format, 'layers-model');
      assert.deepEqual(files.modelJson.weightsManifest[0]!.paths, ['./tabswarm-model.weights.bin']);
      assert.equal(files.weightData.byteLength, 4 * model.size);
      const loaded = await tf.loadLayersModel(inMemory(files));
      const loadedWeights = loaded.getWeights().map((w) => w.dataSync() as Float32Array);
      assert.deepEqual(loadedWeights.map((w) => w.length), weights.map((w) => w.length));
      loadedWeights.forEach((w, i) => assert.deepEqual(w, weights[i], `weight ${i} (${model.layers[i]!.name})`));
      const x = tf.tensor4d(images, [count, 28, 28, 1]);
      const y = loaded.predict(x) as tf.Tensor;
      const actual = y.dataSync();
      assert.deepEqual(y.shape, [count, 10]);
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
      assert.ok(worst < 1e-5, `largest logit difference ${worst}`);
      tf.dispose([x, y]);
      loaded.dispose();
      model.dispose();
      assert.equal(tf.memory().numTensors, baseline);
    });
  }

  it('names the layers in the order of the parameters', () => {
    const layers = layersModelOf({ name: 'cnn', inputShape: [28, 28, 1], classes: 10 });
    const model = new Model('cnn', [28, 28, 1], 10);
    assert.deepEqual(layers.weights.map((w) => w.shape), model.layers.map((l) => l.shape));
    assert.deepEqual(layers.weights.map((w) => w.originalName), ['conv1/kernel', 'conv1/bias', 'conv2/kernel', 'conv2/bias', 'dense/kernel', 'dense/bias']);
    layers.dispose();
    model.dispose();
  });

  it('refuses weights that do not fit, by name', async () => {
    const spec = { name: 'mlp' as const, inputShape: [28, 28, 1] as [number, number, number], classes: 10 };
    const model = new Model('mlp', spec.inputShape, spec.classes);
    const weights = randomWeights(model, 1);
    await assert.rejects(exportLayersModel(spec, weights.slice(1)), { name: 'ModelExportError', message: 'mlp has 4 weight arrays, got 3' });
    await assert.rejects(exportLayersModel(spec, [weights[0]!.subarray(1), ...weights.slice(1)]), { name: 'ModelExportError', message: 'weight 0 of mlp has 200704 values, got 200703' });
    model.dispose();
  });
});
