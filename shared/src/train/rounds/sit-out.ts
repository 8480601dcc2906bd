/**
 * `sync=accumulate` with `staleness=1`: a member too slow for the round sits every other round
 * out, so the others never wait for it. It says so in a round it takes part in (a flag beside its
 * count, weighted-mean.ts); the next round's collective then runs without it, and it computes its
 * micro-batch meanwhile, from the weights it holds, to contribute one round late (bounded
 * staleness 1, per member). The first member taking part forwards that round's outcome to it (the
 * update every replica applies, every member's count, who sits out the next round, and the
 * aggregator's shared state), so its replica makes the same step with the same bits.
 *
 * Payload of a RoundUpdate message, little-endian:
 *
 *   u32 members n, then per member (the epoch's order): u32 count, u8 sits out the next round
 *   u32 shared-state bytes s, then s bytes (GradientAggregator.exportSharedState)
 *   u32 layers L, then per layer: u32 values v, then v f32 values (the update)
 *
 * L = 0 says the members refused the round's update as non-finite (every replica counts the step
 * without applying it); its counts are then 0 and nobody sits the next round out.
 */
import { WireFormatError } from '../../errors.ts';

/** What a member that sat a round out receives from the round's forwarder. */
export interface RoundOutcome {
  /** null: refused as non-finite by every member (not applied). */
  update: Float32Array[] | null;
  /** Every member's count by the epoch's order (0 for those sitting out). */
  counts: number[];
  /** Every member's flag by the epoch's order: it sits out the next round. */
  sitsOutNext: boolean[];
  sharedState: Uint8Array;
}

/**
 * The members sitting the next round out, from the flags of those who took part in this one: all
 * flagged members, unless that would leave nobody to take part (then none sits out).
 */
export function sittingOut(members: readonly string[], sitsOutNext: readonly boolean[]): Set<string> {
  const out = members.filter((_, rank) => sitsOutNext[rank] === true);
  return out.length < members.length ? new Set(out) : new Set();
}

export function encodeOutcome(outcome: RoundOutcome): Uint8Array {
  const { counts, sitsOutNext, sharedState } = outcome;
  const update = outcome.update ?? [];
  const bytes = 4 + 5 * counts.length + 4 + sharedState.length + 4 + update.reduce((n, l) => n + 4 + 4 * l.length, 0);
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  let at = 0;
  view.setUint32(at, counts.length, true);
  at += 4;
  counts.forEach((count, rank) => {
    view.setUint32(at, count, true);
    view.setUint8(at + 4, sitsOutNext[rank] ? 1 : 0);
    at += 5;
  });
  view.setUint32(at, sharedState.length, true);
  out.set(sharedState, at + 4);
  at += 4 + sharedState.length;
  view.setUint32(at, update.length, true);
  at += 4;
  for (const layer of update) {
    view.setUint32(at, layer.length, true);
    at += 4;
    // f32 values at a byte offset that may not be 4-aligned: through a byte view of the layer.
    out.set(new Uint8Array(layer.buffer, layer.byteOffset, layer.byteLength), at);
    at += layer.byteLength;
  }
  return out;
}

/** Throws WireFormatError unless `bytes` is an outcome for `members` members and layers of `sizes` values. */
export function decodeOutcome(bytes: Uint8Array, members: number, sizes: readonly number[]): RoundOutcome {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number, what: string): void => {
    if (at + n > bytes.length) throw new WireFormatError(`round outcome: ${what} past its ${bytes.length} bytes`);
  };
  need(4, 'the member count');
  const n = view.getUint32(at, true);
  at += 4;
  if (n !== members) throw new WireFormatError(`round outcome for ${n} members, the epoch has ${members}`);
  const counts: number[] = [];
  const sitsOutNext: boolean[] = [];
  for (let rank = 0; rank < n; rank++) {
    need(5, 'a count');
    counts.push(view.getUint32(at, true));
    const flag = view.getUint8(at + 4);
    if (flag > 1) throw new WireFormatError(`round outcome: flag ${flag} of member ${rank} is not 0 or 1`);
    sitsOutNext.push(flag === 1);
    at += 5;
  }
  need(4, 'the shared state\'s length');
  const stateBytes = view.getUint32(at, true);
  at += 4;
  need(stateBytes, 'the shared state');
  const sharedState = bytes.slice(at, at + stateBytes);
  at += stateBytes;
  need(4, 'the layer count');
  const layers = view.getUint32(at, true);
  at += 4;
  if (layers === 0 && at === bytes.length) return { update: null, counts, sitsOutNext, sharedState };
  if (layers !== sizes.length) throw new WireFormatError(`round outcome with ${layers} layers, the model has ${sizes.length}`);
  const update = sizes.map((size, l) => {
    need(4, `layer ${l}'s length`);
    const length = view.getUint32(at, true);
    at += 4;
    if (length !== size) throw new WireFormatError(`round outcome: layer ${l} has ${length} values, the model's ${size}`);
    need(4 * length, `layer ${l}`);
    const layer = new Float32Array(length);
    new Uint8Array(layer.buffer).set(bytes.subarray(at, at + 4 * length));
    at += 4 * length;
    return layer;
  });
  if (at !== bytes.length) throw new WireFormatError(`round outcome: ${bytes.length - at} bytes past its end`);
  return { update, counts, sitsOutNext, sharedState };
}
