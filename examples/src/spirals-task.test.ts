import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { parseRunConfig, Rng } from '@tabswarm/shared';
import { trainTaskInMemory } from '@tabswarm/shared/testing';
import { spiralTable, task } from './spirals-task.ts';

before(async () => {
  await tf.setBackend('cpu');
});

test('the spirals example trains with 2 members: loss falls, replicas identical, no tensor left', async () => {
  const baseline = tf.memory().numTensors;
  const config = parseRunConfig({ steps: 150, workers: 2, batchSize: 32, lr: 0.01, evalEvery: 50, evalSize: 600, checkEvery: 10 });
  const members = await trainTaskInMemory(task, config, 2);
  for (const m of members) {
    assert.equal(m.state, 'done', m.error ?? '');
    assert.equal(m.history.length, 150);
    assert.equal(m.weightsHash, members[0]!.weightsHash);
  }
  const losses = members[0]!.history.map((r) => r.loss);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(losses.slice(0, 10));
  const last = mean(losses.slice(-10));
  console.log(`spirals: loss ${first.toFixed(3)} -> ${last.toFixed(3)}, test accuracy ${members[0]!.testAccuracy}`);
  assert.ok(last < 0.6 * first, `loss ${first} -> ${last}`);
  assert.ok(members[0]!.testAccuracy! > 0.6, `accuracy ${members[0]!.testAccuracy}`);
  assert.equal(tf.memory().numTensors, baseline);
});

test('a spirals model exported as Layers artifacts loads with tf.loadLayersModel and predicts what the trained model does', async () => {
  const baseline = tf.memory().numTensors;
  const held = spiralTable(600, 2); // the task's test set
  const model = task.createModel(held, parseRunConfig({}));
  // Weights unlike the initial ones (biases too), so a swapped or transposed array would show.
  const rng = new Rng(5);
  const weights = model.layers.map((l) => Float32Array.from({ length: l.shape.reduce((a, b) => a * b, 1) }, () => 2 * rng.next() - 1));
  const artifacts = await model.layersArtifacts!(weights);
  model.setWeights(weights);
  const trainedAccuracy = model.accuracy(held);
  model.dispose();

  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  loaded.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), weights[i], `weight ${i}`));
  const [w1, b1, w2, b2, w3, b3] = weights.map((w, i) => tf.tensor(w, model.layers[i]!.shape));
  const x = tf.tensor2d(held.images, [held.count, 2]);
  // The task's network written out by hand: dense(32, relu) -> dense(32, relu) -> dense(3).
  const expected = tf.tidy(() => tf.relu(tf.relu(x.matMul(w1!).add(b1!)).matMul(w2!).add(b2!)).matMul(w3!).add(b3!));
  const actual = loaded.predict(x) as tf.Tensor2D;
  const [e, a] = [expected.dataSync(), actual.dataSync()];
  assert.deepEqual(actual.shape, [held.count, 3]);
  let worst = 0;
  for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(e[i]! - a[i]!));
  assert.ok(worst < 1e-6, `largest logit difference ${worst}`);
  const classes = tf.tidy(() => actual.argMax(1).dataSync());
  const correct = held.labels.filter((label, i) => classes[i] === label).length;
  assert.equal(correct / held.count, trainedAccuracy, 'the loaded model classifies the test points as the trained one did');
  tf.dispose([w1!, b1!, w2!, b2!, w3!, b3!, x, expected, actual]);
  loaded.dispose();
  assert.equal(tf.memory().numTensors, baseline);
});

test('the export refuses weights that do not fit the model, by name', async () => {
  const model = task.createModel(spiralTable(10, 1), parseRunConfig({}));
  const weights = model.initialWeights(1);
  await assert.rejects(model.layersArtifacts!(weights.slice(1)), { name: 'ModelExportError', message: /has 6 weight arrays, got 5$/ });
  await assert.rejects(model.layersArtifacts!([weights[0]!.subarray(1), ...weights.slice(1)]), { name: 'ModelExportError', message: /^weight 0 of model .* \(.*kernel.*\) has 64 values, got 63$/ });
  model.dispose();
});
