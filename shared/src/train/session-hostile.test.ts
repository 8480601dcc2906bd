/**
 * A hostile member in the room: its malformed hello or poisoned snapshot never ends an honest
 * session; the honest members refuse it, blame it (the test stands in for the server and evicts
 * the peer they blame) and finish with identical replicas.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { createAggregator } from '../compress/index.ts';
import { quadrantImages } from '../data/synthetic.ts';
import { Model } from '../model/model.ts';
import { InMemoryNetwork } from '../transport/in-memory-transport.ts';
import { MessageKind } from '../wire/frame.ts';
import { Messenger, type Message } from '../wire/messenger.ts';
import { parseRunConfig, type RunConfig } from './config.ts';
import { hashArrays } from './hash.ts';
import { Replica } from './replica.ts';
import { TrainingSession } from './session.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot.ts';

const train = quadrantImages(1000, 4, 1);
const test = quadrantImages(100, 4, 2);
const newModel = (): Model => new Model('mlp', [4, 4, 1], 4);

/** Honest sessions that evict whoever they blame (as the server would once the blame holds). */
class Room {
  readonly network = new InMemoryNetwork({ latencyMs: 1 });
  readonly sessions = new Map<string, TrainingSession>();
  readonly blamed: Array<{ by: string; suspect: string | undefined }> = [];
  private readonly models: Model[] = [];
  private readonly runs: Array<Promise<void>> = [];
  private readonly votes = new Map<number, Set<string>>();
  epoch = 1;
  members: string[] = [];

  constructor(private readonly config: RunConfig) {}

  add(id: string): TrainingSession {
    const model = newModel();
    this.models.push(model);
    const session = new TrainingSession({
      selfId: id, config: this.config, messenger: new Messenger(this.network.join(id)), model, train, test,
      connect: async () => undefined,
      stepTimeoutMs: 5_000,
      syncTimeoutMs: 5_000,
      requestNewEpoch: (suspect, epoch) => this.report(id, suspect, epoch),
    });
    this.sessions.set(id, session);
    this.runs.push(session.run());
    return session;
  }

  /**
   * Like the server: a suspect every other member blamed in the failed epoch is evicted; without
   * that, a new epoch of the same members after a while.
   */
  private report(by: string, suspect: string | undefined, epoch: number): void {
    this.blamed.push({ by, suspect });
    if (epoch !== this.epoch) return;
    const votes = this.votes.get(epoch) ?? new Set<string>();
    this.votes.set(epoch, votes);
    if (suspect !== undefined) votes.add(`${by}>${suspect}`);
    const evict = this.members.find((m) => this.members.every((other) => other === m || votes.has(`${other}>${m}`) || !this.sessions.has(other)));
    if (evict !== undefined) setTimeout(() => epoch === this.epoch && this.setView(this.members.filter((m) => m !== evict)), 1);
    else setTimeout(() => epoch === this.epoch && this.setView(this.members), 2_000);
  }

  setView(members: string[]): void {
    this.epoch++;
    this.members = members;
    for (const [id, s] of this.sessions) if (members.includes(id)) s.setView({ epoch: this.epoch, members });
  }

  async finish(): Promise<void> {
    await Promise.all(this.runs);
    for (const m of this.models) m.dispose();
  }
}

/** A scripted peer: answers every hello with `hello` and every state request with `state`. */
function hostile(network: InMemoryNetwork, hello: () => Uint8Array, state: () => Uint8Array): Messenger {
  const m = new Messenger(network.join('m'));
  const answer = (kind: MessageKind, payload: () => Uint8Array) => (request: Message) => void m.send(request.from, { ...request.header, kind }, payload()).catch(() => undefined);
  m.handle(MessageKind.Hello, answer(MessageKind.Hello, hello));
  m.handle(MessageKind.StateRequest, answer(MessageKind.State, state));
  return m;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const began = Date.now();
  while (!condition()) {
    if (Date.now() - began > 20_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('a hostile member', { timeout: 60_000 }, () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const [what, hello] of [
    ['a malformed hello', 'not json'],
    ['a hello past the run\'s length', JSON.stringify({ step: 1_000_000, hash: '0123456789abcdef' })],
  ] as const) {
    it(`${what} fails the sync at once, blaming its sender; the others train on`, async () => {
      const config = parseRunConfig({ steps: 8, workers: 3, batchSize: 8, evalEvery: 100, evalSize: 50 });
      const room = new Room(config);
      const m = hostile(room.network, () => text(hello), () => new Uint8Array(0));
      const [a, b] = [room.add('a'), room.add('b')];
      const began = Date.now();
      room.setView(['a', 'b', 'm']);
      await room.finish();
      for (const s of [a, b]) {
        assert.equal(s.state, 'done', s.error ?? '');
        assert.equal(s.weightsHash, a.weightsHash);
        const aborted = s.events.find((e) => e.kind === 'step-aborted')!;
        assert.match(aborted.message, /PeerInputError/);
        assert.ok(aborted.time - began < 2_000, 'refused at once, not at a deadline');
      }
      assert.ok(room.blamed.length > 0 && room.blamed.every((x) => x.suspect === 'm'), JSON.stringify(room.blamed));
      m.dispose();
    });
  }

  for (const poison of ['non-finite weights', 'weights other than announced'] as const) {
    it(`a snapshot with ${poison} is refused; the newcomer takes the state from another member`, async () => {
      const config = parseRunConfig({ steps: 40, workers: 1, batchSize: 8, evalEvery: 100, evalSize: 50 });
      const room = new Room(config);
      // The liar's state: shaped like the model, at a step above the room's, so a tie of votes goes its way.
      const model = newModel();
      const decoy = decodeSnapshot(new Replica(model, config, createAggregator(config, model.layers)).snapshot());
      model.dispose();
      decoy.step = 30;
      if (poison === 'non-finite weights') decoy.weights[0]![0] = NaN;
      const announced = poison === 'non-finite weights' ? hashArrays(decoy.weights) : '00000000deadbeef';
      const m = hostile(room.network, () => text(JSON.stringify({ step: 30, hash: announced })), () => encodeSnapshot(decoy));
      const a = room.add('a');
      room.setView(['a']);
      await waitUntil(() => a.step >= 3, 'a to train alone');
      const c = room.add('c');
      room.setView(['a', 'c', 'm']);
      await room.finish();
      for (const s of [a, c]) {
        assert.equal(s.state, 'done', s.error ?? '');
        assert.equal(s.step, 40);
        assert.equal(s.weightsHash, a.weightsHash);
        assert.ok(s.weights.every((w) => w.every(Number.isFinite)));
      }
      const reason = poison === 'non-finite weights' ? /non-finite values/ : /hash .* announced 00000000deadbeef/;
      assert.ok(c.events.some((e) => e.kind === 'step-aborted' && /PeerInputError: refused the hello or state of m/.test(e.message)));
      assert.ok(c.events.some((e) => e.kind === 'peer-input' && reason.test(e.message)), 'the refusal says why');
      assert.ok(c.events.some((e) => e.kind === 'state-received' && / from a /.test(e.message)), 'c asked a after m');
      assert.ok(room.blamed.some((x) => x.by === 'c' && x.suspect === 'm'));
      assert.ok(room.blamed.every((x) => x.suspect === 'm'), JSON.stringify(room.blamed));
      m.dispose();
    });
  }
});
