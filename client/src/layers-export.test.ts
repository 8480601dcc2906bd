import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { fromLayersModel, Model, parseRunConfig, Rng, type Task, type TrainableModel } from '@tabswarm/shared';
import { exportLayersModel, exportTaskModel, inMemory, layersModelOf } from './layers-export.ts';

/** Weights unlike the initial ones (random biases too), so a swapped or transposed array shows. */
function randomWeights(model: Pick<TrainableModel, 'layers'>, seed: number): Float32Array[] {
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

  it('a task\'s own LayersModel (a recurrent one): its topology with the room\'s weights, which load back as they were', async () => {
    const baseline = tf.memory().numTensors;
    const data = { shape: [6], classes: 5 };
    const task: Task = {
      name: 'tiny-lstm', dataset: 'none', loadData: () => Promise.reject(new Error('not used')),
      createModel: () => fromLayersModel(tf.sequential({ layers: [
        tf.layers.embedding({ inputDim: 5, outputDim: 4, inputLength: 6 }), tf.layers.lstm({ units: 3 }), tf.layers.dense({ units: 5 }),
      ] })),
    };
    const trained = task.createModel(data, parseRunConfig({}));
    const weights = randomWeights(trained, 11);
    trained.setWeights(weights);
    const rng = new Rng(4);
    const inputs = { images: Float32Array.from({ length: 8 * 6 }, () => rng.int(5)), labels: Uint8Array.from({ length: 8 }, () => rng.int(5)), count: 8, shape: [6], classes: 5 };

    const files = await exportTaskModel(task, data, parseRunConfig({}), weights, 'room-step3');
    assert.deepEqual(files.modelJson.weightsManifest[0]!.paths, ['./room-step3.weights.bin']);
    assert.equal(files.weightData.byteLength, 4 * trained.size);
    const loaded = await tf.loadLayersModel(inMemory(files));
    loaded.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), weights[i], `weight ${i}`));
    const classes = tf.tidy(() => (loaded.predict(tf.tensor2d(inputs.images, [8, 6])) as tf.Tensor).argMax(1).dataSync());
    const correct = inputs.labels.filter((label, i) => classes[i] === label).length;
    assert.equal(correct / 8, trained.accuracy(inputs), 'the loaded model classifies as the trained one');
    loaded.dispose();
    trained.dispose();
    assert.equal(tf.memory().numTensors, baseline);
  });

  it('a task whose model is no LayersModel cannot be exported, and says so', async () => {
    const task: Task = { name: 'plain', dataset: 'none', loadData: () => Promise.reject(new Error('not used')), createModel: (d) => new Model('mlp', d.shape, d.classes) };
    const baseline = tf.memory().numTensors;
    await assert.rejects(exportTaskModel(task, { shape: [28, 28, 1], classes: 10 }, parseRunConfig({}), []), {
      name: 'ModelExportError', message: 'the model of the task plain is no tfjs LayersModel (fromLayersModel), so it has no Layers topology to export',
    });
    assert.equal(tf.memory().numTensors, baseline, 'the model built for the export is disposed');
  });
});
