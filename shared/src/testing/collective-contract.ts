/**
 * The contract every Collective keeps (collective.ts), as node:test tests to run against each
 * implementation: the ring collective over real messengers and the simulated one.
 *
 * For 1 to 5 peers and vector lengths 0, 1, just below and above the implementation's exact
 * (direct) threshold and well above it: `allReduceSum` gives identical bits on every peer, equal
 * to the rank-order f32 sum where the implementation sums in rank order, and within rounding of
 * the exact sum elsewhere (and on an f16 wire); inputs are left alone; `allGather` returns every
 * blob by rank; an aborted signal rejects with its reason, before or during a call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Collective } from '../collective/collective.ts';
import { AbortedError } from '../errors.ts';
import { gaussianArray } from './simulated-collective.ts';

export interface CollectiveHarness {
  /**
   * Runs `fn` on every peer at once with a collective of `step` bound to `signal`; resolves with
   * the results by rank, rejects if any peer fails.
   */
  run<T>(step: number, fn: (collective: Collective, rank: number) => Promise<T>, signal: AbortSignal): Promise<T[]>;
  close(): void;
}

export type CollectiveFactory = (peers: number) => CollectiveHarness;

export interface CollectiveContractOptions {
  /**
   * Vectors shorter than this many values are summed in rank order (bit-exact rank-order f32
   * sums); longer ones may be summed in another order (checked within rounding). @default Infinity
   */
  exactBelowValues?: number;
  /** @default [1, 2, 3, 4, 5] */
  peerCounts?: number[];
}

/** Lengths that exercise both paths when there is a threshold, a few sizes when there is none. */
function lengthsFor(threshold: number): number[] {
  if (!Number.isFinite(threshold)) return [0, 1, 37, 1000, 5003];
  return [...new Set([0, 1, Math.max(0, threshold - 1), threshold + 1, 3 * threshold + 7])];
}

/** The f32 sum in rank order, as a peer adding the others' vectors one by one gets it. */
function rankOrderSum(xs: Float32Array[]): Float32Array {
  const sum = new Float32Array(xs[0]!.length);
  for (const x of xs) for (let j = 0; j < sum.length; j++) sum[j] = sum[j]! + x[j]!;
  return sum;
}

const bitsOf = (x: Float32Array): Uint8Array => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

/** |got - exact sum| within `relative` of the sum of magnitudes (plus a subnormal floor), per value. */
function assertNearSum(got: Float32Array, xs: Float32Array[], relative: number, label: string): void {
  for (let j = 0; j < got.length; j++) {
    let exact = 0;
    let magnitude = 0;
    for (const x of xs) {
      exact += x[j]!;
      magnitude += Math.abs(x[j]!);
    }
    const bound = relative * magnitude + xs.length * 2 ** -24;
    assert.ok(Math.abs(got[j]! - exact) <= bound, `${label}[${j}]: ${got[j]} vs ${exact} (bound ${bound})`);
  }
}

export function collectiveContract(name: string, factory: CollectiveFactory, options: CollectiveContractOptions = {}): void {
  const threshold = options.exactBelowValues ?? Infinity;
  const lengths = lengthsFor(threshold);

  const withGroup = async (n: number, body: (h: CollectiveHarness) => Promise<void>): Promise<void> => {
    const harness = factory(n);
    try {
      await body(harness);
    } finally {
      harness.close();
    }
  };
  const open = (): AbortSignal => new AbortController().signal;

  describe(`Collective contract: ${name}`, () => {
    for (const n of options.peerCounts ?? [1, 2, 3, 4, 5]) {
      it(`${n} peer(s): size, rank and step`, async () => {
        await withGroup(n, async (h) => {
          const seen = await h.run(7, async (c) => ({ size: c.size, rank: c.rank, step: c.step }), open());
          assert.deepEqual(seen, Array.from({ length: n }, (_, rank) => ({ size: n, rank, step: 7 })));
        });
      });

      it(`${n} peer(s): allReduceSum on an f32 wire, lengths ${lengths.join(', ')}`, async () => {
        await withGroup(n, async (h) => {
          for (const length of lengths) {
            const xs = Array.from({ length: n }, (_, r) => gaussianArray(length, 1 + r, 'collective-contract', n, length, r));
            const copies = xs.map((x) => x.slice());
            const results = await h.run(1, (c, rank) => c.allReduceSum(xs[rank]!, length % 0xffff), open());
            const label = `N=${n} length ${length}`;
            results.forEach((r, rank) => {
              assert.equal(r.length, length, label);
              assert.deepEqual(bitsOf(r), bitsOf(results[0]!), `${label}: peer ${rank} got other bits`);
              assert.deepEqual(bitsOf(xs[rank]!), bitsOf(copies[rank]!), `${label}: peer ${rank}'s input changed`);
            });
            if (length < threshold) assert.deepEqual(bitsOf(results[0]!), bitsOf(rankOrderSum(xs)), `${label}: not the rank-order sum`);
            else assertNearSum(results[0]!, xs, n * 2 ** -23, label);
          }
        });
      });

      it(`${n} peer(s): allReduceSum on an f16 wire: identical bits, within half precision`, async () => {
        await withGroup(n, async (h) => {
          for (const length of lengths) {
            const xs = Array.from({ length: n }, (_, r) => gaussianArray(length, 1, 'collective-contract-f16', n, length, r));
            const results = await h.run(2, (c, rank) => c.allReduceSum(xs[rank]!, 3, { wire: 'f16' }), open());
            const label = `N=${n} length ${length} f16`;
            for (const r of results) assert.deepEqual(bitsOf(r), bitsOf(results[0]!), label);
            // Each hop rounds to a half (relative 2^-11), at most n times.
            assertNearSum(results[0]!, xs, n * 2 ** -10, label);
          }
        });
      });

      it(`${n} peer(s): allGather returns every blob by rank`, async () => {
        await withGroup(n, async (h) => {
          // Empty, small and (for rank 1) larger than one frame.
          const blobs = Array.from({ length: n }, (_, r) => new Uint8Array(r === 1 ? 300_000 : r * 17).fill(r + 1));
          const results = await h.run(3, (c, rank) => c.allGather(blobs[rank]!, 5), open());
          for (const result of results) {
            assert.deepEqual(result.map((b) => b.length), blobs.map((b) => b.length));
            result.forEach((b, r) => assert.ok(b.every((v) => v === r + 1), `blob ${r} changed`));
          }
        });
      });

      it(`${n} peer(s): an aborted signal rejects with its reason`, async () => {
        await withGroup(n, async (h) => {
          const reason = new AbortedError('membership changed');
          const before = new AbortController();
          before.abort(reason);
          await assert.rejects(h.run(4, (c) => c.allReduceSum(new Float32Array(3), 0), before.signal), (err) => err === reason);
          await assert.rejects(h.run(4, (c) => c.allGather(new Uint8Array(3), 1), before.signal), (err) => err === reason);
          if (n < 2) return;
          // During a call: peer 0 waits for peers that never call.
          const during = new AbortController();
          const waiting = h.run(5, async (c, rank) => (rank === 0 ? c.allReduceSum(new Float32Array(3), 0) : undefined), during.signal);
          const outcome = waiting.then(() => 'resolved', (err: unknown) => err);
          await new Promise((resolve) => setImmediate(resolve));
          during.abort(reason);
          assert.equal(await outcome, reason);
        });
      });
    }
  });
}
