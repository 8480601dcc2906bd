import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { parseRunConfig } from '@tabswarm/shared';
import { trainTaskInMemory } from '@tabswarm/shared/testing';
import { task } from './spirals-task.ts';

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
