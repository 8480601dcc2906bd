import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeChange, Membership } from './membership.ts';

describe('membership', () => {
  it('a newer epoch aborts the previous signal with AbortedError and sorts the members', () => {
    const m = new Membership();
    assert.deepEqual(m.update({ epoch: 3, members: ['c', 'a'] }), []);
    const first = m.signal;
    assert.deepEqual(m.update({ epoch: 4, members: ['b', 'c', 'a'] }), ['a', 'c']);
    assert.equal(first.aborted, true);
    assert.equal((first.reason as Error).name, 'AbortedError');
    assert.equal((first.reason as Error).message, 'membership changed (epoch 4)');
    assert.equal(m.signal.aborted, false);
    assert.deepEqual(m.view, { epoch: 4, members: ['a', 'b', 'c'] });
  });

  it('an epoch that is not newer changes nothing', () => {
    const m = new Membership();
    m.update({ epoch: 5, members: ['a', 'b'] });
    const signal = m.signal;
    assert.equal(m.update({ epoch: 5, members: ['a'] }), null);
    assert.equal(m.update({ epoch: 2, members: ['x'] }), null);
    assert.equal(signal.aborted, false);
    assert.deepEqual(m.view, { epoch: 5, members: ['a', 'b'] });
  });

  it('stop() aborts for good, and next() resolves at once afterwards', async () => {
    const m = new Membership();
    m.update({ epoch: 1, members: ['a'] });
    const waiting = m.next(60_000);
    m.stop();
    await waiting;
    assert.equal((m.signal.reason as Error).name, 'AbortedError');
    assert.equal((m.signal.reason as Error).message, 'stopped');
    await m.next(60_000); // would hang the test for a minute if it waited
  });

  it('next() resolves at the next epoch', async () => {
    const m = new Membership();
    const waiting = m.next(60_000);
    m.update({ epoch: 1, members: ['a'] });
    await waiting;
    assert.deepEqual(m.view, { epoch: 1, members: ['a'] });
  });

  it('describes a change with ids cut to 8 characters', () => {
    assert.equal(describeChange(['aaaaaaaaaa', 'bbbbbbbbbb'], ['bbbbbbbbbb', 'cccccccccc'], 7), 'epoch 7: 2 peers; joined cccccccc; left aaaaaaaa');
    assert.equal(describeChange([], ['a'], 1), 'epoch 1: 1 peers; joined a');
  });
});
