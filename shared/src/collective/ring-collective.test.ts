import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortedError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { collectiveContract } from '../testing/collective-contract.ts';
import { createLocalGroup } from '../testing/local-group.ts';
import { decodeFrame, MessageKind } from '../wire/frame.ts';

/** Small, so that the contract's lengths cross it without long vectors: 16 values go direct. */
const DIRECT_BELOW_BYTES = 64;

collectiveContract(
  'ring collective over in-memory messengers',
  (peers) => {
    const group = createLocalGroup(peers, { directBelowBytes: DIRECT_BELOW_BYTES, codec: 2 });
    return { run: (step, fn, signal) => group.run(step, fn, { signal }), close: () => group.close() };
  },
  { exactBelowValues: DIRECT_BELOW_BYTES / 4 },
);

function inputs(n: number, length: number, seed: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => new Rng(seed * 100 + i).fillGaussian(new Float32Array(length)) as Float32Array);
}

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('ring all-reduce over the in-memory transport', () => {
  // The contract covers 1..5 peers around the threshold; here the ring itself, forced even for
  // vectors shorter than the peer count (empty segments) and for more peers and multi-frame hops.
  for (const n of [2, 3, 6, 8]) {
    for (const length of [1, n - 1, n + 1, 70_001]) {
      it(`N=${n}, length ${length} through the ring: identical bits on every peer`, async () => {
        const group = createLocalGroup(n, { directBelowBytes: 0 });
        try {
          const xs = inputs(n, length, n * 7 + length);
          const results = await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0));
          for (const result of results) assert.ok(sameBits(result, results[0]!), 'peers disagree on the bits');
          for (let i = 0; i < length; i++) {
            const exact = xs.reduce((s, x) => s + x[i]!, 0);
            assert.ok(Math.abs(results[0]![i]! - exact) <= 1e-5 * n * (1 + Math.abs(exact)), `index ${i}`);
          }
        } finally {
          group.close();
        }
      });
    }
  }

  it('sends 2(N-1)/N of the vector per peer on the ring', async () => {
    const n = 4;
    const length = 100_000;
    const group = createLocalGroup(n);
    try {
      const xs = inputs(n, length, 3);
      await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0));
      const payloadBytes = (2 * (n - 1) / n) * length * 4;
      for (const m of group.messengers) {
        const headers = m.stats.bytesSent - payloadBytes;
        assert.ok(headers >= 0 && headers < 0.01 * payloadBytes, `sent ${m.stats.bytesSent}, payload ${payloadBytes}`);
      }
    } finally {
      group.close();
    }
  });
});

describe('the codec id on the wire', () => {
  it('is written into every Reduce, Gather and Blob frame (header byte 4)', async () => {
    const group = createLocalGroup(3, { directBelowBytes: 64, codec: 6 });
    const seen = new Map<MessageKind, number[]>();
    group.network.faultHook = (_from, _to, bytes) => {
      const frame = decodeFrame(bytes);
      seen.set(frame.kind, [...(seen.get(frame.kind) ?? []), bytes[4]!]);
      return undefined;
    };
    try {
      await group.run(1, async (c, rank) => {
        await c.allReduceSum(inputs(3, 1000, 1)[rank]!, 0); // ring: Reduce and Gather
        await c.allReduceSum(inputs(3, 5, 2)[rank]!, 1); // direct: Reduce
        await c.allGather(Uint8Array.of(rank), 2); // Blob
      });
      assert.deepEqual([...seen.keys()].sort(), [MessageKind.Reduce, MessageKind.Gather, MessageKind.Blob]);
      for (const [kind, codecs] of seen) assert.ok(codecs.length > 0 && codecs.every((c) => c === 6), `${MessageKind[kind]}: ${codecs.join(',')}`);
    } finally {
      group.close();
    }
  });

  for (const [path, directBelowBytes] of [['direct exchange', 1 << 20], ['ring', 0], ['all-gather', 0]] as const) {
    it(`a message made by another codec is refused with WireFormatError naming both ids (${path})`, async () => {
      // peer 2 compresses with codec 3 (Top-K), the others with codec 2 (Random-K).
      const group = createLocalGroup(3, { directBelowBytes, codec: (rank) => (rank === 2 ? 3 : 2) });
      const controller = new AbortController();
      const outcomes: unknown[] = [];
      try {
        await group.run(1, async (c, rank) => {
          const op = path === 'all-gather' ? c.allGather(new Uint8Array(8), 0) : c.allReduceSum(new Float32Array(30).fill(rank), 0);
          outcomes[rank] = await op.then(() => 'summed', (err: unknown) => err);
          // The ring's third peer waits on a neighbour that gave up: end its wait.
          if (outcomes.filter((o) => (o as Error | undefined)?.name === 'WireFormatError').length >= 2) controller.abort(new AbortedError('test over'));
        }, { signal: controller.signal });
      } finally {
        group.close();
      }
      const refused = outcomes.filter((o): o is Error => (o as Error).name === 'WireFormatError');
      assert.ok(refused.length >= 2, `outcomes: ${outcomes.map(String).join(' | ')}`);
      for (const err of refused) assert.match(err.message, /codec 3.*codec 2|codec 2.*codec 3/);
      assert.ok(!outcomes.includes('summed'), 'a peer summed in a message of another codec');
      for (const o of outcomes) assert.ok(['WireFormatError', 'AbortedError'].includes((o as Error).name), String(o));
    });
  }

  it('refuses a codec id that is not a uint8', async () => {
    const group = createLocalGroup(1, { codec: 256 });
    try {
      await assert.rejects(group.run(0, async () => undefined), { name: 'WireFormatError' });
    } finally {
      group.close();
    }
  });
});
