/**
 * Collectives of one step over a Messenger, among peers ordered by id.
 *
 * Ring all-reduce (reduce-scatter, then all-gather) for large vectors, pipelined chunk by chunk:
 * ring-pipeline.ts; or, when the room chooses it, the two-shot all-reduce (two-shot.ts). Each
 * segment is summed exactly once, in ring order, and then copied, so every peer ends with
 * identical bits. Each peer sends 2(N-1)/N of the vector.
 *
 * Direct exchange: every peer sends its vector to every other in one hop and sums them in rank
 * order (again identical bits everywhere), sending (N-1) times the vector. For two peers that is
 * the ring's figure in one hop instead of two, so two peers always exchange directly. From three
 * peers on it is more than the ring's 2(N-1)/N: only vectors below `directBelowBytes` (none by
 * default) go direct, so a step sends exactly what `bytesPerStep` declares.
 *
 * All-gather of opaque blobs is always that direct exchange.
 *
 * Every Reduce/Gather/Blob frame carries the id of the codec that made its payload (the
 * aggregator's `codecId`); a message from a peer that compresses with another codec is refused
 * with WireFormatError, never summed in. Every Reduce and Gather payload is checked where it is
 * decoded (received.ts): its length against the plan, its values against `maxAbs` (times the
 * contributions it holds), NaN always, infinities where no honest peer makes one; a violation
 * rejects with PeerInputError naming the sender.
 *
 * Failure: every receive is bound to the collective's AbortSignal, which the caller aborts on a
 * membership change or a missed deadline; the operation then rejects and nothing is returned.
 * A missed deadline names a suspect: in the ring, the peer h+1 places upstream of a peer stuck at
 * global hop h (ring-pipeline.ts); in a direct exchange, the first peer whose message is missing.
 */
import { abortReason } from '../deadline.ts';
import { TimeoutError, WireFormatError } from '../errors.ts';
import { MAX_PAYLOAD_BYTES, MessageKind } from '../wire/frame.ts';
import type { Message, Messenger } from '../wire/messenger.ts';
import type { Collective } from './collective.ts';
import { decodeHalf, encodeHalf } from './half.ts';
import { checkValues, decodeValues, limitFor } from './received.ts';
import { pipelinedRingSum } from './ring-pipeline.ts';
import { twoShotSum } from './two-shot.ts';

/** The all-reduce of vectors that do not go direct (the room's `collective` key). */
export const ALL_REDUCE_ALGORITHMS = ['ring', 'two-shot'] as const;
export type AllReduceAlgorithm = (typeof ALL_REDUCE_ALGORITHMS)[number];

export interface RingCollectiveInit {
  messenger: Messenger;
  /** All peers of the epoch, this one included. Sorted here; every peer sorts the same way. */
  members: readonly string[];
  epoch: number;
  step: number;
  /** Aborted on a membership change or the step's deadline. */
  signal: AbortSignal;
  /** Id of the codec that made the payloads (the aggregator's `codecId`, 0 = raw), written into every frame and checked on every message. */
  codec: number;
  /**
   * With three peers or more, vectors smaller than this go by direct exchange (fewer hops, more
   * bytes) instead of the ring. @default 0: every vector takes the ring
   */
  directBelowBytes?: number;
  /**
   * How vectors that do not go direct are summed: round the ring, or in two shots straight to and
   * from each segment's owner (two-shot.ts: the same bytes, two hops instead of 2(N-1)). @default 'ring'
   */
  allReduce?: AllReduceAlgorithm;
  /**
   * Two-shot only: how much of the vector each rank owns (sums and sends back), by rank, as
   * non-negative integers in proportion; every member must pass the same. The bits do not depend
   * on it (each value is summed by its owner in rank order): it moves the owners' work off slow
   * members. @default equal shares
   */
  shares?: readonly number[];
  /** Values per ring frame (tests use small ones). @default as many as fit one frame */
  chunkValues?: number;
  /**
   * Bound on the magnitude of one peer's contribution to a summed value (the caller's knowledge of
   * its inputs); a received partial sum of k contributions may reach k times it. @default Infinity
   */
  maxAbs?: number;
}

export class RingCollective implements Collective {
  readonly size: number;
  readonly rank: number;
  readonly step: number;
  private readonly members: string[];

  constructor(private readonly init: RingCollectiveInit) {
    this.members = [...init.members].sort();
    this.size = this.members.length;
    this.rank = this.members.indexOf(init.messenger.selfId);
    this.step = init.step;
    if (this.rank < 0) throw new Error(`${init.messenger.selfId} is not among the members`);
    if (!(Number.isInteger(init.codec) && init.codec >= 0 && init.codec <= 0xff)) throw new WireFormatError(`codec id ${init.codec} is not a uint8`);
  }

