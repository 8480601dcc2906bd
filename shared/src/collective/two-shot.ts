/**
 * The two-shot all-reduce: the ring's bytes in two hops instead of 2(N-1). The vector is cut into
 * N segments as in the ring (or in proportion to the caller's shares), and peer k owns segment k. Shot 1 (reduce-scatter): every peer sends
 * each segment straight to its owner, chunk by chunk. The owner sums the N contributions to each
 * chunk in rank order (its own among them) as soon as all have arrived. Shot 2 (all-gather): it
 * sends the complete chunk straight to every other peer, which copies it in.
 *
 * Each peer sends 2(N-1)/N of the vector, as on the ring, but over N-1 links at once, and no
 * chunk waits on more than two messages in a row. That matters when a hop is slow: a link with
 * latency, or a peer whose every message handling is slow (a throttled or busy device), which the
 * ring's 2(N-1) hops in a row each pass through.
 *
 * Bits: only the owner sums a chunk, in rank order whatever the arrival order; the others copy it.
 * Every peer ends with identical bits (not the ring's: the order differs, so a room uses one).
 *
 * Frames: kind Reduce (shot 1) or Gather (shot 2), seq = chunk index within the segment. What a
 * peer receives from one sender is told apart by kind and sender, so the header needs no more.
 *
 * Blame: a missed deadline names the first peer (by rank) whose contribution to our segment is
 * missing, else the first whose complete segment is.
 */
import { MessageKind } from '../wire/frame.ts';
import type { Message, MessageHeader } from '../wire/messenger.ts';
import { encodeHalf, f16BitsToF32, f32ToF16Bits } from './half.ts';
import { checkValues, decodeValues, limitFor } from './received.ts';
import type { RingPlan } from './ring-pipeline.ts';

/**
 * Where segment i (owned by rank i) starts, for i in 0..n: in proportion to `shares` (integers, so
 * every member computes the same bounds exactly), else equal. A share of 0 owns nothing.
 */
export function segmentBounds(length: number, n: number, shares?: readonly number[]): (i: number) => number {
  const equal = (i: number): number => Math.floor((i * length) / n);
  if (shares === undefined) return equal;
  if (shares.length !== n || !shares.every((s) => Number.isSafeInteger(s) && s >= 0)) throw new RangeError(`two-shot shares must be ${n} non-negative integers, got [${shares.join(', ')}]`);
  const starts = [0];
  for (const s of shares) starts.push(starts.at(-1)! + s);
  const total = starts[n]!;
  if (total === 0 || !Number.isSafeInteger(total * length)) return equal;
  return (i) => Math.floor((starts[i]! * length) / total);
}

/** Sums `acc` (this peer's own copy, overwritten with the sum) in two shots; resolves with it. */
export async function twoShotSum(plan: RingPlan, acc: Float32Array): Promise<Float32Array> {
  const { messenger, members, rank: r, wire, chunkValues } = plan;
  const n = members.length;
  const bound = segmentBounds(acc.length, n, plan.shares);
  const chunksIn = (segment: number): number => Math.ceil((bound(segment + 1) - bound(segment)) / chunkValues);
  const chunkOf = (segment: number, chunk: number): Float32Array => {
    const start = bound(segment) + chunk * chunkValues;
    return acc.subarray(start, Math.min(bound(segment + 1), start + chunkValues));
  };
  const header = (kind: MessageKind, chunk: number): MessageHeader => ({
    kind, codec: plan.codec, tag: plan.tag, epoch: plan.epoch, step: plan.step, seq: chunk,
  });

  const sends: Array<Promise<void>> = [];
  let sendFailed!: (err: unknown) => void;
  const sendFailure = new Promise<never>((_, reject) => (sendFailed = reject));
  sendFailure.catch(() => undefined);
  const send = (to: number, kind: MessageKind, chunk: number, values: Float32Array): void => {
    // encodeFrame copies the view at once, before the buffer changes again.
    const bytes = wire === 'f16' ? encodeHalf(values) : new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    sends.push(messenger.send(members[to]!, header(kind, chunk), bytes).catch(sendFailed));
  };
  const others = members.map((_, q) => q).filter((q) => q !== r);

  // Our segment's chunks: the contributions that arrived, by chunk then rank (ours included).
  const own = chunksIn(r);
  const parts: Array<Array<Float32Array | undefined>> = Array.from({ length: own }, (_, c) => {
    const row = new Array<Float32Array | undefined>(n);
    row[r] = chunkOf(r, c).slice();
    return row;
  });
  const waiting = new Array<number>(own).fill(n - 1);
  const complete = (c: number): void => {
    const target = chunkOf(r, c);
    target.fill(0);
    for (const part of parts[c]!) for (let i = 0; i < target.length; i++) target[i] = target[i]! + part![i]!;
    // With f16 on the wire the owner rounds it too, so it matches the copies.
    if (wire === 'f16') for (let i = 0; i < target.length; i++) target[i] = f16BitsToF32(f32ToF16Bits(target[i]!));
    parts[c] = [];
    for (const q of others) send(q, MessageKind.Gather, c, target);
  };

  const arrived = members.map((_, q) => ({ reduce: 0, gather: q === r ? 0 : chunksIn(q) }));
  const receiveFrom = (q: number): Promise<void> => {
    const headers = [
      ...Array.from({ length: own }, (_, c) => header(MessageKind.Reduce, c)),
      ...Array.from({ length: chunksIn(q) }, (_, c) => header(MessageKind.Gather, c)),
    ];
    const from = members[q]!;
    return messenger.receiveEach(from, headers, plan.signal, (message: Message, index: number) => {
      plan.checkCodec(message);
      if (index < own) {
        const what = `a two-shot contribution, chunk ${index}`;
        const part = decodeValues(message.payload, chunkOf(r, index).length, wire, from, what);
        checkValues(part, limitFor(plan.maxAbs, 1, wire), from, what);
        parts[index]![q] = part;
        arrived[q]!.reduce++;
        if (--waiting[index]! === 0) complete(index);
        return;
      }
      const c = index - own;
      const what = `a two-shot sum, chunk ${c}`;
      const target = chunkOf(q, c);
      const sum = decodeValues(message.payload, target.length, wire, from, what);
      checkValues(sum, limitFor(plan.maxAbs, n, wire), from, what);
      target.set(sum);
      arrived[q]!.gather--;
    });
  };

  try {
    for (const q of others) for (let c = 0; c < chunksIn(q); c++) send(q, MessageKind.Reduce, c, chunkOf(q, c));
    await Promise.race([Promise.all(others.map(receiveFrom)), sendFailure]);
    await Promise.race([Promise.all(sends), sendFailure]);
  } catch (err) {
    const suspect = others.find((q) => arrived[q]!.reduce < own) ?? others.find((q) => arrived[q]!.gather > 0);
    throw plan.blame(err, suspect === undefined ? undefined : members[suspect]);
  }
  return acc;
}
