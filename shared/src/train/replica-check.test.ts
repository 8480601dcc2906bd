import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Collective } from '../collective/collective.ts';
import { findDivergence, TAG_REPLICA_CHECK } from './replica-check.ts';

/** A collective whose all-gather returns the given hashes, by rank, and records the tag. */
function gathering(hashes: string[], tags: number[]): Collective {
  return {
    size: hashes.length,
    rank: 0,
    step: 40,
    allReduceSum: () => Promise.reject(new Error('not used')),
    allGather: (_blob, tag) => {
      tags.push(tag);
      return Promise.resolve(hashes.map((h) => new TextEncoder().encode(h)));
    },
  };
}

describe('replica check', () => {
  it('finds nothing when every member holds our hash', async () => {
    const tags: number[] = [];
    assert.equal(await findDivergence(gathering(['h1', 'h1', 'h1'], tags), ['a', 'b', 'c'], 'h1'), null);
    assert.deepEqual(tags, [TAG_REPLICA_CHECK]);
  });

  it('names the members whose hash differs, with theirs and ours', async () => {
    const found = await findDivergence(gathering(['h1', 'bad', 'h1', 'worse'], []), ['a', 'b', 'c', 'dddddddddd'], 'h1');
    assert.equal(found, 'weights differ at step 40: b=bad, dddddddd=worse vs ours h1');
  });
});