  async allReduceSum(values: Float32Array, tag: number, options: { wire?: 'f32' | 'f16' } = {}): Promise<Float32Array> {
    this.checkSignal('allReduceSum');
    const wire = options.wire ?? 'f32';
    // A copy (the caller's array stays as it was); the constructor copies at memcpy speed, `from` goes value by value.
    const sum = new Float32Array(values);
    if (this.size === 1) return wire === 'f16' ? decodeHalf(encodeHalf(sum)) : sum;
    if (this.size === 2 || values.byteLength < (this.init.directBelowBytes ?? 0)) return this.directSum(sum, tag, wire);
    const { messenger, epoch, codec, signal } = this.init;
    const perFrame = Math.floor(MAX_PAYLOAD_BYTES / (wire === 'f16' ? 2 : 4));
    const chunkValues = Math.min(this.init.chunkValues ?? perFrame, perFrame);
    const plan = {
      messenger, members: this.members, rank: this.rank, epoch, step: this.step, tag, codec, signal, wire, chunkValues, shares: this.init.shares,
      maxAbs: this.init.maxAbs ?? Infinity,
      checkCodec: (m: Message) => this.checkCodec(m),
      blame,
    };
    return this.init.allReduce === 'two-shot' ? twoShotSum(plan, sum) : pipelinedRingSum(plan, sum);
  }

  async allGather(blob: Uint8Array, tag: number): Promise<Uint8Array[]> {
    this.checkSignal('allGather');
    const blobs = await this.exchange(MessageKind.Blob, tag, blob);
    return blobs;
  }

  /** Sends `payload` to every other peer and returns everyone's, indexed by rank. */
  private async exchange(kind: MessageKind, tag: number, payload: Uint8Array): Promise<Uint8Array[]> {
    const header = { kind, codec: this.init.codec, tag, epoch: this.init.epoch, step: this.step, seq: 0 };
    const others = this.members.filter((_, r) => r !== this.rank);
    const arrived = new Set<string>();
    const sends = others.map((peer) => this.init.messenger.send(peer, header, payload));
    const receives = others.map((peer) =>
      this.init.messenger.receive(peer, header, this.init.signal).then((m) => {
        arrived.add(peer);
        return this.checkCodec(m);
      }),
    );
    const [, received] = await Promise.all([Promise.all(sends), Promise.all(receives)]).catch((err: unknown) => {
      throw blame(err, others.find((peer) => !arrived.has(peer)));
    });
    const out: Uint8Array[] = [];
    let next = 0;
    for (let r = 0; r < this.size; r++) out.push(r === this.rank ? payload : received[next++]!.payload);
    return out;
  }

  /** Everyone's vector to everyone, summed in rank order (own one through the same wire). */
  private async directSum(own: Float32Array, tag: number, wire: 'f32' | 'f16'): Promise<Float32Array> {
    const encoded = wire === 'f16' ? encodeHalf(own) : new Uint8Array(own.buffer, own.byteOffset, own.byteLength);
    const all = await this.exchange(MessageKind.Reduce, tag, encoded);
    const sum = new Float32Array(own.length);
    const maxAbs = this.init.maxAbs ?? Infinity;
    all.forEach((bytes, r) => {
      const from = this.members[r]!;
      const part = decodeValues(bytes, own.length, wire, from, `a direct sum's vector`);
      if (r !== this.rank) checkValues(part, limitFor(maxAbs, 1, wire), from, `a direct sum's vector`);
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + part[i]!;
    });
    return sum;
  }

  /** An aborted collective does nothing, even alone (where there is nothing to wait for). */
  private checkSignal(what: string): void {
    if (this.init.signal.aborted) throw abortReason(this.init.signal, what);
  }

  /** A payload made by another codec means nothing to this one: refuse it. */
  private checkCodec(message: Message): Message {
    if (message.header.codec !== this.init.codec) {
      throw new WireFormatError(`${message.from} sent a ${MessageKind[message.header.kind]} made by codec ${message.header.codec}; this peer uses codec ${this.init.codec}`);
    }
    return message;
  }
}

/** A timeout that names the peer at fault; other errors pass through. */
function blame(err: unknown, suspect: string | undefined): unknown {
  if ((err as Error | null)?.name !== 'TimeoutError') return err;
  return new TimeoutError((err as Error).message + (suspect ? ` (suspect ${suspect.slice(0, 8)})` : ''), suspect);
}
