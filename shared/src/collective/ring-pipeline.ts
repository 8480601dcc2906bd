/**
 * The ring all-reduce, pipelined chunk by chunk (as NCCL does). The vector is cut into N
 * contiguous segments and each segment into chunks of at most `chunkValues` values, one frame
 * each. Reduce-scatter: every peer sends its own segment r at hop 0; when chunk c of hop s arrives
 * it is added in place into segment r-s-1 and, at once, that chunk goes on as hop s+1. After hop
 * N-2 the chunk of segment r+1 is complete and starts the all-gather, whose chunks are copied in
 * and passed on the same way. So hop s+1 starts with the first chunk of hop s, not its last.
 *
 * Bits: each element is still summed exactly once per peer, in ring order (own value plus the
 * partial sum from the predecessor), whatever order the chunks arrive in; the complete chunks are
 * then only copied. Every peer ends with identical bits, the same as the unpipelined ring.
 *
 * Frames: kind Reduce or Gather, seq = hop * chunksPerSegment + chunk, where chunksPerSegment is
 * the chunk count of the largest segment (every peer computes the same). A segment with no values
 * sends nothing. A chunk is sent as a view of the running sum (encodeFrame copies it into the
 * frame at once, before the buffer changes again); received chunks are read where they lie.
 *
 * Blame: a peer stuck waiting at global hop h (reduce hops first, then gather hops) blames the
 * peer h+1 places before it; with one peer silent, every other peer blames that one.
 */
import { MessageKind } from '../wire/frame.ts';
import type { Message, MessageHeader, Messenger } from '../wire/messenger.ts';
import { encodeHalf, f16BitsToF32, f32ToF16Bits } from './half.ts';
import { addChecked, checkValues, decodeValues, limitFor } from './received.ts';

export interface RingPlan {
  messenger: Messenger;
  /** Sorted members; `rank` is this peer's index. */
  members: readonly string[];
  rank: number;
  epoch: number;
  step: number;
  tag: number;
  codec: number;
  signal: AbortSignal;
  wire: 'f32' | 'f16';
  /** Values per frame. */
  chunkValues: number;
  /** Two-shot: each rank's share of the vector (RingCollectiveInit.shares); undefined: equal. */
  shares?: readonly number[] | undefined;
  /** Bound on one peer's contribution to a value; a partial sum of k peers may reach k times it. */
  maxAbs: number;
  /** Checks a received message's codec (throws WireFormatError). */
  checkCodec(message: Message): Message;
  /** Turns a failure into one that names the suspect (for timeouts). */
  blame(err: unknown, suspect: string | undefined): unknown;
}

interface Expected {
  kind: MessageKind.Reduce | MessageKind.Gather;
  hop: number;
  segment: number;
  chunk: number;
}

/** Sums `acc` (this peer's own copy, summed in place) over the ring; resolves with it. */
export async function pipelinedRingSum(plan: RingPlan, acc: Float32Array): Promise<Float32Array> {
  const { messenger, members, rank: r, wire, chunkValues } = plan;
  const n = members.length;
  const mod = (i: number): number => ((i % n) + n) % n;
  const next = members[mod(r + 1)]!;
  const prev = members[mod(r - 1)]!;
  const bound = (i: number): number => Math.floor((i * acc.length) / n);
  const chunksIn = (segment: number): number => Math.ceil((bound(segment + 1) - bound(segment)) / chunkValues);
  let perSegment = 1;
  for (let i = 0; i < n; i++) perSegment = Math.max(perSegment, chunksIn(i));
  const chunkOf = (segment: number, chunk: number): Float32Array => {
    const end = bound(segment + 1);
    const start = Math.min(end, bound(segment) + chunk * chunkValues);
    return acc.subarray(start, Math.min(end, start + chunkValues));
  };
  const header = (kind: MessageKind, hop: number, chunk: number): MessageHeader => ({
    kind, codec: plan.codec, tag: plan.tag, epoch: plan.epoch, step: plan.step, seq: hop * perSegment + chunk,
  });

  // Sends are not awaited one by one: the chunks stream, and the first failure ends the ring.
  const sends: Array<Promise<void>> = [];
  let sendFailed!: (err: unknown) => void;
  const sendFailure = new Promise<never>((_, reject) => (sendFailed = reject));
  sendFailure.catch(() => undefined);
  const send = (kind: MessageKind, hop: number, segment: number, chunk: number): void => {
    const values = chunkOf(segment, chunk);
    const bytes = wire === 'f16' ? encodeHalf(values) : new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    sends.push(messenger.send(next, header(kind, hop, chunk), bytes).catch(sendFailed));
  };

  const expected: Expected[] = [];
  for (const kind of [MessageKind.Reduce, MessageKind.Gather] as const) {
    for (let hop = 0; hop < n - 1; hop++) {
      const segment = kind === MessageKind.Reduce ? mod(r - hop - 1) : mod(r - hop);
      for (let chunk = 0; chunk < chunksIn(segment); chunk++) expected.push({ kind, hop, segment, chunk });
    }
  }
  const arrived = new Uint8Array(expected.length);

  const onChunk = (message: Message, index: number): void => {
    arrived[index] = 1;
    const { kind, hop, segment, chunk } = expected[index]!;
    plan.checkCodec(message);
    const target = chunkOf(segment, chunk);
    const what = `${MessageKind[kind]} hop ${hop} chunk ${chunk}`;
    const received = decodeValues(message.payload, target.length, wire, message.from, what);
    if (kind === MessageKind.Gather) {
      // A complete sum of n contributions (a NaN an owner put in is refused here, not passed on).
      checkValues(received, limitFor(plan.maxAbs, n, wire), message.from, what);
      target.set(received);
      if (hop < n - 2) send(MessageKind.Gather, hop + 1, segment, chunk);
      return;
    }
    // A partial sum at reduce hop s holds s+1 peers' contributions.
    addChecked(target, received, limitFor(plan.maxAbs, hop + 1, wire), message.from, what);
    if (hop < n - 2) return send(MessageKind.Reduce, hop + 1, segment, chunk);
    // Complete. With f16 on the wire the owner rounds it too, so it matches the copies.
    if (wire === 'f16') for (let i = 0; i < target.length; i++) target[i] = f16BitsToF32(f32ToF16Bits(target[i]!));
    send(MessageKind.Gather, 0, segment, chunk);
  };

  try {
    for (let chunk = 0; chunk < chunksIn(r); chunk++) send(MessageKind.Reduce, 0, r, chunk);
    const headers = expected.map((e) => header(e.kind, e.hop, e.chunk));
    await Promise.race([messenger.receiveEach(prev, headers, plan.signal, onChunk), sendFailure]);
    await Promise.race([Promise.all(sends), sendFailure]);
  } catch (err) {
    const missing = expected.findIndex((_, i) => arrived[i] === 0);
    const globalHop = missing < 0 ? undefined : expected[missing]!.kind === MessageKind.Reduce ? expected[missing]!.hop : n - 1 + expected[missing]!.hop;
    throw plan.blame(err, globalHop === undefined ? undefined : members[mod(r - 1 - globalHop)]);
  }
  return acc;
}
