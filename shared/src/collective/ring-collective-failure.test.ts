/**
 * A ring step that fails must leave nothing behind: when one leg of a hop or an exchange fails,
 * the other leg's receives are released once the step's deadline is cleared.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRecoverable } from '../errors.ts';
import { Rng } from '../rng.ts';
import { createLocalGroup } from '../testing/local-group.ts';

const vector = (length: number, seed: number): Float32Array => new Rng(seed).fillGaussian(new Float32Array(length)) as Float32Array;

/** Every peer's outcome, the error's name for a failure; resolves once every peer settled. */
type Outcome = string;

describe('ring all-reduce: failures leave no pending receive behind', () => {
  it('a peer gone before the step: the send leg fails at once, the receive leg is released', async () => {
    // Latency far above the test's duration: no frame arrives before the check.
    const group = createLocalGroup(3, { directBelowBytes: 0, latencyMs: 2_000 });
    try {
      group.network.kill(group.ids[2]!);
      const outcomes = await group.run(1, (c, rank) =>
        rank === 2 ? Promise.resolve<Outcome>('killed') : c.allReduceSum(vector(3000, rank), 0).then(() => 'ok', (e: Error) => e.name),
      );
      // Peer 0 waits on peer 2 (gone), peer 1 cannot send to peer 2; both had a receive pending.
      assert.deepEqual(outcomes, ['PeerLeftError', 'PeerLeftError', 'killed']);
      assert.deepEqual(group.messengers.slice(0, 2).map((m) => m.pendingReceives), [0, 0]);
    } finally {
      group.close();
    }
  });

  it('a peer killed mid-run: every survivor fails by name and keeps no receive', async () => {
    const n = 4;
    const group = createLocalGroup(n, { directBelowBytes: 0, latencyMs: 2 });
    try {
      let frames = 0;
      group.network.faultHook = () => {
        if (++frames === 5) group.network.kill(group.ids[3]!); // during the reduce-scatter
        return undefined;
      };
      // A short deadline: peers stalled behind the hole time out instead of waiting 30 s.
      const outcomes = await group.run(
        1,
        (c, rank) => c.allReduceSum(vector(40_000, rank), 0).then(() => 'ok', (e: Error) => (isRecoverable(e) ? e.name : `unexpected ${e.name}`)),
        { timeoutMs: 500 },
      );
      for (const [rank, outcome] of outcomes.slice(0, 3).entries()) {
        assert.ok(outcome === 'PeerLeftError' || outcome === 'TimeoutError', `peer ${rank}: ${outcome}`);
      }
      assert.deepEqual(group.messengers.slice(0, 3).map((m) => m.pendingReceives), [0, 0, 0]);
    } finally {
      group.close();
    }
  });

  it('an all-gather whose send leg fails releases the receives from the other peers', async () => {
    // Peers 0 and 3 fail at once (no channel between them); what peers 1 and 2 send them is lost,
    // so only the cleared deadline can release their receives from 1 and 2.
    const group = createLocalGroup(4, { latencyMs: 1 });
    try {
      const [p0, p1, p2, p3] = group.ids;
      group.network.cut(p0!, p3!);
      group.network.faultHook = (from, to) => ((to === p0 || to === p3) && (from === p1 || from === p2) ? 'drop' : undefined);
      const outcomes = await group.run(1, (c, rank) => c.allGather(new Uint8Array(10).fill(rank), 7).then(() => 'ok', (e: Error) => e.name));
      assert.deepEqual(outcomes, ['PeerLeftError', 'ok', 'ok', 'PeerLeftError']);
      assert.deepEqual(group.messengers.map((m) => m.pendingReceives), [0, 0, 0, 0]);
    } finally {
      group.close();
    }
  });
});
