/**
 * The contract every Transport keeps, as node:test tests to run against each implementation
 * (in the style of js-libp2p's interface-compliance suites):
 *
 *   transportContract('in-memory', (ids) => ({ transports: ids.map((id) => network.join(id)) }));
 *
 * Clauses: frames arrive in order and intact (and the sender may reuse its buffer once `send`
 * resolves); a send to a peer that is not connected rejects with PeerLeftError; a peer leaving
 * fires onPeerClosed and fails a Messenger's pending receive with PeerLeftError; a receive rejects
 * with its signal's reason; sends made without waiting keep their order under backpressure; a frame of MAX_FRAME_BYTES is delivered and one byte more is refused
 * with WireFormatError; `close()` is idempotent, closes the peers' channels too and makes sends
 * reject with PeerLeftError.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deadline, raceSignal } from '../deadline.ts';
import { TimeoutError } from '../errors.ts';
import { Rng } from '../rng.ts';
import type { Transport } from '../transport/transport.ts';
import { MAX_FRAME_BYTES, MessageKind } from '../wire/frame.ts';
import { Messenger, type MessageHeader } from '../wire/messenger.ts';

export interface TransportHarness {
  /** One transport per id asked for, in that order, each connected to all the others. */
  transports: Transport[];
  /** Makes peer `index` vanish as abruptly as the implementation can. @default its close() */
  leave?(index: number): void;
  /** Frees what closing the transports does not. */
  dispose?(): void | Promise<void>;
}

export type TransportFactory = (ids: string[]) => TransportHarness | Promise<TransportHarness>;

