/**
 * Test helper: N peers in one process, joined by an in-memory Collective that honours the contract
 * of collective.ts (sums in rank order, so every peer gets identical bits; an f16 wire rounds each
 * hop to halves like the ring does) and records what each peer hands to it.
 */
import type { Collective } from '../collective/collective.ts';
import { abortReason } from '../deadline.ts';
import { AbortedError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { f16BitsToF32, f32ToF16Bits } from '../collective/half.ts';

export interface CollectiveCall {
  op: 'allReduceSum' | 'allGather';
  tag: number;
  /** Payload bytes passed: 4 per value (2 on an f16 wire), or the blob length. */
  bytes: number;
  wire: 'f32' | 'f16';
  /** A copy of what was passed. */
  payload: Float32Array | Uint8Array;
}

export interface SimulatedCollective extends Collective {
  /** Every call this peer made, in order. */
  readonly calls: CollectiveCall[];
}

export interface SimulateOptions {
  /** Step the collectives belong to. @default 0 */
  step?: number;
  /** Index of the call (per peer, from 0) that rejects on every peer with AbortedError, as a dropped round would. */
  failAtCall?: number;
  /** Aborting it rejects every pending and later call on every peer with its reason. */
  signal?: AbortSignal;
}

interface Round {
  op: CollectiveCall['op'];
  tag: number;
  size: number;
  wire: 'f32' | 'f16';
  inputs: Array<Float32Array | Uint8Array | undefined>;
  arrived: number;
  waiters: Array<{ resolve: (result: Float32Array | Uint8Array[]) => void; reject: (err: unknown) => void }>;
}

/** N(0, std^2) values from a stream derived from `path` (tests' fixed inputs). */
export function gaussianArray(length: number, std: number, ...path: Array<number | string>): Float32Array {
  return Rng.derive(0x7e57, ...path).fillGaussian(new Float32Array(length), std) as Float32Array;
}

const halfRound = (v: number): number => f16BitsToF32(f32ToF16Bits(v));

/** Runs `fn` once per peer, concurrently, and resolves with their results by rank. */
export async function simulatePeers<T>(
  n: number,
  fn: (collective: SimulatedCollective, rank: number) => Promise<T>,
  options: SimulateOptions = {},
): Promise<T[]> {
  const rounds: Round[] = [];
  let failure: unknown;

  const fail = (err: unknown): void => {
    failure ??= err;
    for (const round of rounds) for (const w of round.waiters.splice(0)) w.reject(failure);
  };
  const { signal } = options;
  const onAbort = (): void => fail(abortReason(signal!, 'simulated collective'));
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });

  const join = (rank: number, index: number, spec: Omit<Round, 'inputs' | 'arrived' | 'waiters'>, input: Float32Array | Uint8Array): Promise<Float32Array | Uint8Array[]> =>
    new Promise((resolve, reject) => {
      if (failure !== undefined) return reject(failure);
      let round = rounds[index];
      if (!round) {
        round = { ...spec, inputs: new Array(n).fill(undefined), arrived: 0, waiters: [] };
        rounds[index] = round;
      } else if (round.op !== spec.op || round.tag !== spec.tag || round.wire !== spec.wire || (spec.op === 'allReduceSum' && round.size !== spec.size)) {
        const err = new Error(`peer ${rank} call ${index} is ${spec.op}(tag ${spec.tag}, ${spec.size}) but another peer's is ${round.op}(tag ${round.tag}, ${round.size})`);
        fail(err);
        return reject(err);
      }
      round.inputs[rank] = input;
      round.arrived++;
      round.waiters.push({ resolve, reject });
      if (round.arrived === n) {
        const result = reduce(round);
        for (const w of round.waiters.splice(0)) w.resolve(result);
      }
    });

  const reduce = (round: Round): Float32Array | Uint8Array[] => {
    if (round.op === 'allGather') return round.inputs.map((b) => b as Uint8Array);
    const sum = new Float32Array(round.size);
    round.inputs.forEach((x, rank) => {
      const values = x as Float32Array;
      for (let j = 0; j < sum.length; j++) {
        const acc = rank === 0 ? values[j]! : Math.fround(sum[j]! + values[j]!);
        sum[j] = round.wire === 'f16' ? halfRound(acc) : acc;
      }
    });
    return sum;
  };

  const collectives = Array.from({ length: n }, (_, rank): SimulatedCollective => {
    const calls: CollectiveCall[] = [];
    const enter = (call: CollectiveCall): number => {
      calls.push(call);
      const index = calls.length - 1;
      if (index === options.failAtCall) throw new AbortedError(`simulated failure of call ${index}`);
      return index;
    };
    return {
      size: n,
      rank,
      step: options.step ?? 0,
      calls,
      async allReduceSum(values, tag, opts) {
        const wire = opts?.wire ?? 'f32';
        const payload = values.slice();
        const index = enter({ op: 'allReduceSum', tag, bytes: values.length * (wire === 'f16' ? 2 : 4), wire, payload });
        const sum = (await join(rank, index, { op: 'allReduceSum', tag, size: values.length, wire }, payload)) as Float32Array;
        return sum.slice();
      },
      async allGather(blob, tag) {
        const payload = blob.slice();
        const index = enter({ op: 'allGather', tag, bytes: blob.length, wire: 'f32', payload });
        const blobs = (await join(rank, index, { op: 'allGather', tag, size: blob.length, wire: 'f32' }, payload)) as Uint8Array[];
        return blobs.map((b) => b.slice());
      },
    };
  });

  try {
    return await Promise.all(
      collectives.map(async (collective, rank) => {
        try {
          return await fn(collective, rank);
        } catch (err) {
          fail(err);
          throw err;
        }
      }),
    );
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
