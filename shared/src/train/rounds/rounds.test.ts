import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import type { ExampleSource, Examples } from '../../data/example-store.ts';
import { subset, type Dataset } from '../../data/mnist.ts';
import { quadrantImages } from '../../data/synthetic.ts';
import { Model } from '../../model/model.ts';
import { InMemoryNetwork } from '../../transport/in-memory-transport.ts';
import { decodeFrame, MessageKind } from '../../wire/frame.ts';
import { Messenger } from '../../wire/messenger.ts';
import { parseRunConfig, type RunConfig } from '../config.ts';
import { TrainingSession } from '../session.ts';

const train = quadrantImages(2000, 4, 1);
const test = quadrantImages(400, 4, 2);

/**
 * A device taking `msPerBatch` per batch on its own clock: the peers of a test share one thread,
 * so wall time would interleave their work and hide who is slow.
 */
class ClockedModel extends Model {
  now = 0;

  constructor(private readonly msPerBatch: number) {
    super('mlp', [4, 4, 1], 4);
  }

  override gradient(batch: Dataset): ReturnType<Model['gradient']> {
    this.now += this.msPerBatch;
    return super.gradient(batch);
  }
}
const device = (msPerBatch: number): ClockedModel => new ClockedModel(msPerBatch);

/** A device that also spends `msPerEvaluation` on each evaluation: work between rounds. */
class EvaluatingModel extends ClockedModel {
  constructor(msPerBatch: number, private readonly msPerEvaluation: number) {
    super(msPerBatch);
  }

  override accuracy(data: Dataset, batchSize?: number): number {
    this.now += this.msPerEvaluation;
    return super.accuracy(data, batchSize);
  }
}


/** A collective frame (Reduce or Gather) of (`epoch`, `step`). */
function isFrame(bytes: Uint8Array, epoch: number, step: number): boolean {
  try {
    const frame = decodeFrame(bytes);
    return (frame.kind === MessageKind.Reduce || frame.kind === MessageKind.Gather) && frame.epoch === epoch && frame.step === step;
  } catch {
    return false;
  }
}

interface Peer { id: string; session: TrainingSession; model: ClockedModel; done: Promise<void> }

/** What a test sets in a peer's session beyond startPeer's defaults (deadlines, the blame hook). */
type SessionOptions = Partial<ConstructorParameters<typeof TrainingSession>[0]>;

function startPeer(network: InMemoryNetwork, id: string, config: RunConfig, model = device(5), data: Examples = train, options: SessionOptions = {}): Peer {
  const messenger = new Messenger(network.join(id));
  const clock = (): number => model.now;
  const session = new TrainingSession({ selfId: id, config, messenger, model, train: data, test, shardGraceMs: 100, connect: async () => undefined, stepTimeoutMs: 10_000, syncTimeoutMs: 5_000, clock, ...options });
  return { id, session, model, done: session.run() };
}

/** Records each of `id`'s requests for a new epoch as `id->suspect` in `blamed`. */
function blameInto(blamed: string[], id: string): SessionOptions {
  return { requestNewEpoch: (suspect) => { blamed.push(`${id}->${suspect ?? '?'}`); } };
}

async function runRoom(config: RunConfig, models: Record<string, ClockedModel | undefined>, network = new InMemoryNetwork({ latencyMs: 1 }), onStart?: (peers: Peer[]) => void): Promise<Peer[]> {
  const ids = Object.keys(models);
  const peers = ids.map((id) => startPeer(network, id, config, models[id]));
  onStart?.(peers);
  for (const p of peers) p.session.setView({ epoch: 1, members: ids });
  await Promise.all(peers.map((p) => p.done));
  for (const p of peers) {
    assert.equal(p.session.state, 'done', p.session.error ?? '');
    assert.equal(p.session.step, config.steps);
    // Identical replicas after every round, not only at the end.
    assert.deepEqual(p.session.history.map((r) => r.weightsHash), peers[0]!.session.history.map((r) => r.weightsHash));
  }
  return peers;
}

