/**
 * The contract every GradientAggregator keeps (compress/types.ts), as node:test tests to run
 * against each valid compressor x error-control combination of the registry, over the simulated
 * collective (which records what each peer hands to it):
 * - its codecId is the codec's wire id;
 * - every peer gets an update with identical bits, of the layers' sizes; the same seed and inputs
 *   give the same bytes on the wire and the same updates in a second run;
 * - `messageBytes(step)` is what the step hands to the collective, and `bytesPerStep(n)` is the
 *   ring/all-gather model of the steady steps' messageBytes;
 * - a failed collective leaves the state exactly as before, and the redone step matches;
 * - a late joiner that imports the shared state stays in lockstep;
 * - `restart()` on a fresh aggregator changes nothing; after a member leaves, the survivors that
 *   restart (and a joiner that imports the state before or after they do, then restarts) hold
 *   identical shared state and stay in lockstep;
 * - a non-finite gradient is refused with NonFiniteError before anything is sent;
 * - a step whose sums overflow f32 (3e38 everywhere on two peers) is refused with NonFiniteError
 *   by every peer, committing nothing (the next finite step matches a fresh team's), unless the
 *   variant says its steps stay finite there (an all-gather averaged in f64 cannot overflow);
 * - dispose is idempotent, and aggregate afterwards rejects with DisposedError;
 * - no tensor outlives a step.
 * The caller sets tfjs up (backend) before the tests run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { layerSize } from '../compress/layers.ts';
import type { CollectiveBytes, GradientAggregator, LayerShape } from '../compress/types.ts';
import { gaussianArray, simulatePeers, type CollectiveCall } from './simulated-collective.ts';

export interface AggregatorContractOptions {
  /** The layers the factory builds aggregators for. */
  layers: LayerShape[];
  /** The codec id the aggregator must write on the wire (CODEC_IDS). */
  id: number;
  /** Steps whose messageBytes `bytesPerStep` averages (after a run, so EF21 is initialised). @default [1] */
  steadySteps?: number[];
  /** Steps of each run. @default 6 */
  steps?: number;
  /** @default 3 */
  peers?: number;
  /**
   * The overflow step (3e38 on two peers) resolves with finite updates instead of being refused:
   * the first step all-gathers and averages in f64, where a mean of finite f32 values stays finite.
   * @default false
   */
  overflowStaysFinite?: boolean;
}

type Step = { step: number; expected: CollectiveBytes[]; calls: CollectiveCall[][]; updates: Float32Array[][] };

const bits = (arrays: Float32Array[]): Uint8Array[] => arrays.map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

function handedOver(calls: CollectiveCall[]): CollectiveBytes {
  const out = { allReduce: 0, allGather: 0 };
  for (const c of calls) out[c.op === 'allReduceSum' ? 'allReduce' : 'allGather'] += c.bytes;
  return out;
}

/** Bytes one peer sends for one message: a ring sends 2(N-1)/N of its input, an all-gather (N-1) copies. */
function ringModel(bytes: CollectiveBytes, peers: number): number {
  return peers <= 1 ? 0 : (2 * (peers - 1) * bytes.allReduce) / peers + (peers - 1) * bytes.allGather;
}