export interface TransportContractOptions {
  /** Longest any one wait of a clause may take (connecting included). @default 20 s */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const IDS = ['peer-a', 'peer-b', 'peer-c'];
/** Frames of MAX_FRAME_BYTES sent at once in the backpressure clause: 8 MiB, well over any channel's buffer. */
const BURST_FRAMES = 32;
const HEADER: MessageHeader = { kind: MessageKind.Reduce, codec: 0, tag: 0, epoch: 1, step: 0, seq: 0 };

/** Frame `i` of the ordered-delivery clause: a seeded length (a few at the limit) and bytes. */
function frameBytes(i: number): Uint8Array {
  const rng = Rng.derive(0xf4a3e, i);
  const length = i % 25 === 7 ? MAX_FRAME_BYTES : 1 + Math.floor(rng.next() * 32 * 1024);
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let j = 0; j < words.length; j++) words[j] = (rng.next() * 2 ** 32) >>> 0;
  return new Uint8Array(words.buffer, 0, length);
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** Resolves once `count` frames from `from` arrived at `to`, with those frames (copied). */
function collect(to: Transport, from: string, count: number): { done: Promise<Uint8Array[]>; frames: Uint8Array[] } {
  const frames: Uint8Array[] = [];
  let off = (): void => undefined;
  const done = new Promise<Uint8Array[]>((resolve) => {
    const check = (): void => {
      if (frames.length < count) return;
      off();
      resolve(frames);
    };
    off = to.onFrame((sender, frame) => {
      if (sender !== from) return;
      frames.push(Uint8Array.from(frame));
      check();
    });
    check();
  });
  return { done, frames };
}

/** The next onPeerClosed of `transport` naming `peerId`. */
function closedEvent(transport: Transport, peerId: string): Promise<void> {
  return new Promise((resolve) => {
    const off = transport.onPeerClosed((id) => {
      if (id !== peerId) return;
      off();
      resolve();
    });
  });
}

export function transportContract(name: string, factory: TransportFactory, options: TransportContractOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  /** Waits with a deadline, so a broken transport fails its clause instead of hanging the run. */
  const within = async <T>(promise: Promise<T>, what: string): Promise<T> => {
    const limit = deadline(timeoutMs, `${name}: ${what}`);
    try {
      return await raceSignal(promise, limit.signal, what);
    } finally {
      limit.clear();
    }
  };

  /** Runs `body` on a fresh set of `n` connected transports and frees them whatever happens. */
  const withPeers = async (n: number, body: (h: Required<TransportHarness>, ids: string[]) => Promise<void>): Promise<void> => {
    const ids = IDS.slice(0, n);
    const harness = await within(Promise.resolve(factory(ids)), 'setting up');
    const full: Required<TransportHarness> = {
      transports: harness.transports,
      leave: harness.leave?.bind(harness) ?? ((i) => harness.transports[i]!.close()),
      dispose: harness.dispose?.bind(harness) ?? (() => undefined),
    };
    try {
      assert.deepEqual(full.transports.map((t) => t.selfId), ids);
      for (const t of full.transports) assert.deepEqual([...t.connectedPeers()].sort(), ids.filter((id) => id !== t.selfId));
      await body(full, ids);
    } finally {
      for (const t of full.transports) t.close();
      await full.dispose();
    }
  };

  describe(`Transport contract: ${name}`, () => {
    it('delivers frames in order and intact, both ways, and the sender may reuse its buffer', async () => {
      await withPeers(3, async ({ transports: [a, b, c] }, [idA, idB, idC]) => {
        const count = 60;
        const atB = collect(b!, idA!, count);
        const atC = collect(c!, idA!, count);
        const backAtA = collect(a!, idB!, count);
        const buffer = new Uint8Array(MAX_FRAME_BYTES);
        const sendAll = async (from: Transport, to: string): Promise<void> => {
          for (let i = 0; i < count; i++) {
            const bytes = frameBytes(i);
            buffer.set(bytes);
            const frame = buffer.subarray(0, bytes.length);
            await from.send(to, frame);
            frame.fill(0xee); // the transport is done with it once send resolved
          }
        };
        const sendBack = async (): Promise<void> => {
          for (let i = 0; i < count; i++) await b!.send(idA!, frameBytes(i));
        };
        await within(Promise.all([sendAll(a!, idB!).then(() => sendAll(a!, idC!)), sendBack()]), 'sending');
        for (const received of [atB, atC, backAtA]) {
          const frames = await within(received.done, 'receiving');
          assert.equal(frames.length, count);
          frames.forEach((frame, i) => assert.ok(same(frame, frameBytes(i)), `frame ${i} (${frame.length} bytes) differs`));
        }
      });
    });

    it('keeps order under backpressure: 8 MiB sent without waiting all arrive, and every send resolves', async () => {
      await withPeers(2, async ({ transports: [a, b] }, [idA, idB]) => {
        const count = BURST_FRAMES;
        const received = collect(b!, idA!, count);
        const frame = (i: number): Uint8Array => new Uint8Array(MAX_FRAME_BYTES).fill(i + 1);
        await within(Promise.all(Array.from({ length: count }, (_, i) => a!.send(idB!, frame(i)))), 'sending');
        const frames = await within(received.done, 'receiving');
        assert.deepEqual(frames.map((f) => f.length), new Array(count).fill(MAX_FRAME_BYTES));
        frames.forEach((f, i) => assert.ok(f.every((v) => v === i + 1), `frame ${i} out of order or changed`));
      });
    });

    it('rejects a send to a peer that is not connected with PeerLeftError', async () => {
      await withPeers(2, async ({ transports: [a] }) => {
        await assert.rejects(within(a!.send('nobody', new Uint8Array(8)), 'send'), { name: 'PeerLeftError' });
      });
    });

    it('tells the others when a peer leaves, and a pending receive from it fails with PeerLeftError', async () => {
      await withPeers(3, async ({ transports: [a, , c], leave }, [idA, idB]) => {
        const messenger = new Messenger(a!);
        try {
          // Observed from now on: it may reject before onPeerClosed reaches this test.
          const pending = messenger.receive(idB!, HEADER, new AbortController().signal).then(() => 'a message', (err: unknown) => err);
          const seenByA = closedEvent(a!, idB!);
          const seenByC = closedEvent(c!, idB!);
          leave(1);
          await within(Promise.all([seenByA, seenByC]), 'onPeerClosed');
          assert.equal(((await within(pending, 'receive')) as Error).name, 'PeerLeftError');
          assert.ok(!a!.connectedPeers().includes(idB!), 'the peer that left is still listed');
          await assert.rejects(within(a!.send(idB!, new Uint8Array(8)), 'send'), { name: 'PeerLeftError' });
          // The others still talk.
          const atA = collect(a!, c!.selfId, 1);
          await within(c!.send(idA!, Uint8Array.of(1, 2, 3)), 'send');
          assert.deepEqual(Array.from((await within(atA.done, 'receiving'))[0]!), [1, 2, 3]);
        } finally {
          messenger.dispose();
        }
      });
    });

    it("rejects a receive with its signal's reason when the signal aborts", async () => {
      await withPeers(2, async ({ transports: [a] }, [, idB]) => {
        const messenger = new Messenger(a!);
        try {
          const controller = new AbortController();
          const pending = messenger.receive(idB!, HEADER, controller.signal);
          const reason = new TimeoutError('the step is over');
          controller.abort(reason);
          await assert.rejects(within(pending, 'receive'), (err) => err === reason);
          await assert.rejects(messenger.receive(idB!, { ...HEADER, seq: 1 }, controller.signal), (err) => err === reason);
        } finally {
          messenger.dispose();
        }
      });
    });

    it('delivers a frame of exactly MAX_FRAME_BYTES and refuses one byte more with WireFormatError', async () => {
      await withPeers(2, async ({ transports: [a, b] }, [idA, idB]) => {
        const received = collect(b!, idA!, 2);
        const largest = frameBytes(7);
        assert.equal(largest.length, MAX_FRAME_BYTES);
        await within(a!.send(idB!, largest), 'send');
        await assert.rejects(within(a!.send(idB!, new Uint8Array(MAX_FRAME_BYTES + 1)), 'send'), { name: 'WireFormatError' });
        await within(a!.send(idB!, Uint8Array.of(9)), 'send');
        const [first, second] = await within(received.done, 'receiving');
        assert.ok(same(first!, largest), 'the largest frame arrived changed');
        assert.deepEqual(Array.from(second!), [9], 'the refused frame arrived after all');
      });
    });

    it('close() is idempotent, closes the channels on both sides and makes sends reject', async () => {
      await withPeers(2, async ({ transports: [a, b] }, [idA, idB]) => {
        const seenByB = closedEvent(b!, idA!);
        const seenByA = closedEvent(a!, idB!);
        a!.close();
        a!.close();
        await within(Promise.all([seenByA, seenByB]), 'onPeerClosed');
        assert.deepEqual(a!.connectedPeers(), []);
        await assert.rejects(within(a!.send(idB!, new Uint8Array(8)), 'send'), { name: 'PeerLeftError' });
        await assert.rejects(within(b!.send(idA!, new Uint8Array(8)), 'send'), { name: 'PeerLeftError' });
        b!.close();
        b!.close();
      });
    });
  });
}
