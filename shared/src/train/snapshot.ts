/**
 * The whole training state a member hands to a peer that joins late or fell behind:
 *
 *   u32 magic 0x54535331 ("TSS1") | u32 step | u32 optimizer t | u32 weight arrays | u32 optimizer arrays
 *   u32 length of each array (weights, then optimizer) | the arrays as f32 LE
 *   u32 codec-state bytes | codec state
 */
import { WireFormatError } from '../errors.ts';

export interface Snapshot {
  step: number;
  weights: Float32Array[];
  optimizer: { t: number; buffers: Float32Array[] };
  /** The compressor's shared state (e.g. PowerSGD's Q), opaque here. */
  codecState: Uint8Array;
}

const MAGIC = 0x54535331;

export function encodeSnapshot(s: Snapshot): Uint8Array {
  const arrays = [...s.weights, ...s.optimizer.buffers];
  const floats = arrays.reduce((n, a) => n + a.length, 0);
  const bytes = new Uint8Array(20 + 4 * arrays.length + 4 * floats + 4 + s.codecState.length);
  const view = new DataView(bytes.buffer);
  let o = 0;
  const u32 = (v: number): void => {
    view.setUint32(o, v, true);
    o += 4;
  };
  u32(MAGIC);
  u32(s.step);
  u32(s.optimizer.t);
  u32(s.weights.length);
  u32(s.optimizer.buffers.length);
  for (const a of arrays) u32(a.length);
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) view.setFloat32(o + 4 * i, a[i]!, true);
    o += 4 * a.length;
  }
  u32(s.codecState.length);
  bytes.set(s.codecState, o);
  return bytes;
}

export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const u32 = (): number => {
    if (o + 4 > bytes.length) throw new WireFormatError('truncated snapshot');
    const v = view.getUint32(o, true);
    o += 4;
    return v;
  };
  if (u32() !== MAGIC) throw new WireFormatError('not a training snapshot');
  const step = u32();
  const t = u32();
  const nWeights = u32();
  const nBuffers = u32();
  // Lengths are checked before anything is allocated: each array needs its u32 length at least.
  if (nWeights + nBuffers > 10_000 || o + 4 * (nWeights + nBuffers) > bytes.length) throw new WireFormatError('snapshot has too many arrays');
  const lengths = Array.from({ length: nWeights + nBuffers }, u32);
  const arrays = lengths.map((n) => {
    if (o + 4 * n > bytes.length) throw new WireFormatError('truncated snapshot');
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = view.getFloat32(o + 4 * i, true);
    o += 4 * n;
    return a;
  });
  const codecBytes = u32();
  if (o + codecBytes !== bytes.length) throw new WireFormatError('snapshot length does not match its contents');
  return {
    step,
    weights: arrays.slice(0, nWeights),
    optimizer: { t, buffers: arrays.slice(nWeights) },
    codecState: bytes.slice(o),
  };
}

/** Bytes before the f32 values in an aggregator's shared state (compress/shared-state.ts). */
const SHARED_STATE_HEADER_BYTES = 8;

/**
 * Why a received snapshot must not be adopted, or null if it may: a member adopts only the state
 * it was promised (the step and weights hash its source announced in its hello), shaped like its
 * own model, with every value finite. `hash` is the hash function of the replicas (hash.ts).
 */
export function snapshotFault(s: Snapshot, expected: { step: number; hash: string }, sizes: readonly number[], hash: (w: readonly Float32Array[]) => string): string | null {
  if (s.step !== expected.step) return `snapshot of step ${s.step}, announced ${expected.step}`;
  if (s.weights.length !== sizes.length || s.weights.some((w, i) => w.length !== sizes[i])) return 'snapshot does not match this model';
  if (s.optimizer.t > s.step) return `optimizer count ${s.optimizer.t} past the step ${s.step}`;
  const codec = s.codecState;
  if (codec.length < SHARED_STATE_HEADER_BYTES || (codec.length - SHARED_STATE_HEADER_BYTES) % 4 !== 0) return 'malformed codec state';
  const shared = new DataView(codec.buffer, codec.byteOffset + SHARED_STATE_HEADER_BYTES, codec.length - SHARED_STATE_HEADER_BYTES);
  for (let o = 0; o < shared.byteLength; o += 4) if (!Number.isFinite(shared.getFloat32(o, true))) return 'non-finite codec state';
  for (const a of [...s.weights, ...s.optimizer.buffers]) {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return 'non-finite values in the snapshot';
  }
  const actual = hash(s.weights);
  if (actual !== expected.hash) return `snapshot weights hash ${actual}, announced ${expected.hash}`;
  return null;
}
