import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { quadrantImages } from '../data/synthetic.ts';
import { deadline } from '../deadline.ts';
import { Model } from '../model/model.ts';
import { InMemoryNetwork } from '../transport/in-memory-transport.ts';
import { Messenger } from '../wire/messenger.ts';
import { parseRunConfig } from './config.ts';
import { hashArrays } from './hash.ts';
import { observeState } from './observe.ts';
import { TrainingSession } from './session.ts';

describe('an observer follows a room over the in-memory transport', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  const train = quadrantImages(800, 4, 1);
  const test = quadrantImages(200, 4, 2);

  it('gets the verified state of a run under way and of the finished run; it is in no step', async () => {
    const config = parseRunConfig({ steps: 30, workers: 2, batchSize: 16, lr: 0.01, evalEvery: 10, evalSize: 200 });
    const network = new InMemoryNetwork({ latencyMs: 1 });
    const observerId = 'o';
    const observer = new Messenger(network.join(observerId));
    const members = ['a', 'b'].map((id) => {
      const messenger = new Messenger(network.join(id));
      const model = new Model('mlp', [4, 4, 1], 4);
      const session = new TrainingSession({
        selfId: id, config, messenger, model, train, test, connect: async () => undefined, stepTimeoutMs: 5_000, syncTimeoutMs: 5_000,
        isObserver: (peer) => peer === observerId,
      });
      session.setView({ epoch: 2, members: ['a', 'b'] });
      return { session, model, messenger, done: session.run() };
    });
    const sizes = members[0]!.model.layers.map((l) => l.shape.reduce((x, y) => x * y, 1));
    const limit = deadline(10_000, 'observing');
    try {
      while (members[0]!.session.step < 5) await new Promise((r) => setTimeout(r, 2));
      const during = await observeState(observer, 'a', { epoch: 2, sizes, lastStep: config.steps, signal: limit.signal });
      assert.ok(during.snapshot.step >= 5 && during.snapshot.step <= config.steps, `step ${during.snapshot.step}`);
      assert.equal(hashArrays(during.snapshot.weights), during.hash);

      await Promise.all(members.map((m) => m.done));
      for (const m of members) assert.equal(m.session.state, 'done', m.session.error ?? '');
      const final = { step: config.steps, hash: members[0]!.session.weightsHash };
      assert.equal(members[1]!.session.weightsHash, final.hash);
      const done = await observeState(observer, 'b', { epoch: 2, sizes, lastStep: config.steps, expected: final, signal: limit.signal });
      assert.equal(done.snapshot.step, config.steps);
      assert.equal(done.hash, final.hash);
      assert.ok(done.bytes > 4 * sizes.reduce((x, y) => x + y, 0), `${done.bytes} bytes`);

      // The room's record names another hash: whatever b holds is refused, naming b.
      await new Promise((r) => setTimeout(r, 2_100));
      await assert.rejects(
        observeState(observer, 'b', { epoch: 2, sizes, lastStep: config.steps, expected: { ...final, hash: 'ffffffffffffffff' }, signal: limit.signal }),
        { name: 'PeerInputError', suspect: 'b', message: `state from b refused: it holds step 30 (${final.hash}), the room finished at step 30 (ffffffffffffffff)` },
      );
      // Asked again at once, a member does not send megabytes again: no answer within the deadline.
      const soon = deadline(300, 'a second request');
      await assert.rejects(observeState(observer, 'b', { epoch: 2, sizes, lastStep: config.steps, signal: soon.signal }), { name: 'TimeoutError' });
      soon.clear();
      // The observer never took part: every step ran with the two members.
      for (const m of members) assert.ok(m.session.history.every((r) => r.peers === 2));
    } finally {
      limit.clear();
      observer.dispose();
      for (const m of members) {
        m.session.dispose();
        m.messenger.dispose();
        m.model.dispose();
      }
    }
  });
});
