import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { deadline } from '../deadline.ts';
import { InMemoryNetwork } from '../transport/in-memory-transport.ts';
import { encodeFrame, MAX_PAYLOAD_BYTES, MessageKind } from './frame.ts';
import { Messenger } from './messenger.ts';

const header = { kind: MessageKind.Reduce, codec: 0, tag: 1, epoch: 1, step: 0, seq: 0 };

function pair(init: ConstructorParameters<typeof Messenger>[1] = {}) {
  const network = new InMemoryNetwork();
  const errors: string[] = [];
  const a = new Messenger(network.join('a'));
  const b = new Messenger(network.join('b'), { onError: (e) => errors.push(`${e.name}: ${e.message}`), ...init });
  return { network, a, b, errors };
}

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
}

describe('messenger', () => {
  for (const size of [0, 1, MAX_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES + 1, 3 * MAX_PAYLOAD_BYTES + 5]) {
    it(`delivers a ${size}-byte message whole, in ${Math.max(1, Math.ceil(size / MAX_PAYLOAD_BYTES))} frame(s)`, async () => {
      const { a, b } = pair();
      const limit = deadline(2000, 'test');
      const [, message] = await Promise.all([a.send('b', header, pattern(size)), b.receive('a', header, limit.signal)]);
      limit.clear();
      assert.deepEqual(message.payload, pattern(size));
      assert.equal(a.stats.framesSent, Math.max(1, Math.ceil(size / MAX_PAYLOAD_BYTES)));
      assert.equal(b.stats.bytesReceived, a.stats.bytesSent);
    });
  }

  it('buffers a message that arrives before anyone waits for it', async () => {
    const { a, b } = pair();
    await a.send('b', header, pattern(10));
    await new Promise((r) => setTimeout(r, 5));
    const message = await b.receive('a', header, new AbortController().signal);
    assert.deepEqual(message.payload, pattern(10));
  });

  it('rejects malformed frames by name, counts them and keeps working', async () => {
    const { network, a, b, errors } = pair();
    const transport = network.join('mallory');
    await transport.send('b', Uint8Array.of(1, 2, 3));
    const corrupted = encodeFrame({ ...header, chunkIndex: 0, chunkCount: 1, payload: pattern(8) });
    corrupted[40] = corrupted[40]! ^ 1;
    await transport.send('b', corrupted);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(b.stats.rejected, 2);
    assert.match(errors[0]!, /^WireFormatError: truncated frame/);
    assert.match(errors[1]!, /^WireFormatError: checksum mismatch/);
    const limit = deadline(1000, 'test');
    const [, m] = await Promise.all([a.send('b', header, pattern(4)), b.receive('a', header, limit.signal)]);
    limit.clear();
    assert.deepEqual(m.payload, pattern(4));
  });

  it('refuses messages over the size limit on both ends', async () => {
    const { network, errors } = pair({ maxMessageBytes: MAX_PAYLOAD_BYTES });
    const small = new Messenger(network.join('c'), { maxMessageBytes: 100 });
    await assert.rejects(small.send('b', header, new Uint8Array(101)), { name: 'WireFormatError' });
    // A frame announcing 1000 chunks is refused before anything is buffered.
    await network.join('d').send('b', encodeFrame({ ...header, chunkIndex: 0, chunkCount: 1000, payload: pattern(10) }));
    await new Promise((r) => setTimeout(r, 5));
    assert.match(errors.at(-1)!, /exceeds the limit/);
  });

  it('ignores duplicate chunks and stale epochs', async () => {
    const { network, a, b } = pair();
    network.faultHook = () => 'duplicate';
    const limit = deadline(1000, 'test');
    const [, m] = await Promise.all([a.send('b', header, pattern(2 * MAX_PAYLOAD_BYTES)), b.receive('a', header, limit.signal)]);
    assert.deepEqual(m.payload, pattern(2 * MAX_PAYLOAD_BYTES));
    network.faultHook = undefined;
    b.advance(2, 0);
    await a.send('b', header, pattern(3)); // epoch 1: stale now
    await assert.rejects(b.receive('a', header, deadline(50, 'stale').signal), { name: 'TimeoutError' });
    limit.clear();
  });

  it('a wait ends with PeerLeftError when the sender vanishes mid-message', async () => {
    const { network, a, b } = pair();
    network.faultHook = (_from, _to, frame) => (frame.length > 1000 && b.stats.framesReceived >= 1 ? 'drop' : undefined);
    const waiting = b.receive('a', header, deadline(5000, 'test').signal);
    void a.send('b', header, pattern(3 * MAX_PAYLOAD_BYTES)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 10));
    network.kill('a');
    await assert.rejects(waiting, { name: 'PeerLeftError' });
  });

  it('a wait ends with TimeoutError at its deadline', async () => {
    const { b } = pair();
    const began = Date.now();
    await assert.rejects(b.receive('a', header, deadline(100, 'waiting for a').signal), { name: 'TimeoutError', message: /waiting for a: no answer within 100 ms/ });
    assert.ok(Date.now() - began < 1000);
  });

  it('a receive whose signal aborts is removed with its listener; a later message is kept for the next receive', async () => {
    const { a, b } = pair();
    const limit = deadline(60_000, 'step 0');
    const waiting = b.receive('a', header, limit.signal);
    const other = b.receive('a', { ...header, seq: 1 }, limit.signal);
    assert.equal(b.pendingReceives, 2);
    assert.equal(getEventListeners(limit.signal, 'abort').length, 2);
    limit.clear();
    await assert.rejects(waiting, { name: 'AbortedError', message: 'step 0: over' });
    await assert.rejects(other, { name: 'AbortedError' });
    assert.equal(b.pendingReceives, 0);
    assert.equal(getEventListeners(limit.signal, 'abort').length, 0);
    // The key is free again: the message that comes later waits for a new receive.
    await a.send('b', header, pattern(5));
    await new Promise((r) => setTimeout(r, 5));
    const fresh = new AbortController();
    assert.deepEqual((await b.receive('a', header, fresh.signal)).payload, pattern(5));
    assert.equal(b.pendingReceives, 0);
  });

  it('no wait or listener is left after a delivery or a peer closing', async () => {
    const { network, a, b } = pair();
    const signal = new AbortController().signal;
    const delivered = b.receive('a', header, signal);
    await a.send('b', header, pattern(3));
    await delivered;
    assert.equal(b.pendingReceives, 0);
    const orphaned = b.receive('a', { ...header, seq: 9 }, signal);
    assert.equal(b.pendingReceives, 1);
    network.kill('a');
    await assert.rejects(orphaned, { name: 'PeerLeftError' });
    assert.equal(b.pendingReceives, 0);
    assert.equal(getEventListeners(signal, 'abort').length, 0);
  });
});
