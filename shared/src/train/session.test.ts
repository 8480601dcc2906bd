import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import type { Dataset } from '../data/mnist.ts';
import { Model } from '../model/model.ts';
import { quadrantImages } from '../data/synthetic.ts';
import { InMemoryNetwork } from '../transport/in-memory-transport.ts';
import { Messenger } from '../wire/messenger.ts';
import { parseRunConfig, type RunConfig } from './config.ts';
import { TrainingSession, chooseSource } from './session.ts';

const synthetic = (count: number, seed: number): Dataset => quadrantImages(count, 4, seed);

interface Peer {
  id: string;
  session: TrainingSession;
  messenger: Messenger;
  model: Model;
  done: Promise<void>;
}

function startPeer(network: InMemoryNetwork, id: string, config: RunConfig, train: Dataset, test: Dataset): Peer {
  const transport = network.join(id);
  const messenger = new Messenger(transport);
  const model = new Model('mlp', [4, 4, 1], 4);
  const session = new TrainingSession({
    selfId: id, config, messenger, model, train, test,
    connect: async () => undefined,
    stepTimeoutMs: 5_000,
    syncTimeoutMs: 5_000,
  });
  return { id, session, messenger, model, done: session.run() };
}

describe('training session over the in-memory transport', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });
  after(() => undefined);

  const train = synthetic(2000, 1);
  const test = synthetic(400, 2);

  it('three peers train in lockstep to identical weights and learn', async () => {
    const config = parseRunConfig({ steps: 30, workers: 3, batchSize: 32, lr: 0.01, evalEvery: 10, evalSize: 400 });
    const network = new InMemoryNetwork({ latencyMs: 1 });
    const ids = ['a', 'b', 'c'];
    const peers = ids.map((id) => startPeer(network, id, config, train, test));
    for (const p of peers) p.session.setView({ epoch: 3, members: ids });
    await Promise.all(peers.map((p) => p.done));
    for (const p of peers) {
      assert.equal(p.session.state, 'done', p.session.error ?? '');
      assert.equal(p.session.step, 30);
      assert.equal(p.session.weightsHash, peers[0]!.session.weightsHash);
    }
    const h = peers[0]!.session.history;
    assert.ok(h.at(-1)!.loss < 0.5 * h[0]!.loss, `loss ${h[0]!.loss} -> ${h.at(-1)!.loss}`);
    assert.ok(peers[0]!.session.testAccuracy! > 0.9, `accuracy ${peers[0]!.session.testAccuracy}`);
    for (const p of peers) p.model.dispose();
  });

  it('a late joiner receives the state and continues in lockstep', async () => {
    const config = parseRunConfig({ steps: 40, workers: 2, batchSize: 16, lr: 0.01, evalEvery: 100, evalSize: 100 });
    const network = new InMemoryNetwork({ latencyMs: 1 });
    const a = startPeer(network, 'a', config, train, test);
    const b = startPeer(network, 'b', config, train, test);
    a.session.setView({ epoch: 2, members: ['a', 'b'] });
    b.session.setView({ epoch: 2, members: ['a', 'b'] });
    while (a.session.step < 10) await new Promise((r) => setTimeout(r, 5));
    const c = startPeer(network, 'c', config, train, test);
    for (const p of [a, b, c]) p.session.setView({ epoch: 3, members: ['a', 'b', 'c'] });
    await Promise.all([a.done, b.done, c.done]);
    for (const p of [a, b, c]) {
      assert.equal(p.session.state, 'done', p.session.error ?? '');
      assert.equal(p.session.weightsHash, a.session.weightsHash);
    }
    assert.ok(c.session.events.some((e) => e.kind === 'state-received'));
    // c trained its steps as a member of three.
    assert.ok(c.session.history.length > 0 && c.session.history.every((r) => r.peers === 3));
    for (const p of [a, b, c]) p.model.dispose();
  });

  it('staleness 1: the next gradient is computed before the update lands, replicas stay identical', async () => {
    const run = async (staleness: 0 | 1) => {
      const config = parseRunConfig({ steps: 20, workers: 2, batchSize: 32, lr: 0.01, evalEvery: 20, evalSize: 400, staleness });
      const network = new InMemoryNetwork({ latencyMs: 2 });
      const peers = ['a', 'b'].map((id) => startPeer(network, id, config, train, test));
      for (const p of peers) p.session.setView({ epoch: 1, members: ['a', 'b'] });
      await Promise.all(peers.map((p) => p.done));
      for (const p of peers) {
        assert.equal(p.session.state, 'done', p.session.error ?? '');
        assert.equal(p.session.weightsHash, peers[0]!.session.weightsHash);
        p.model.dispose();
      }
      return peers[0]!.session;
    };
    const fresh = await run(0);
    const stale = await run(1);
    // Step 1 computes at the initial weights either way; from step 2 on, the stale run's gradient
    // was taken before the previous update was applied, so the losses part ways.
    assert.equal(stale.history[0]!.loss, fresh.history[0]!.loss);
    assert.notEqual(stale.history[1]!.loss, fresh.history[1]!.loss);
    assert.ok(stale.testAccuracy! > 0.9, `stale accuracy ${stale.testAccuracy}`);
  });

  it('a NaN gradient is contributed as zeros and reported; weights stay finite and identical', async () => {
    const config = parseRunConfig({ steps: 6, workers: 2, batchSize: 8, evalEvery: 100, evalSize: 50 });
    const network = new InMemoryNetwork();
    const poisoned: Dataset = { ...train, images: train.images.slice().fill(NaN) };
    const a = startPeer(network, 'a', config, train, test);
    const b = startPeer(network, 'b', config, poisoned, test);
    for (const p of [a, b]) p.session.setView({ epoch: 1, members: ['a', 'b'] });
    await Promise.all([a.done, b.done]);
    assert.equal(a.session.state, 'done');
    assert.equal(b.session.weightsHash, a.session.weightsHash);
    assert.equal(b.session.events.filter((e) => e.kind === 'nonfinite').length, 6);
    const weights = (a.session as unknown as { weights: Float32Array[] }).weights;
    assert.ok(weights.every((w) => w.every(Number.isFinite)));
    for (const p of [a, b]) p.model.dispose();
  });

  it('no tensors leak across steps', async () => {
    const config = parseRunConfig({ steps: 5, workers: 1, batchSize: 8, evalEvery: 1, evalSize: 50 });
    const network = new InMemoryNetwork();
    const p = startPeer(network, 'solo', config, train, test);
    p.session.setView({ epoch: 1, members: ['solo'] });
    await p.done;
    const before = tf.memory().numTensors;
    const q = startPeer(network, 'solo2', { ...config, steps: 25 }, train, test);
    const tensorsOfModel = tf.memory().numTensors - before;
    q.session.setView({ epoch: 1, members: ['solo2'] });
    await q.done;
    assert.equal(q.session.step, 25);
    assert.equal(tf.memory().numTensors, before + tensorsOfModel);
    p.model.dispose();
    q.model.dispose();
  });

  it('chooses the majority weights at the highest step, then the lowest id', () => {
    const hellos = new Map([
      ['a', { step: 5, hash: 'x' }],
      ['b', { step: 7, hash: 'bad' }],
      ['c', { step: 7, hash: 'good' }],
      ['d', { step: 7, hash: 'good' }],
    ]);
    assert.equal(chooseSource(['d', 'c', 'b', 'a'], hellos), 'c');
  });
});
