/**
 * Collectives of one step over a Messenger, among peers ordered by id.
 *
 * Ring all-reduce (reduce-scatter, then all-gather) for large vectors: the vector is cut into N
 * contiguous segments; in N-1 hops each peer passes a running partial sum to its successor, after
 * which peer r holds the complete sum of segment r+1; N-1 more hops circulate the complete
 * segments. Each segment is summed exactly once, in ring order, and then copied, so every peer
 * ends with identical bits. Each peer sends 2(N-1)/N of the vector.
 *
 * Small vectors (below `directBelowBytes`) are latency-bound: every peer sends its vector to every
 * other in one hop and sums them in rank order (again identical bits everywhere).
 *
 * All-gather of opaque blobs is always that direct exchange.
 *
 * Every Reduce/Gather/Blob frame carries the id of the codec that made its payload (the
 * aggregator's `codecId`); a message from a peer that compresses with another codec is refused
 * with WireFormatError, never summed in.
 *
 * Failure: every receive is bound to the collective's AbortSignal, which the caller aborts on a
 * membership change or a missed deadline; the operation then rejects and nothing is returned.
 * A missed deadline names a suspect. In the ring, a peer late with its hop-0 segment stalls its
 * successor at hop 0, the next peer at hop 1, and so on; so a peer stuck at global hop h waiting
 * on its predecessor blames the peer h+1 places before it, and every peer blames the same one.
 * In a direct exchange the suspect is the first peer whose message is missing.
 */
import { abortReason } from '../deadline.ts';
import { TimeoutError, WireFormatError } from '../errors.ts';
import { MessageKind } from '../wire/frame.ts';
import type { Message, Messenger } from '../wire/messenger.ts';
import type { Collective } from './collective.ts';
import { decodeHalf, encodeHalf } from './half.ts';

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
  /** Vectors smaller than this go by direct exchange instead of the ring. @default 16 KiB */
  directBelowBytes?: number;
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
    const sum = Float32Array.from(values);
    if (this.size === 1) return options.wire === 'f16' ? decodeHalf(encodeHalf(sum)) : sum;
    const encode = options.wire === 'f16' ? encodeHalf : (v: Float32Array): Uint8Array => new Uint8Array(v.slice().buffer);
    const decode = options.wire === 'f16' ? decodeHalf : (b: Uint8Array): Float32Array => new Float32Array(b.slice().buffer);
    if (values.byteLength < (this.init.directBelowBytes ?? 16 * 1024)) return this.directSum(sum, tag, encode, decode);
    return this.ringSum(sum, tag, encode, decode);
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

  private async directSum(
    own: Float32Array,
    tag: number,
    encode: (v: Float32Array) => Uint8Array,
    decode: (b: Uint8Array) => Float32Array,
  ): Promise<Float32Array> {
    const encoded = encode(own);
    const all = await this.exchange(MessageKind.Reduce, tag, encoded);
    const sum = new Float32Array(own.length);
    for (const bytes of all) {
      // Own contribution goes through the same encoding as everyone else's, so all peers agree.
      const part = decode(bytes);
      if (part.length !== own.length) throw new RangeError(`peer sent ${part.length} values, expected ${own.length}`);
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + part[i]!;
    }
    return sum;
  }

  private async ringSum(
    acc: Float32Array,
    tag: number,
    encode: (v: Float32Array) => Uint8Array,
    decode: (b: Uint8Array) => Float32Array,
  ): Promise<Float32Array> {
    const n = this.size;
    const r = this.rank;
    const next = this.members[(r + 1) % n]!;
    const prev = this.members[(r - 1 + n) % n]!;
    const bound = (i: number): number => Math.floor((i * acc.length) / n);
    const segment = (i: number): Float32Array => acc.subarray(bound(i), bound(i + 1));
    const mod = (i: number): number => ((i % n) + n) % n;
    const hop = async (kind: MessageKind, seq: number, sendIndex: number): Promise<Float32Array> => {
      const header = { kind, codec: this.init.codec, tag, epoch: this.init.epoch, step: this.step, seq };
      const [, message] = await Promise.all([
        this.init.messenger.send(next, header, encode(segment(sendIndex))),
        this.init.messenger.receive(prev, header, this.init.signal),
      ]).catch((err: unknown) => {
        const globalHop = kind === MessageKind.Reduce ? seq : n - 1 + seq;
        throw blame(err, this.members[mod(r - 1 - globalHop)]);
      });
      return decode(this.checkCodec(message).payload);
    };

    for (let s = 0; s < n - 1; s++) {
      const into = mod(r - s - 1);
      const received = await hop(MessageKind.Reduce, s, mod(r - s));
      const target = segment(into);
      if (received.length !== target.length) throw new RangeError(`segment of ${received.length} values, expected ${target.length}`);
      for (let i = 0; i < target.length; i++) target[i] = target[i]! + received[i]!;
    }
    // With f16 on the wire the owner rounds its finished segment too, so it matches the copies.
    if (encode === encodeHalf) segment(mod(r + 1)).set(decode(encode(segment(mod(r + 1)))));
    for (let s = 0; s < n - 1; s++) {
      const into = mod(r - s);
      const received = await hop(MessageKind.Gather, s, mod(r + 1 - s));
      segment(into).set(received);
    }
    return acc;
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
