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
  if (nWeights + nBuffers > 10_000) throw new WireFormatError('snapshot has too many arrays');
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