describe('round modes over the in-memory transport', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('sync=accumulate: a slow member contributes fewer micro-batches, nobody waits for it, replicas identical, it learns', async () => {
    const config = parseRunConfig({ sync: 'accumulate', roundMs: 60, steps: 12, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 12, evalSize: 400 });
    const peers = await runRoom(config, { a: undefined, b: undefined, slow: device(45) });
    const rounds = peers[0]!.session.history;
    // 5 ms a batch: 12 fit in 60 ms; 45 ms a batch: one (at least one, never a second that would overrun).
    for (const r of rounds) assert.deepEqual(r.contributions, { a: 12, b: 12, slow: 1 });
    const status = peers[2]!.session.roundStatus;
    assert.equal(status.sync, 'accumulate');
    assert.equal(status.unit, 'micro-batches');
    assert.deepEqual(status.contributions, rounds.at(-1)!.contributions);
    assert.ok(status.waitingShare !== null && status.waitingShare >= 0 && status.waitingShare <= 1);
    assert.ok(peers[0]!.session.testAccuracy! > 0.9, `accuracy ${peers[0]!.session.testAccuracy}`);
    for (const p of peers) p.model.dispose();
  });

  it('sync=local: H inner steps, one compressed outer step per round (PowerSGD), replicas identical, it learns', async () => {
    const config = parseRunConfig({ sync: 'local', inner: 5, steps: 8, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 8, evalSize: 400, compressor: 'powersgd', rank: 2 });
    const peers = await runRoom(config, { a: undefined, b: undefined, c: undefined });
    for (const r of peers[0]!.session.history) assert.deepEqual(r.contributions, { a: 5, b: 5, c: 5 });
    assert.equal(peers[1]!.session.roundStatus.unit, 'inner steps');
    assert.ok(peers[0]!.session.testAccuracy! > 0.9, `accuracy ${peers[0]!.session.testAccuracy}`);
    for (const p of peers) p.model.dispose();
  });

  it('sync=local with roundMs: inner steps as fit, the slow member weighted by the steps it made', async () => {
    const config = parseRunConfig({ sync: 'local', roundMs: 60, steps: 6, workers: 2, batchSize: 16, lr: 0.01, evalEvery: 6, evalSize: 400, compressor: 'topk', ratio: 0.1, ef: 'ef14' });
    const peers = await runRoom(config, { a: undefined, slow: device(45) });
    for (const r of peers[0]!.session.history) assert.deepEqual(r.contributions, { a: 12, slow: 1 });
    for (const p of peers) p.model.dispose();
  });

  it('sync=local: a late joiner receives the start weights and the outer momentum, then keeps in lockstep', async () => {
    const config = parseRunConfig({ sync: 'local', inner: 3, steps: 10, workers: 2, batchSize: 16, lr: 0.01, evalEvery: 100, evalSize: 100 });
    const network = new InMemoryNetwork({ latencyMs: 1 });
    const a = startPeer(network, 'a', config);
    const b = startPeer(network, 'b', config);
    for (const p of [a, b]) p.session.setView({ epoch: 2, members: ['a', 'b'] });
    while (a.session.step < 4) await new Promise((r) => setTimeout(r, 5));
    const c = startPeer(network, 'c', config);
    for (const p of [a, b, c]) p.session.setView({ epoch: 3, members: ['a', 'b', 'c'] });
    await Promise.all([a.done, b.done, c.done]);
    for (const p of [a, b, c]) {
      assert.equal(p.session.state, 'done', p.session.error ?? '');
      assert.equal(p.session.weightsHash, a.session.weightsHash);
    }
    assert.ok(c.session.events.some((e) => e.kind === 'state-received'));
    assert.ok(c.session.history.length > 0 && c.session.history.every((r) => r.peers === 3));
    for (const p of [a, b, c]) p.model.dispose();
  });

  it('sync=local, staleness=1: the next round\'s inner steps run while this round\'s sum travels; replicas identical, it learns', async () => {
    const run = async (staleness: 0 | 1): Promise<Peer[]> => {
      const config = parseRunConfig({ sync: 'local', inner: 5, steps: 8, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 8, evalSize: 400, compressor: 'powersgd', rank: 2, staleness });
      return runRoom(config, { a: undefined, b: undefined, c: undefined });
    };
    const plain = await run(0);
    const overlapped = await run(1);
    const [first, second] = [0, 1].map((i) => overlapped[0]!.session.history[i]!);
    // Round 0 starts from the same weights either way; round 1's work was computed from round 0's
    // start weights (one outer step late), so the replicas part from then on.
    assert.equal(first!.weightsHash, plain[0]!.session.history[0]!.weightsHash);
    assert.notEqual(second!.weightsHash, plain[0]!.session.history[1]!.weightsHash);
    for (const r of overlapped[0]!.session.history) assert.deepEqual(r.contributions, { a: 5, b: 5, c: 5 });
    assert.ok(overlapped[0]!.session.testAccuracy! > 0.9, `accuracy ${overlapped[0]!.session.testAccuracy}`);
    for (const p of [...plain, ...overlapped]) p.model.dispose();
  });

  for (const staleness of [0, 1] as const) it(`a member lost mid-exchange costs the others only its contribution: they reuse their round's work (staleness ${staleness})`, async () => {
    const config = parseRunConfig({ sync: 'local', inner: 3, steps: 4, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 100, evalSize: 100, checkEvery: 0, staleness });
    const network = new InMemoryNetwork({ latencyMs: 1 });
    // c goes silent in the third round's exchange (step 2 of epoch 1): a and b wait for it there.
    network.faultHook = (from, _to, bytes) => (from === 'c' && isFrame(bytes, 1, 2) ? 'drop' : undefined);
    const peers = ['a', 'b', 'c'].map((id) => startPeer(network, id, config));
    for (const p of peers) p.session.setView({ epoch: 1, members: ['a', 'b', 'c'] });
    const [a, b, c] = peers as [Peer, Peer, Peer];
    while (a.session.history.length < 2 || b.session.history.length < 2) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 300));
    c.session.stop();
    for (const p of [a, b]) p.session.setView({ epoch: 2, members: ['a', 'b'] });
    await Promise.all(peers.map((p) => p.done));
    for (const p of [a, b]) {
      assert.equal(p.session.state, 'done', p.session.error ?? '');
      assert.equal(p.session.weightsHash, a.session.weightsHash);
      const redone = p.session.history[2]!;
      assert.equal(redone.epoch, 2);
      assert.deepEqual(redone.contributions, { a: 3, b: 3 });
      // With staleness 1 the next round's work, computed during the failed attempt, is kept too.
      assert.equal(redone.ms.compute, 0, 'the kept work, not computed again');
      assert.ok(p.session.events.some((e) => e.kind === 'step-aborted'));
    }
    for (const p of peers) p.model.dispose();
  });

  it('collective=two-shot: rounds sum in two hops, replicas identical, contributions as on the ring', async () => {
    for (const sync of ['accumulate', 'step'] as const) {
      const config = parseRunConfig({ sync, roundMs: sync === 'accumulate' ? 60 : 0, collective: 'two-shot', steps: 6, workers: 4, batchSize: 16, lr: 0.01, evalEvery: 6, evalSize: 400 });
      const peers = await runRoom(config, { a: undefined, b: undefined, c: undefined, slow: device(45) });
      if (sync === 'accumulate') for (const r of peers[0]!.session.history) assert.deepEqual(r.contributions, { a: 12, b: 12, c: 12, slow: 1 });
      assert.ok(peers[0]!.session.testAccuracy! > 0.5, `${sync}: accuracy ${peers[0]!.session.testAccuracy}`);
      // From the second round on, the owners' shares follow the last round's contributions: the bits do not.
      for (const p of peers) {
        assert.equal(p.session.state, 'done', p.session.error ?? '');
        assert.equal(p.session.weightsHash, peers[0]!.session.weightsHash);
        assert.ok(!p.session.events.some((e) => e.kind === 'step-aborted'), `${sync}: no step aborted`);
      }
      for (const p of peers) p.model.dispose();
    }
  });

  it('sync=accumulate: the budget runs from the end of the last exchange, so work between rounds is spent from it', async () => {
    const config = parseRunConfig({ sync: 'accumulate', roundMs: 60, steps: 4, workers: 2, batchSize: 16, lr: 0.01, evalEvery: 1, evalSize: 100, checkEvery: 0 });
    const peers = await runRoom(config, { a: undefined, e: new EvaluatingModel(5, 30) });
    // The first round runs from the sync (e's evaluation of step 0 came before it); each later one
    // begins with e evaluating the last for 30 of its 60 ms, leaving room for 6 batches of 5 ms.
    assert.deepEqual(peers[0]!.session.history.map((r) => r.contributions), [
      { a: 12, e: 12 }, { a: 12, e: 6 }, { a: 12, e: 6 }, { a: 12, e: 6 },
    ]);
    for (const p of peers) p.model.dispose();
  });

  it('sync=accumulate: a member with no room in its budget for evaluation and a micro-batch defers it, at most 4 rounds in a row, never the last', async () => {
    const config = parseRunConfig({ sync: 'accumulate', roundMs: 60, steps: 12, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 1, evalSize: 100, checkEvery: 0 });
    const peers = await runRoom(config, { a: new EvaluatingModel(5, 3), b: undefined, slow: new EvaluatingModel(45, 30) });
    const evaluatedAt = (p: Peer): number[] => p.session.history.filter((r) => r.testAccuracy !== undefined).map((r) => r.step);
    // slow: 30 ms of evaluation and 45 of a micro-batch overrun its 60 ms; its first evaluation
    // (time still unknown) runs, then 4 are deferred, then one runs, ... and the last one always.
    assert.deepEqual(evaluatedAt(peers[2]!), [1, 6, 11, 12]);
    for (const p of peers.slice(0, 2)) assert.deepEqual(evaluatedAt(p), Array.from({ length: 12 }, (_, i) => i + 1));
    assert.equal(peers[2]!.session.testAccuracy, peers[0]!.session.testAccuracy);
    for (const r of peers[0]!.session.history.slice(1)) assert.deepEqual(r.contributions, { a: 11, b: 12, slow: 1 });
    for (const p of peers) p.model.dispose();
  });

  it('sync=accumulate: a member merely slower is never blamed; one whose contribution misses the round\'s deadline is', async () => {
    const config = parseRunConfig({ sync: 'accumulate', roundMs: 30, steps: 4, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 100, evalSize: 100, checkEvery: 0 });
    /**
     * A room whose member `slow` computes one micro-batch per round (45 ms on its clock) and whose
     * collective frames arrive `lateMs` of real time late, as from a device that slow: the test's
     * peers share one thread, so only a delay on the wire makes the others wait for it alone.
     */
    const room = async (lateMs: number, untilMs: number): Promise<{ peers: Peer[]; blamed: string[] }> => {
      const network = new InMemoryNetwork({ latencyMs: 1 });
      network.faultHook = (from, _to, bytes) => (from === 'slow' && isFrame(bytes, 1, 0) ? { delayMs: lateMs } : undefined);
      const blamed: string[] = [];
      // The first rounds have no history to go by: their deadline is the step's ceiling.
      const peers = ['a', 'b', 'slow'].map((id) => startPeer(network, id, config, device(id === 'slow' ? 45 : 5), train, { stepTimeoutMs: 1_500, ...blameInto(blamed, id) }));
      for (const p of peers) p.session.setView({ epoch: 1, members: ['a', 'b', 'slow'] });
      const began = Date.now();
      while (Date.now() - began < untilMs && !peers.every((p) => p.session.state === 'done')) await new Promise((r) => setTimeout(r, 10));
      for (const p of peers) p.session.stop();
      await Promise.all(peers.map((p) => p.done));
      for (const p of peers) p.model.dispose();
      return { peers, blamed };
    };

    // Its first round's contribution 400 ms late, 13x the round's budget: the others wait, nobody blames it.
    const slower = await room(400, 20_000);
    assert.deepEqual(slower.blamed, []);
    for (const p of slower.peers) assert.equal(p.session.state, 'done', p.session.error ?? '');
    for (const r of slower.peers[0]!.session.history) assert.deepEqual(r.contributions, { a: 6, b: 6, slow: 1 });
    assert.equal(slower.peers[2]!.session.weightsHash, slower.peers[0]!.session.weightsHash);

    // 3 s late, past the 1.5 s deadline: both others time out and name it, and only it (it names
    // itself too: what its ring waits for is its own late frames, passed on).
    const stuck = await room(3_000, 2_500);
    assert.ok(stuck.blamed.includes('a->slow') && stuck.blamed.includes('b->slow'), stuck.blamed.join(', '));
    assert.ok(stuck.blamed.every((b) => b.endsWith('->slow')), stuck.blamed.join(', '));
  });

  it('sync=accumulate, staleness=1: a member too slow for the round sits every other one out and contributes its work one round late; nobody waits, replicas identical, it learns', async () => {
    const config = parseRunConfig({ sync: 'accumulate', staleness: 1, roundMs: 60, steps: 12, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 12, evalSize: 400 });
    // The step the slow member's replica is at when it sends its first collective frame of each round.
    const network = new InMemoryNetwork({ latencyMs: 1 });
    const sentAt = new Map<number, number>();
    let slowSession: TrainingSession | undefined;
    network.faultHook = (from, _to, bytes) => {
      const frame = from === 'slow' ? decodeFrame(bytes) : undefined;
      if (slowSession && frame && (frame.kind === MessageKind.Reduce || frame.kind === MessageKind.Gather) && !sentAt.has(frame.step)) sentAt.set(frame.step, slowSession.step);
      return undefined;
    };
    const peers = await runRoom(config, { a: undefined, b: undefined, slow: device(45) }, network, (started) => { slowSession = started[2]!.session; });
    // 45 ms a batch, more than half of the 60 ms budget: after two such rounds it flags, sits the
    // next out (computing meanwhile), contributes that batch in the one after, flags again, ...
    assert.deepEqual(peers[0]!.session.history.map((r) => r.contributions!.slow), [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    for (const r of peers[0]!.session.history) assert.deepEqual([r.contributions!.a, r.contributions!.b], [12, 12]);
    const slow = peers[2]!.session.history;
    // In the rounds it sits out it computes (the next round's batch) and receives the outcome; in
    // the others its batch is ready, computed the round before.
    for (const r of slow.slice(2)) assert.ok(r.step % 2 === 1 ? r.ms.compute > 0 : r.ms.compute === 0, `step ${r.step}: ${r.ms.compute} ms of compute`);
    // A round it takes part in after sitting one out, it starts as soon as it has the outcome, before
    // applying it: the others never wait while it applies, evaluates and redraws.
    assert.deepEqual([0, 1, 3, 5, 7, 9, 11].map((round) => sentAt.get(round)), [0, 1, 2, 4, 6, 8, 10]);
    assert.ok(peers[0]!.session.testAccuracy! > 0.9, `accuracy ${peers[0]!.session.testAccuracy}`);
    assert.equal(peers[2]!.session.testAccuracy, peers[0]!.session.testAccuracy);
    // It contributed to the last round and flagged again: status says who sits the next one out.
    for (const p of peers) assert.deepEqual(p.session.roundStatus.sittingOut, ['slow']);
    for (const p of peers) p.model.dispose();
  });

  it('sync=accumulate, staleness=1, PowerSGD: the member sitting a round out takes the warm start with the outcome, so the next round decodes alike', async () => {
    const config = parseRunConfig({ sync: 'accumulate', staleness: 1, roundMs: 60, steps: 8, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 8, evalSize: 400, compressor: 'powersgd', rank: 2, ef: 'ef14' });
    const peers = await runRoom(config, { a: undefined, b: undefined, slow: device(45) });
    assert.deepEqual(peers[0]!.session.history.map((r) => r.contributions!.slow), [1, 1, 0, 1, 0, 1, 0, 1]);
    assert.ok(peers[0]!.session.testAccuracy! > 0.5, `accuracy ${peers[0]!.session.testAccuracy}`);
    for (const p of peers) p.model.dispose();
  });

  it('sync=accumulate, staleness=1: the member sitting a round out whose outcome never comes blames the forwarder; after a new epoch all finish identical', async () => {
    const config = parseRunConfig({ sync: 'accumulate', staleness: 1, roundMs: 60, steps: 8, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 100, evalSize: 100, checkEvery: 0 });
    const network = new InMemoryNetwork({ latencyMs: 1 });
    // a forwards round 2's outcome (the first the slow member sits out); it is lost on the way.
    network.faultHook = (from, to, bytes) => {
      if (from !== 'a' || to !== 'slow') return undefined;
      try {
        const frame = decodeFrame(bytes);
        return frame.kind === MessageKind.RoundUpdate && frame.epoch === 1 ? 'drop' : undefined;
      } catch {
        return undefined;
      }
    };
    const blamed: string[] = [];
    const peers = ['a', 'b', 'slow'].map((id) => startPeer(network, id, config, device(id === 'slow' ? 45 : 5), train, { stepTimeoutMs: 1_000, ...blameInto(blamed, id) }));
    for (const p of peers) p.session.setView({ epoch: 1, members: ['a', 'b', 'slow'] });
    while (!blamed.includes('slow->a')) await new Promise((r) => setTimeout(r, 10));
    for (const p of peers) p.session.setView({ epoch: 2, members: ['a', 'b', 'slow'] });
    await Promise.all(peers.map((p) => p.done));
    for (const p of peers) {
      assert.equal(p.session.state, 'done', p.session.error ?? '');
      assert.equal(p.session.weightsHash, peers[0]!.session.weightsHash);
    }
    const slowEvents = peers[2]!.session.events;
    assert.ok(slowEvents.some((e) => e.kind === 'step-aborted' && /outcome from a/.test(e.message)), slowEvents.map((e) => e.message).join('\n'));
    // The others never waited for it: they completed that round in epoch 1, and it took the state
    // from them in the new epoch's sync.
    assert.equal(peers[0]!.session.history.find((r) => r.step === 3)?.epoch, 1);
    assert.ok(slowEvents.some((e) => e.kind === 'state-received'));
    for (const p of peers) p.model.dispose();
  });

  it('sync=accumulate, staleness=1: a member whose shard is still loading takes part with nothing and sits every other round out, so the room trains meanwhile; once it holds its shard it contributes', async () => {
    const config = parseRunConfig({ sync: 'accumulate', staleness: 1, roundMs: 60, steps: 16, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 16, evalSize: 400, checkEvery: 0 });
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let held = false;
    const loading: ExampleSource = {
      count: train.count, shape: train.shape, classes: train.classes, labels: train.labels,
      gather: (indices) => {
        if (!held) throw new Error('a batch drawn from a shard not held yet');
        return subset(train, indices);
      },
      hold: async () => {
        await released;
        held = true;
      },
    };
    const network = new InMemoryNetwork({ latencyMs: 1 });
    const peers = [startPeer(network, 'a', config), startPeer(network, 'b', config), startPeer(network, 'late', config, device(5), loading)];
    for (const p of peers) p.session.setView({ epoch: 1, members: ['a', 'b', 'late'] });
    // The room trains five rounds while its shard loads.
    const until = Date.now() + 20_000;
    while (peers[0]!.session.step < 5) {
      if (Date.now() > until) {
        release();
        assert.fail(`the room waited for the loading member: step ${peers[0]!.session.step}`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const releasedAt = peers[0]!.session.step;
    release();
    await Promise.all(peers.map((p) => p.done));
    for (const p of peers) {
      assert.equal(p.session.state, 'done', p.session.error ?? '');
      assert.deepEqual(p.session.history.map((r) => r.weightsHash), peers[0]!.session.history.map((r) => r.weightsHash));
    }
    const late = peers[0]!.session.history.map((r) => r.contributions!.late);
    // Nothing while it loaded (taking part in rounds 0, 2, 4, ..., sitting out 1, 3, ...); its
    // batches from the round after the one it sits out once it holds its shard, then every round.
    const first = late.findIndex((n) => (n ?? 0) > 0);
    assert.ok(first >= 5 && first <= releasedAt + 4, `${late.join(',')} (held after round ${releasedAt})`);
    assert.ok(late.slice(first).every((n) => (n ?? 0) > 0), late.join(','));
    assert.equal(peers[2]!.session.weightsHash, peers[0]!.session.weightsHash);
    for (const p of peers) p.model.dispose();
  });

  it('sync=accumulate: rounds in which no member holds its shard (both reloading after a member left) make no optimizer step, on either replica', async () => {
    // Adam: after a few rounds its momentum would move the weights on zero gradients.
    const config = parseRunConfig({ sync: 'accumulate', roundMs: 60, steps: 40, workers: 2, batchSize: 16, lr: 0.01, evalEvery: 40, evalSize: 400, checkEvery: 0 });
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => { release = resolve; });
    // Held at once for the first epoch; the shard of the next one loads until released.
    const reloading = (): ExampleSource => {
      let holds = 0;
      return {
        count: train.count, shape: train.shape, classes: train.classes, labels: train.labels,
        gather: (indices) => subset(train, indices),
        hold: async () => {
          if (++holds > 1) await released;
        },
      };
    };
    const network = new InMemoryNetwork({ latencyMs: 1 });
    const peers = [startPeer(network, 'a', config, device(5), reloading()), startPeer(network, 'b', config, device(5), reloading()), startPeer(network, 'c', config)];
    for (const p of peers) p.session.setView({ epoch: 1, members: ['a', 'b', 'c'] });
    const waitFor = async (what: string, done: () => boolean): Promise<void> => {
      for (const until = Date.now() + 20_000; !done(); await new Promise((r) => setTimeout(r, 2))) {
        if (Date.now() > until) {
          release();
          assert.fail(what);
        }
      }
    };
    await waitFor('four rounds in epoch 1', () => peers[0]!.session.step >= 4);
    peers[2]!.session.stop();
    const [a, b] = peers as [Peer, Peer];
    for (const p of [a, b]) p.session.setView({ epoch: 2, members: ['a', 'b'] });
    await waitFor('three rounds with nothing in epoch 2', () => a.session.history.filter((r) => r.epoch === 2).length >= 3);
    release();
    await Promise.all(peers.map((p) => p.done));
    for (const p of [a, b]) {
      assert.equal(p.session.state, 'done', p.session.error ?? '');
      assert.deepEqual(p.session.events.filter((e) => e.kind === 'nonfinite'), []);
    }
    const history = a.session.history;
    assert.deepEqual(b.session.history.filter((r) => r.epoch === 2).map((r) => r.weightsHash), history.filter((r) => r.epoch === 2).map((r) => r.weightsHash));
    const empty = history.map((r, i) => ({ r, i })).filter(({ r }) => r.epoch === 2 && Object.values(r.contributions!).every((n) => n === 0));
    assert.ok(empty.length >= 3, `${empty.length} rounds with nothing`);
    for (const { r, i } of empty) assert.equal(r.weightsHash, history[i - 1]!.weightsHash, `round ${r.step}: nothing contributed, nothing moved`);
    // Then both train again, and the weights move.
    const last = history.at(-1)!;
    assert.ok(Object.values(last.contributions!).every((n) => n > 0), JSON.stringify(last.contributions));
    assert.notEqual(last.weightsHash, empty.at(-1)!.r.weightsHash);
    for (const p of peers) p.model.dispose();
  });

  it('sync=accumulate, staleness=1: a round every member refuses as non-finite while one sits it out reaches that one as refused; nobody is blamed, replicas identical', async () => {
    const config = parseRunConfig({ sync: 'accumulate', staleness: 1, roundMs: 60, steps: 12, workers: 3, batchSize: 16, lr: 0.01, evalEvery: 12, evalSize: 400, checkEvery: 0 });
    // In rounds 6 and 7 (one of which the slow member sits out), a's and b's first batch has
    // gradients of 1.5e37: each member's sum stays finite, their sum overflows f32.
    const sessions = new Map<string, TrainingSession>();
    class Overflowing extends ClockedModel {
      private poisoned = -1;
      constructor(private readonly id: string) {
        super(5);
      }

      override gradient(batch: Dataset): ReturnType<Model['gradient']> {
        const result = super.gradient(batch);
        const step = sessions.get(this.id)?.step ?? 0;
        if (step < 6 || step > 7 || this.poisoned === step) return result;
        this.poisoned = step;
        return { ...result, grads: result.grads.map((g) => g.map(() => 1.5e37)) };
      }
    }
    const blamed: string[] = [];
    const network = new InMemoryNetwork({ latencyMs: 1 });
    const refusedOutcomes: number[] = [];
    network.faultHook = (_from, to, bytes) => {
      const frame = to === 'slow' ? decodeFrame(bytes) : undefined;
      if (frame?.kind === MessageKind.RoundUpdate && frame.step >= 6 && frame.step <= 7) refusedOutcomes.push(frame.step);
      return undefined;
    };
    const peers = ['a', 'b', 'slow'].map((id) => {
      const peer = startPeer(network, id, config, id === 'slow' ? device(45) : new Overflowing(id), train, { stepTimeoutMs: 2_000, ...blameInto(blamed, id) });
      sessions.set(id, peer.session);
      return peer;
    });
    for (const p of peers) p.session.setView({ epoch: 1, members: ['a', 'b', 'slow'] });
    await Promise.all(peers.map((p) => p.done));
    assert.deepEqual(blamed, []);
    for (const p of peers) {
      assert.equal(p.session.state, 'done', p.session.error ?? '');
      assert.deepEqual(p.session.history.map((r) => r.weightsHash), peers[0]!.session.history.map((r) => r.weightsHash));
      // Both rounds counted without being applied, on every member.
      assert.deepEqual(p.session.events.filter((e) => e.kind === 'nonfinite').map((e) => e.message), ['non-finite update at step 6; not applied', 'non-finite update at step 7; not applied']);
    }
    // The slow member sat one of them out, and the forwarder told it the round was refused.
    assert.equal(refusedOutcomes.length, 1, refusedOutcomes.join(','));
    for (const p of peers) p.model.dispose();
  });

  it('refuses accumulate without a budget, and sitting rounds out with a shared mean of every member\'s estimate (ef21, diana)', () => {
    const network = new InMemoryNetwork();
    const make = (over: Record<string, unknown>): unknown => new TrainingSession({
      selfId: 'a', config: parseRunConfig(over), messenger: new Messenger(network.join(`x${Math.random()}`)), model: device(1), train, test, connect: async () => undefined,
    });
    assert.doesNotThrow(() => make({ sync: 'accumulate', roundMs: 100, staleness: 1 }));
    assert.throws(() => make({ sync: 'accumulate', roundMs: 100, staleness: 1, ef: 'ef21' }), { name: 'ConfigError' });
    assert.throws(() => make({ sync: 'accumulate', roundMs: 100, staleness: 1, ef: 'diana' }), { name: 'ConfigError' });
    assert.doesNotThrow(() => make({ sync: 'local', staleness: 1 }));
    assert.throws(() => make({ sync: 'accumulate' }), { name: 'ConfigError' });
  });
});

