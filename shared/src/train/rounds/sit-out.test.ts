import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeOutcome, encodeOutcome, sittingOut, type RoundOutcome } from './sit-out.ts';

const OUTCOME: RoundOutcome = {
  update: [Float32Array.from([1.5, -2, 3e-8]), new Float32Array(0), Float32Array.from([7])],
  counts: [64, 0, 1_000_000],
  sitsOutNext: [false, false, true],
  sharedState: Uint8Array.from([9, 8, 7]),
};

describe('a round\'s outcome for a member that sat it out', () => {
  it('decodes to the same bits it was encoded from, whatever the alignment of the layers', () => {
    const bytes = encodeOutcome(OUTCOME);
    // Copied to an odd offset: the f32 values sit unaligned in the frame.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const decoded = decodeOutcome(shifted.subarray(1), 3, [3, 0, 1]);
    assert.deepEqual(decoded, OUTCOME);
  });

  it('an update every member refused as non-finite travels as no layers, and decodes to null', () => {
    const refused: RoundOutcome = { update: null, counts: [0, 0, 0], sitsOutNext: [false, false, false], sharedState: Uint8Array.from([1]) };
    const bytes = encodeOutcome(refused);
    assert.equal(bytes.length, 4 + 15 + 4 + 1 + 4);
    assert.deepEqual(decodeOutcome(bytes, 3, [3, 0, 1]), refused);
  });

  it('refuses an outcome that does not fit the epoch or the model, or is cut, or runs on', () => {
    const bytes = encodeOutcome(OUTCOME);
    assert.throws(() => decodeOutcome(bytes, 4, [3, 0, 1]), { name: 'WireFormatError', message: /3 members, the epoch has 4/ });
    assert.throws(() => decodeOutcome(bytes, 3, [3, 0, 2]), { name: 'WireFormatError', message: /layer 2 has 1 values/ });
    assert.throws(() => decodeOutcome(bytes, 3, [3, 0]), { name: 'WireFormatError', message: /3 layers, the model has 2/ });
    assert.throws(() => decodeOutcome(bytes.subarray(0, bytes.length - 1), 3, [3, 0, 1]), { name: 'WireFormatError', message: /past its/ });
    const longer = new Uint8Array(bytes.length + 2);
    longer.set(bytes);
    assert.throws(() => decodeOutcome(longer, 3, [3, 0, 1]), { name: 'WireFormatError', message: /2 bytes past its end/ });
    const badFlag = bytes.slice();
    badFlag[4 + 4] = 2; // member 0's flag
    assert.throws(() => decodeOutcome(badFlag, 3, [3, 0, 1]), { name: 'WireFormatError', message: /flag 2/ });
  });

  it('the members sitting the next round out: those flagged, unless nobody would be left', () => {
    assert.deepEqual([...sittingOut(['a', 'b', 'c'], [false, true, true])], ['b', 'c']);
    assert.deepEqual([...sittingOut(['a', 'b'], [true, true])], []);
    assert.deepEqual([...sittingOut(['a'], [true])], []);
  });
});