export function aggregatorContract(name: string, make: () => GradientAggregator, options: AggregatorContractOptions): void {
  const { layers } = options;
  const peers = options.peers ?? 3;
  const steps = options.steps ?? 6;
  const grads = (rank: number, step: number): Float32Array[] =>
    layers.map((layer, l) => gaussianArray(layerSize(layer), 1 + rank, 'aggregator-contract', rank, step, l));

  /** `count` steps from `first` on `team` (one aggregator per peer). */
  const run = async (team: GradientAggregator[], first: number, count: number): Promise<Step[]> => {
    const history: Step[] = [];
    for (let step = first; step < first + count; step++) {
      const expected = team.map((a) => a.messageBytes(step));
      const calls: CollectiveCall[][] = [];
      const updates = await simulatePeers(team.length, (collective, rank) => {
        calls[rank] = collective.calls;
        return team[rank]!.aggregate(grads(rank, step), collective);
      }, { step });
      history.push({ step, expected, calls, updates });
    }
    return history;
  };
  const team = (): GradientAggregator[] => Array.from({ length: peers }, make);

  describe(`Aggregator contract: ${name}`, () => {
    it(`carries codec id ${options.id}`, () => {
      assert.equal(make().codecId, options.id);
    });

    it('hands the collective its messageBytes and gives every peer identical, reproducible bits', async () => {
      const [first, second] = [team(), team()];
      const [a, b] = [await run(first, 0, steps), await run(second, 0, steps)];
      a.forEach(({ step, expected, calls, updates }, i) => {
        for (let rank = 0; rank < peers; rank++) {
          assert.deepEqual(handedOver(calls[rank]!), expected[rank], `step ${step} peer ${rank}: handed over vs messageBytes`);
          assert.deepEqual(updates[rank]!.map((u) => u.length), layers.map(layerSize));
          assert.deepEqual(bits(updates[rank]!), bits(updates[0]!), `step ${step} peer ${rank}: other update bits`);
          const again = b[i]!.calls[rank]!;
          assert.equal(again.length, calls[rank]!.length);
          calls[rank]!.forEach((c, j) => assert.deepEqual(new Uint8Array(c.payload.buffer), new Uint8Array(again[j]!.payload.buffer), `step ${step} peer ${rank} call ${j}: other bytes in a second run`));
        }
        assert.deepEqual(bits(b[i]!.updates[0]!), bits(updates[0]!), `step ${step}: another update in a second run`);
      });
      const states = first.map((agg) => agg.exportSharedState());
      for (const s of states) assert.deepEqual(s, states[0]);
      // bytesPerStep is the ring/all-gather model of the steady steps.
      const steady = (options.steadySteps ?? [1]).map((s) => first[0]!.messageBytes(s));
      for (const n of [1, 2, 5]) {
        const model = steady.reduce((sum, m) => sum + ringModel(m, n), 0) / steady.length;
        assert.ok(Math.abs(first[0]!.bytesPerStep(n) - model) < 1e-9, `bytesPerStep(${n}) = ${first[0]!.bytesPerStep(n)}, model ${model}`);
      }
    });

    it('leaves the state exactly as before when a collective fails, and the redone step matches', async () => {
      const reference = await run(team(), 0, steps - 1);
      const aggregators = team();
      for (let step = 0; step < steps - 1; step++) {
        const callCount = reference[step]!.calls[0]!.length;
        const before = aggregators.map((a) => a.exportSharedState());
        // Fail the last collective of the step (the most state-changing point), then redo the step.
        await assert.rejects(
          simulatePeers(peers, (c, rank) => aggregators[rank]!.aggregate(grads(rank, step), c), { step, failAtCall: callCount - 1 }),
          { name: 'AbortedError' },
        );
        assert.deepEqual(aggregators.map((a) => a.exportSharedState()), before, `step ${step}: state changed`);
        const updates = await simulatePeers(peers, (c, rank) => aggregators[rank]!.aggregate(grads(rank, step), c), { step });
        assert.deepEqual(bits(updates[0]!), bits(reference[step]!.updates[0]!), `step ${step}: redone step differs`);
      }
    });

    it('keeps a late joiner that imports the shared state in lockstep', async () => {
      const aggregators = team();
      await run(aggregators, 0, 3);
      const joiner = make();
      joiner.importSharedState(aggregators[0]!.exportSharedState());
      assert.deepEqual(joiner.exportSharedState(), aggregators[0]!.exportSharedState());
      // The joiner replaces the last peer (which left).
      const next = [...aggregators.slice(0, -1), joiner];
      for (const { step, updates } of await run(next, 3, 3)) {
        for (const u of updates) assert.deepEqual(bits(u), bits(updates[0]!), `step ${step}`);
      }
      const states = next.map((a) => a.exportSharedState());
      for (const s of states) assert.deepEqual(s, states[0]);
    });

    it('restart() changes nothing on a fresh aggregator, and re-establishes identical shared state after a departure', async () => {
      const fresh = make();
      const initial = fresh.exportSharedState();
      fresh.restart();
      assert.deepEqual(fresh.exportSharedState(), initial);
      const aggregators = team();
      await run(aggregators, 0, 3);
      // The last peer leaves; a joiner takes its place with the state exported before the restart.
      const joiner = make();
      joiner.importSharedState(aggregators[0]!.exportSharedState());
      const next = [...aggregators.slice(0, -1), joiner];
      for (const a of next) a.restart();
      const states = next.map((a) => a.exportSharedState());
      for (const s of states) assert.deepEqual(s, states[0]);
      for (const { step, updates } of await run(next, 3, 3)) {
        for (const u of updates) assert.deepEqual(bits(u), bits(updates[0]!), `step ${step}`);
      }
      const after = next.map((a) => a.exportSharedState());
      for (const s of after) assert.deepEqual(s, after[0]);
    });

    it(options.overflowStaysFinite ? 'gives every peer the same finite update when the sums would overflow f32' : 'refuses, on every peer, a step whose sums overflow f32 with NonFiniteError and commits nothing', async () => {
      const huge = (rank: number): Float32Array[] => (rank < 2 ? layers.map((layer) => new Float32Array(layerSize(layer)).fill(3e38)) : grads(rank, 0));
      const aggregators = team();
      const before = aggregators.map((a) => a.exportSharedState());
      // A guard, not a measurement: a peer that refused alone would leave the others waiting.
      const outcomes = await simulatePeers(peers, async (c, rank) => {
        try {
          return { update: await aggregators[rank]!.aggregate(huge(rank), c) };
        } catch (err) {
          return { refused: err as Error };
        }
      }, { step: 0, signal: AbortSignal.timeout(60_000) });
      if (options.overflowStaysFinite) {
        for (const o of outcomes) {
          assert.equal(o.refused, undefined, `refused: ${o.refused?.message}`);
          assert.ok(o.update!.every((u) => u.every(Number.isFinite)));
          assert.deepEqual(bits(o.update!), bits(outcomes[0]!.update!));
        }
        const [later] = await run(aggregators, 1, 1);
        for (const u of later!.updates) assert.deepEqual(bits(u), bits(later!.updates[0]!));
        assert.ok(later!.updates[0]!.every((u) => u.every(Number.isFinite)), 'a later step is not finite');
        return;
      }
      for (const o of outcomes) assert.equal(o.refused?.name, 'NonFiniteError', o.refused?.message ?? 'resolved');
      assert.deepEqual(aggregators.map((a) => a.exportSharedState()), before);
      // Nothing was committed, local state included: the next step is a fresh team's.
      const [after] = await run(aggregators, 1, 1);
      const [reference] = await run(team(), 1, 1);
      after!.updates.forEach((u, rank) => assert.deepEqual(bits(u), bits(reference!.updates[rank]!), `peer ${rank}`));
      assert.ok(after!.updates[0]!.every((u) => u.every(Number.isFinite)));
    });

    it('refuses a non-finite gradient with NonFiniteError before anything is sent', async () => {
      const aggregator = make();
      const bad = grads(0, 0);
      bad[bad.findIndex((g) => g.length > 0)]![0] = NaN;
      let calls: CollectiveCall[] = [];
      await assert.rejects(simulatePeers(1, (c) => {
        calls = c.calls;
        return aggregator.aggregate(bad, c);
      }), { name: 'NonFiniteError' });
      assert.deepEqual(calls, []);
    });

    it('is disposed idempotently; aggregate afterwards rejects with DisposedError', async () => {
      const aggregator = make();
      aggregator.dispose();
      aggregator.dispose();
      await assert.rejects(simulatePeers(1, (c) => aggregator.aggregate(grads(0, 0), c)), { name: 'DisposedError' });
    });

    it('leaves no tensor behind', async () => {
      const pair = Array.from({ length: 2 }, make);
      await run(pair, 0, 1); // warm-up: tfjs may register kernels lazily
      const before = tf.memory().numTensors;
      await run(pair, 1, steps - 1);
      assert.equal(tf.memory().numTensors, before);
    });
  });
}
