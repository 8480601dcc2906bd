/** Messenger.receiveEach: a list of messages handed over one by one as they arrive. */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { InMemoryNetwork } from '../transport/in-memory-transport.ts';
import { MessageKind } from './frame.ts';
import { Messenger, type MessageHeader } from './messenger.ts';

const at = (seq: number): MessageHeader => ({ kind: MessageKind.Reduce, codec: 0, tag: 1, epoch: 1, step: 0, seq });

function pair(): { network: InMemoryNetwork; a: Messenger; b: Messenger } {
  const network = new InMemoryNetwork({ latencyMs: 1 });
  return { network, a: new Messenger(network.join('a')), b: new Messenger(network.join('b')) };
}

describe('messenger: receiveEach', () => {
  it('hands over each listed message in arrival order, buffered ones first, with one abort listener', async () => {
    const { a, b } = pair();
    await a.send('b', at(2), Uint8Array.of(2)); // arrives before anyone waits
    await new Promise((r) => setTimeout(r, 10));
    const signal = new AbortController().signal;
    const seen: Array<[number, number]> = [];
    const done = b.receiveEach('a', [at(0), at(1), at(2)], signal, (m, index) => seen.push([index, m.payload[0]!]));
    assert.equal(getEventListeners(signal, 'abort').length, 1);
    await a.send('b', at(1), Uint8Array.of(1));
    await a.send('b', at(0), Uint8Array.of(0));
    await done;
    assert.deepEqual(seen, [[2, 2], [1, 1], [0, 0]]);
    assert.equal(b.pendingReceives, 0);
    assert.equal(getEventListeners(signal, 'abort').length, 0);
  });

  it('a single-frame payload is the frame itself, not a copy', async () => {
    const { network, a, b } = pair();
    const frames: Uint8Array[] = [];
    network.faultHook = (_from, _to, frame) => void frames.push(frame);
    const got: Uint8Array[] = [];
    const done = b.receiveEach('a', [at(0)], new AbortController().signal, (m) => got.push(m.payload));
    await a.send('b', at(0), Uint8Array.of(7, 8, 9));
    await done;
    assert.equal(got[0]!.buffer, frames[0]!.buffer);
  });

  it('what the handler throws ends the wait, and the waits still registered go with it', async () => {
    const { a, b } = pair();
    const refused = new Error('bad chunk');
    const done = b.receiveEach('a', [at(0), at(1), at(2)], new AbortController().signal, () => {
      throw refused;
    });
    const outcome = assert.rejects(done, (e) => e === refused);
    await a.send('b', at(1), Uint8Array.of(1));
    await outcome;
    assert.equal(b.pendingReceives, 0);
  });

  it('an abort or the sender leaving rejects by name and leaves no wait behind', async () => {
    const { network, a, b } = pair();
    const controller = new AbortController();
    const aborted = b.receiveEach('a', [at(0), at(1)], controller.signal, () => undefined);
    controller.abort(new Error('epoch over'));
    await assert.rejects(aborted, /epoch over/);
    assert.equal(b.pendingReceives, 0);
    const left = assert.rejects(b.receiveEach('a', [at(3), at(4)], new AbortController().signal, () => undefined), { name: 'PeerLeftError' });
    await a.send('b', at(3), Uint8Array.of(3));
    network.kill('a');
    await left;
    assert.equal(b.pendingReceives, 0);
  });
});
