/**
 * Binary form of an aggregator's shared state, for late joiners:
 *
 *   offset size field
 *   0      1    codec id
 *   1      1    format version (STATE_VERSION)
 *   2      1    aggregator kind (StateKind)
 *   3      1    flags (bit 0: initialised)
 *   4      4    number of f32 values that follow
 *   8      4*n  the arrays, concatenated, f32 little-endian
 */
import { WireFormatError } from '../errors.ts';

export const STATE_VERSION = 1;
const HEADER_BYTES = 8;

export enum StateKind {
  Plain = 0,
  Ef14 = 1,
  Ef21 = 2,
  Diana = 3,
  PowerSgd = 4,
  PowerSgdOneRound = 5,
  GreedyLore = 6,
}

export interface SharedState {
  codecId: number;
  kind: StateKind;
  initialised: boolean;
  arrays: Float32Array[];
}

export function encodeSharedState(state: SharedState): Uint8Array {
  let total = 0;
  for (const a of state.arrays) total += a.length;
  const bytes = new Uint8Array(HEADER_BYTES + 4 * total);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, state.codecId);
  view.setUint8(1, STATE_VERSION);
  view.setUint8(2, state.kind);
  view.setUint8(3, state.initialised ? 1 : 0);
  view.setUint32(4, total, true);
  let offset = HEADER_BYTES;
  for (const a of state.arrays) {
    for (let j = 0; j < a.length; j++, offset += 4) view.setFloat32(offset, a[j]!, true);
  }
  return bytes;
}

/** Decodes bytes that must hold arrays of exactly `lengths` for this codec and kind. */
export function decodeSharedState(bytes: Uint8Array, codecId: number, kind: StateKind, lengths: number[]): SharedState {
  if (bytes.length < HEADER_BYTES) throw new WireFormatError(`shared state of ${bytes.length} bytes is truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(1) !== STATE_VERSION) throw new WireFormatError(`shared state version ${view.getUint8(1)} is not ${STATE_VERSION}`);
  if (view.getUint8(0) !== codecId || view.getUint8(2) !== kind) {
    throw new WireFormatError(`shared state of codec ${view.getUint8(0)} kind ${view.getUint8(2)}, expected codec ${codecId} kind ${kind}`);
  }
  const total = lengths.reduce((s, n) => s + n, 0);
  if (view.getUint32(4, true) !== total || bytes.length !== HEADER_BYTES + 4 * total) {
    throw new WireFormatError(`shared state holds ${view.getUint32(4, true)} values, expected ${total}`);
  }
  let offset = HEADER_BYTES;
  const arrays = lengths.map((len) => {
    const a = new Float32Array(len);
    for (let j = 0; j < len; j++, offset += 4) a[j] = view.getFloat32(offset, true);
    return a;
  });
  return { codecId, kind, initialised: (view.getUint8(3) & 1) === 1, arrays };
}
