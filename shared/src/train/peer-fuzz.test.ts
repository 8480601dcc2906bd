/**
 * Fuzz: well over 100,000 random and mutated frames and snapshots, from a seeded Rng, fed to a
 * messenger, to the snapshot check and to two training sessions. No crash, no growth past the
 * per-peer caps, every rejection a named error, and honest traffic still goes through.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { createAggregator } from '../compress/index.ts';
import { quadrantImages } from '../data/synthetic.ts';
import { Model } from '../model/model.ts';
import { Rng } from '../rng.ts';
import { hostileFrame, mutateSnapshot } from '../testing/fuzz-inputs.ts';
import { InMemoryNetwork } from '../transport/in-memory-transport.ts';
import type { Transport } from '../transport/transport.ts';
import { decodeFrame, encodeFrame, MessageKind } from '../wire/frame.ts';
import { Messenger } from '../wire/messenger.ts';
import { parseRunConfig } from './config.ts';
import { hashArrays } from './hash.ts';
import { Replica } from './replica.ts';
import { TrainingSession } from './session.ts';
import { decodeSnapshot, snapshotFault } from './snapshot.ts';

const MESSENGER_FRAMES = 100_000;
const SNAPSHOTS = 6_000;
const SESSION_FRAMES = 12_000;
const NAMED = new Set(['WireFormatError', 'PeerLimitError', 'OutOfWindowError']);

/** A transport the test pushes frames into synchronously (no timers: 100,000 frames in a second or two). */
class PushTransport implements Transport {
  readonly selfId = 'b';
  private readonly handlers = new Set<(from: string, frame: Uint8Array) => void>();
  push(from: string, frame: Uint8Array): void {
    for (const h of this.handlers) h(from, frame);
  }
  send(): Promise<void> {
    return Promise.resolve();
  }
  onFrame(handler: (from: string, frame: Uint8Array) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
  onPeerClosed(): () => void {
    return () => undefined;
  }
  connectedPeers(): string[] {
    return ['a', 'm'];
  }
  close(): void {}
}

const tally = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);
const show = (map: Map<string, number>): string => [...map].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} ${n}`).join(', ');

describe('fuzz: hostile frames and snapshots', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it(`a messenger takes ${MESSENGER_FRAMES} hostile frames within its caps, and honest messages still arrive`, async (t) => {
    const rng = new Rng(0xf022);
    const transport = new PushTransport();
    const rejected = new Map<string, number>();
    const maxPeerBufferedBytes = 4 * 1024 * 1024;
    const maxPeerMessages = 256;
    const messenger = new Messenger(transport, { maxPeerBufferedBytes, maxPeerMessages, onError: (e) => tally(rejected, e.name) });
    const made = new Map<string, number>();
    let peak = { bytes: 0, messages: 0 };
    const at = { epoch: 3, step: 10 };
    messenger.advance(at.epoch, at.step);
    for (let i = 0; i < MESSENGER_FRAMES; i++) {
      const { kind, bytes } = hostileFrame(rng, at);
      tally(made, kind);
      transport.push('m', bytes);
      const used = messenger.budget.usage('m');
      peak = { bytes: Math.max(peak.bytes, used.bytes), messages: Math.max(peak.messages, used.messages) };
      if (i % 5_000 === 4_999) {
        // The room moves on, as it does; and an honest peer's message still gets through.
        at.step += 1;
        if (i % 20_000 === 19_999) at.epoch += 1;
        messenger.advance(at.epoch, at.step);
        const header = { kind: MessageKind.Reduce, codec: 0, tag: 9, epoch: at.epoch, step: at.step, seq: 0 };
        const honest = encodeFrame({ ...header, chunkIndex: 0, chunkCount: 1, payload: Uint8Array.of(i & 0xff) });
        const waiting = messenger.receive('a', header, new AbortController().signal);
        transport.push('a', honest);
        assert.deepEqual((await waiting).payload, Uint8Array.of(i & 0xff));
      }
    }
    assert.ok(peak.bytes <= maxPeerBufferedBytes && peak.messages <= maxPeerMessages, JSON.stringify(peak));
    assert.deepEqual([...rejected.keys()].filter((name) => !NAMED.has(name)), []);
    assert.equal([...rejected.values()].reduce((s, n) => s + n, 0), messenger.stats.rejected);
    assert.equal(messenger.pendingReceives, 0);
    messenger.advance(at.epoch + 2, 0);
    assert.equal(messenger.budget.totalBytes, 0);
    t.diagnostic(`made: ${show(made)}`);
    t.diagnostic(`rejected: ${show(rejected)}; peak held by the hostile peer: ${peak.bytes} bytes, ${peak.messages} messages`);
    messenger.dispose();
  });

  it(`${SNAPSHOTS} mutated snapshots: refused by name unless they are the announced state`, (t) => {
    const rng = new Rng(0x5a5);
    const config = parseRunConfig({ optimizer: 'adam' });
    const model = new Model('mlp', [4, 4, 1], 4);
    const replica = new Replica(model, config, createAggregator(config, model.layers));
    const base = replica.snapshot();
    const expected = { step: replica.step, hash: replica.hash };
    const outcomes = new Map<string, number>();
    for (let i = 0; i < SNAPSHOTS; i++) {
      const { kind, bytes } = mutateSnapshot(rng, base);
      let outcome: string;
      try {
        const s = decodeSnapshot(bytes);
        const fault = snapshotFault(s, expected, replica.sizes, hashArrays);
        if (fault === null) {
          // Accepted: it must be the announced state (weights bit for bit) and finite.
          assert.equal(hashArrays(s.weights), expected.hash, kind);
          assert.ok([...s.weights, ...s.optimizer.buffers].every((a) => a.every(Number.isFinite)), kind);
          outcome = `accepted (${kind})`;
        } else outcome = `refused: ${fault.replace(/\b[0-9a-f]{16}\b|\d+/g, 'N')}`;
      } catch (err) {
        assert.equal((err as Error).name, 'WireFormatError', `${kind}: ${String(err)}`);
        outcome = `WireFormatError: ${(err as Error).message.replace(/\d+/g, 'N')}`;
      }
      tally(outcomes, outcome);
    }
    t.diagnostic(show(outcomes));
    model.dispose();
  });

  it(`two sessions train to identical weights while a stranger fires ${SESSION_FRAMES} hostile frames at them`, async (t) => {
    const rng = new Rng(0x5e55);
    const config = parseRunConfig({ steps: 20, workers: 2, batchSize: 8, evalEvery: 100, evalSize: 50, checkEvery: 5 });
    const network = new InMemoryNetwork({ latencyMs: 1 });
    const train = quadrantImages(500, 4, 1);
    const test = quadrantImages(50, 4, 2);
    const rejected = new Map<string, number>();
    const peers = ['a', 'b'].map((id) => {
      const model = new Model('mlp', [4, 4, 1], 4);
      const messenger = new Messenger(network.join(id), { onError: (e) => tally(rejected, e.name) });
      const session = new TrainingSession({ selfId: id, config, messenger, model, train, test, connect: async () => undefined, stepTimeoutMs: 5_000, syncTimeoutMs: 5_000 });
      return { id, model, messenger, session, done: session.run() };
    });
    const stranger = network.join('m');
    const answered = new Map<string, number>();
    stranger.onFrame((_from, bytes) => tally(answered, MessageKind[decodeFrame(bytes).kind] ?? '?'));
    // Valid snapshots and hellos as payloads too, so some frames get as far as the session.
    const payloads = [new TextEncoder().encode('{"step":3,"hash":"0123456789abcdef"}'), new Uint8Array(0)];
    for (const p of peers) p.session.setView({ epoch: 1, members: ['a', 'b'] });
    let sent = 0;
    while (sent < SESSION_FRAMES) {
      const target = peers[rng.int(2)]!;
      const at = { epoch: target.session.view?.epoch ?? 1, step: target.session.step };
      for (let k = 0; k < 200; k++, sent++) void stranger.send(target.id, hostileFrame(rng, at, payloads).bytes).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(peers.map((p) => p.done));
    for (const p of peers) {
      assert.equal(p.session.state, 'done', p.session.error ?? '');
      assert.equal(p.session.weightsHash, peers[0]!.session.weightsHash);
      assert.ok(p.session.events.length <= 500);
      assert.ok(p.messenger.budget.usage('m').bytes <= p.messenger.budget.maxBytes);
    }
    // The stranger is no member: it never gets a snapshot.
    assert.equal(answered.get('State') ?? 0, 0);
    assert.deepEqual([...rejected.keys()].filter((name) => !NAMED.has(name)), []);
    t.diagnostic(`rejected: ${show(rejected)}; sent to the stranger: ${show(answered)}`);
    for (const p of peers) p.model.dispose();
  });
});
