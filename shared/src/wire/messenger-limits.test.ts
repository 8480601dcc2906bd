import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deadline } from '../deadline.ts';
import { InMemoryNetwork } from '../transport/in-memory-transport.ts';
import { encodeFrame, MAX_PAYLOAD_BYTES, MessageKind } from './frame.ts';
import { Messenger, type MessengerInit } from './messenger.ts';
import { MAX_STEPS_AHEAD, MAX_SYNC_EPOCHS_AHEAD } from './receive-limits.ts';

const header = { kind: MessageKind.Reduce, codec: 0, tag: 1, epoch: 5, step: 10, seq: 0 };
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

/** b receives from an honest a and a hostile m; m sends raw frames. */
function room(init: MessengerInit = {}) {
  const network = new InMemoryNetwork();
  const errors: Array<{ name: string; from: string }> = [];
  const a = new Messenger(network.join('a'));
  const b = new Messenger(network.join('b'), { onError: (e, from) => errors.push({ name: e.name, from }), ...init });
  const m = network.join('mallory');
  const frame = (h: Partial<typeof header> & { chunkIndex?: number; chunkCount?: number }, payload = new Uint8Array(0)) =>
    encodeFrame({ ...header, chunkIndex: 0, chunkCount: 1, ...h, payload });
  b.advance(header.epoch, header.step);
  return { a, b, m, frame, errors };
}

describe('messenger limits per peer', () => {
  it('a peer over its own byte cap is refused and blamed; another peer still gets through', async () => {
    const { a, b, m, frame, errors } = room({ maxPeerBufferedBytes: 3 * MAX_PAYLOAD_BYTES });
    // Mallory opens messages it never finishes, one full chunk each, until its cap refuses one.
    for (let seq = 1; seq <= 4; seq++) await m.send('b', frame({ seq, chunkCount: 2 }, new Uint8Array(MAX_PAYLOAD_BYTES)));
    await settle();
    assert.equal(b.budget.usage('mallory').bytes, 3 * MAX_PAYLOAD_BYTES);
    assert.deepEqual(errors, [{ name: 'PeerLimitError', from: 'mallory' }]);
    // a's message of the same size is kept: the cap is mallory's, not the messenger's.
    const limit = deadline(2000, 'test');
    const [, message] = await Promise.all([a.send('b', header, new Uint8Array(2 * MAX_PAYLOAD_BYTES)), b.receive('a', header, limit.signal)]);
    limit.clear();
    assert.equal(message.payload.length, 2 * MAX_PAYLOAD_BYTES);
    await assert.rejects(b.receive('mallory', header, new AbortController().signal), { name: 'PeerInputError', suspect: 'mallory' });
  });

  it('zero-length chunks count against the message cap', async () => {
    const { b, m, frame, errors } = room({ maxPeerMessages: 8 });
    for (let seq = 0; seq < 20; seq++) await m.send('b', frame({ seq, chunkCount: 200 }));
    await settle();
    assert.deepEqual(b.budget.usage('mallory'), { bytes: 0, messages: 8 });
    assert.equal(errors.filter((e) => e.name === 'PeerLimitError').length, 12);
  });

  it('a malformed frame fails the pending receive from its sender at once, and the rest of this epoch and the next', async () => {
    const { b, m, frame } = room();
    const began = Date.now();
    const limit = deadline(10_000, 'test');
    const refused = assert.rejects(b.receive('mallory', header, limit.signal), { name: 'PeerInputError', suspect: 'mallory', message: /WireFormatError: checksum mismatch/ });
    const bad = frame({});
    bad[33] = bad[33]! ^ 0xff; // checksum
    await m.send('b', bad);
    await refused;
    limit.clear();
    assert.ok(Date.now() - began < 1000);
    await assert.rejects(b.receive('mallory', { ...header, seq: 3 }, new AbortController().signal), { name: 'PeerInputError' });
    b.advance(header.epoch + 1, header.step);
    await assert.rejects(b.receive('mallory', { ...header, epoch: header.epoch + 1 }, new AbortController().signal), { name: 'PeerInputError' });
    // The epoch after starts clean.
    b.advance(header.epoch + 2, header.step);
    await m.send('b', frame({ epoch: header.epoch + 2 }, Uint8Array.of(7)));
    const later = deadline(1000, 'test');
    const next = await b.receive('mallory', { ...header, epoch: header.epoch + 2 }, later.signal);
    later.clear();
    assert.deepEqual(next.payload, Uint8Array.of(7));
    assert.equal(b.pendingReceives, 0);
  });

  it('collective frames more than one epoch or MAX_STEPS_AHEAD steps ahead, hellos more than MAX_SYNC_EPOCHS_AHEAD, are dropped without blame', async () => {
    const { b, m, frame, errors } = room();
    await m.send('b', frame({ epoch: header.epoch + 2 }, Uint8Array.of(1)));
    await m.send('b', frame({ kind: MessageKind.Hello, step: 0, epoch: header.epoch + MAX_SYNC_EPOCHS_AHEAD + 1 }, Uint8Array.of(1)));
    await m.send('b', frame({ step: header.step + MAX_STEPS_AHEAD + 1 }, Uint8Array.of(1)));
    await m.send('b', frame({ kind: MessageKind.Hello, step: 0, epoch: header.epoch + MAX_SYNC_EPOCHS_AHEAD }, Uint8Array.of(1)));
    await m.send('b', frame({ step: header.step + MAX_STEPS_AHEAD }, Uint8Array.of(2)));
    await settle();
    assert.deepEqual(errors.map((e) => e.name), ['OutOfWindowError', 'OutOfWindowError', 'OutOfWindowError']);
    assert.deepEqual(b.budget.usage('mallory'), { bytes: 2, messages: 2 });
    const kept = await b.receive('mallory', { ...header, step: header.step + MAX_STEPS_AHEAD }, new AbortController().signal);
    assert.deepEqual(kept.payload, Uint8Array.of(2));
    // A member catching up widens the window to the run's last step.
    b.advance(header.epoch, 0, 1000);
    await m.send('b', frame({ step: 999 }, Uint8Array.of(3)));
    await settle();
    assert.equal(errors.length, 3);
    assert.deepEqual(b.budget.usage('mallory'), { bytes: 2, messages: 2 });
  });

  it('advance and a closed peer release what they held', async () => {
    const { b, m, frame } = room();
    await m.send('b', frame({ seq: 1 }, new Uint8Array(100)));
    await m.send('b', frame({ seq: 2, chunkCount: 2 }, new Uint8Array(50)));
    await settle();
    assert.deepEqual(b.budget.usage('mallory'), { bytes: 150, messages: 2 });
    b.advance(header.epoch, header.step + 1);
    assert.deepEqual(b.budget.usage('mallory'), { bytes: 0, messages: 0 });
    await m.send('b', frame({ step: header.step + 1, chunkCount: 2 }, new Uint8Array(50)));
    await settle();
    m.close();
    await settle();
    assert.equal(b.budget.totalBytes, 0);
  });
});
