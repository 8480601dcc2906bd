/**
 * Received input is checked where it is decoded: a chunk of the wrong length, a non-finite value
 * or one over the caller's bound fails the collective with PeerInputError naming the sender.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerInputError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { createLocalGroup, type LocalGroupInit } from '../testing/local-group.ts';
import { addChecked, decodeValues, limitFor } from './received.ts';

/** Vectors under this go by direct exchange in these tests (from three peers on, none do by default). */
const DIRECT = 1 << 20;

const vector = (length: number, seed: number): Float32Array => new Rng(seed).fillGaussian(new Float32Array(length)) as Float32Array;

/** Every peer's outcome ('ok' or the error), once every peer settled; no receive left behind. */
async function outcomes(n: number, init: LocalGroupInit, input: (rank: number) => Float32Array): Promise<{ ids: string[]; results: unknown[] }> {
  const group = createLocalGroup(n, init);
  try {
    const results = await group.run(1, (c, rank) => c.allReduceSum(input(rank), 0).then(() => 'ok', (e: unknown) => e), { timeoutMs: 1_000 });
    assert.deepEqual(group.messengers.map((m) => m.pendingReceives), new Array<number>(n).fill(0));
    return { ids: group.ids, results };
  } finally {
    group.close();
  }
}

const isInputError = (e: unknown, suspect: string, pattern: RegExp): boolean =>
  e instanceof PeerInputError && e.name === 'PeerInputError' && e.suspect === suspect && pattern.test(e.message);

describe('received chunks are checked on arrival', () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    it(`ring: a ${bad} from peer 1 is refused by its successor, which names peer 1`, async () => {
      const { ids, results } = await outcomes(4, { directBelowBytes: 0, chunkValues: 50 }, (rank) => {
        const x = vector(1000, rank);
        if (rank === 1) x[300] = bad; // segment 1: peer 1's own, sent alone at hop 0
        return x;
      });
      assert.ok(isInputError(results[2], ids[1]!, /not finite|not a number/), String(results[2]));
      // No peer completes a sum that would hold it; they give up by name.
      for (const r of [0, 1, 2, 3]) assert.ok(['PeerInputError', 'TimeoutError'].includes((results[r] as Error).name), String(results[r]));
    });
  }

  it('direct exchange: every other peer refuses the NaN and names its sender', async () => {
    const { ids, results } = await outcomes(3, { directBelowBytes: DIRECT }, (rank) => {
      const x = vector(10, rank);
      if (rank === 0) x[3] = NaN;
      return x;
    });
    assert.ok(isInputError(results[1], ids[0]!, /not a number/), String(results[1]));
    assert.ok(isInputError(results[2], ids[0]!, /not a number/), String(results[2]));
  });

  it('an honest overflow is no bad input: two finite 3e38 sum to Infinity, the same on every peer', async () => {
    const group = createLocalGroup(3, { directBelowBytes: 0, chunkValues: 3 });
    try {
      const results = await group.run(1, (c, rank) => c.allReduceSum(new Float32Array(10).fill(rank < 2 ? 3e38 : 1), 0));
      for (const r of results) assert.deepEqual([...r], new Array<number>(10).fill(Infinity));
    } finally {
      group.close();
    }
  });

  it('a NaN an owner puts into its finished segment is refused by the peer it gathers to', async () => {
    // Peer 1 owns segment 2 (values 6..8 of 9): its NaN there leaves it only in the all-gather.
    const { ids, results } = await outcomes(3, { directBelowBytes: 0 }, (rank) => {
      const x = new Float32Array(9).fill(1);
      if (rank === 1) x[7] = NaN;
      return x;
    });
    assert.ok(isInputError(results[2], ids[1]!, /Gather .*not a number/), String(results[2]));
  });

  it('maxAbs: partial sums up to k times the bound pass, a value over it is refused', async () => {
    const n = 4;
    const maxAbs = 10;
    const honest = await outcomes(n, { directBelowBytes: 0, chunkValues: 7, maxAbs }, () => new Float32Array(100).fill(-maxAbs));
    assert.deepEqual(honest.results, new Array<string>(n).fill('ok'));
    const { ids, results } = await outcomes(n, { directBelowBytes: 0, chunkValues: 7, maxAbs }, (rank) => new Float32Array(100).fill(rank === 3 ? 10.5 : 1));
    assert.ok(isInputError(results[0], ids[3]!, /over the bound 10/), String(results[0]));
    const direct = await outcomes(n, { maxAbs, directBelowBytes: DIRECT }, (rank) => new Float32Array(5).fill(rank === 2 ? -11 : 1));
    for (const r of [0, 1, 3]) assert.ok(isInputError(direct.results[r], direct.ids[2]!, /over the bound/), String(direct.results[r]));
  });

  it('a peer whose vector has another length sends chunks of other lengths: refused by length', async () => {
    const ring = await outcomes(3, { directBelowBytes: 0 }, (rank) => vector(rank === 0 ? 1003 : 1000, rank));
    assert.ok(isInputError(ring.results[1], ring.ids[0]!, /sent 1336 bytes .* expected 1332/), String(ring.results[1]));
    const direct = await outcomes(3, { directBelowBytes: DIRECT }, (rank) => vector(rank === 2 ? 9 : 8, rank));
    assert.ok(isInputError(direct.results[0], direct.ids[2]!, /sent 36 bytes .* expected 32/), String(direct.results[0]));
  });

  it('decodeValues: views aligned payloads, copies unaligned ones, refuses odd lengths', () => {
    const bytes = new Uint8Array(4 * 3 + 1);
    new Float32Array(bytes.buffer, 0, 3).set([1, 2, 3]);
    const view = decodeValues(bytes.subarray(0, 12), 3, 'f32', 'p', 'x');
    assert.equal(view.buffer, bytes.buffer, 'aligned f32 payload read in place');
    const shifted = new Uint8Array(13);
    shifted.set(bytes.subarray(0, 12), 1);
    assert.deepEqual([...decodeValues(shifted.subarray(1), 3, 'f32', 'p', 'x')], [1, 2, 3]);
    assert.throws(() => decodeValues(new Uint8Array(5), 3, 'f16', 'p', 'x'), (e) => isInputError(e, 'p', /sent 5 bytes/));
  });

  it('addChecked sums in place and stops at the first bad value', () => {
    const target = Float32Array.of(1, 2, 3);
    addChecked(target, Float32Array.of(1, 1, 1), Infinity, 'p', 'x');
    assert.deepEqual([...target], [2, 3, 4]);
    assert.throws(() => addChecked(target, Float32Array.of(0, Infinity, 0), limitFor(Infinity, 1, 'f32'), 'q', 'x'), (e) => isInputError(e, 'q', /index 1/));
    addChecked(target, Float32Array.of(0, Infinity, 0), limitFor(Infinity, 2, 'f32'), 'q', 'x');
    assert.equal(target[1], Infinity);
    assert.throws(() => addChecked(target, Float32Array.of(NaN, 0, 0), limitFor(Infinity, 3, 'f16'), 'q', 'x'), (e) => isInputError(e, 'q', /index 0/));
  });
});
