/**
 * The recurrent model trains with 2 members and PowerSGD (rank 2, error feedback): its
 * embedding, LSTM and output kernels travel as rank-2 factors, the loss falls and both replicas
 * hold the same weights at the end; no tensor is left.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { parseRunConfig } from '@tabswarm/shared';
import { trainTaskInMemory } from '@tabswarm/shared/testing';
import { task } from './char-rnn-task.ts';

before(async () => {
  await tf.setBackend('cpu');
});

test('the story\'s windows: 16 characters and the next one, 29 characters in all', async () => {
  const { train, test: held } = await task.loadData(new AbortController().signal);
  assert.deepEqual(train.shape, [16]);
  assert.equal(train.classes, 29);
  assert.equal(train.count + held.count, 3825 - 16);
});

test('a character LSTM trains with 2 members and PowerSGD + error feedback: loss falls, replicas identical', { timeout: 180_000 }, async () => {
  const baseline = tf.memory().numTensors;
  const steps = 80;
  const config = parseRunConfig({ steps, workers: 2, batchSize: 32, lr: 0.01, compressor: 'powersgd', rank: 2, ef: 'ef14', evalEvery: 40, evalSize: 300, checkEvery: 10 });
  const members = await trainTaskInMemory(task, config, 2);
  for (const m of members) {
    assert.equal(m.state, 'done', m.error ?? '');
    assert.equal(m.history.length, steps);
    assert.match(m.compressor, /powersgd/);
    assert.equal(m.weightsHash, members[0]!.weightsHash);
  }
  const losses = members[0]!.history.map((r) => r.loss);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(losses.slice(0, 10));
  const last = mean(losses.slice(-10));
  const sent = members[0]!.history.at(-1)!.bytesSent;
  console.log(`char-lstm, powersgd rank 2: loss ${first.toFixed(3)} -> ${last.toFixed(3)}, accuracy ${members[0]!.testAccuracy}, ${sent} bytes sent at the last step`);
  assert.ok(last < 0.85 * first, `loss ${first} -> ${last}`);
  // Two members exchange the whole vector once per step in fp32 (4 bytes a weight); rank-2 factors are far fewer.
  const data = await task.loadData(new AbortController().signal);
  const model = task.createModel(data.train, config);
  const fp32 = 4 * model.size;
  model.dispose();
  assert.ok(sent < fp32 / 5, `${sent} bytes against ${fp32} in fp32`);
  assert.equal(tf.memory().numTensors, baseline);
});
