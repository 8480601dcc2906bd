/**
 * Binary wire frames. Every byte that crosses a data channel is one frame:
 *
 *   offset size field
 *   0      2    magic 0x5457 ("TW")
 *   2      1    version (WIRE_VERSION)
 *   3      1    kind (MessageKind)
 *   4      1    codec id: for Reduce/Gather/Blob, the CODEC_IDS entry of the compressor that made
 *               the payload (written and checked by the collective); 0 (raw) for Hello,
 *               StateRequest and State
 *   5      1    flags (reserved, 0)
 *   6      2    tag: which collective within the step (phase, layer group)
 *   8      4    epoch: membership epoch the message belongs to
 *   12     4    step
 *   16     4    seq: hop within the collective (ring position, request id)
 *   20     4    chunk index
 *   24     4    chunk count (>= 1)
 *   28     4    payload length in bytes
 *   32     4    CRC-32 of bytes 0..31 and the payload
 *   36     ...  payload
 *
 * All integers little-endian. A frame is at most MAX_FRAME_BYTES, the data-channel message limit.
 */
import { WireFormatError } from '../errors.ts';
import { crc32 } from './crc32.ts';

export const WIRE_MAGIC = 0x5457;
export const WIRE_VERSION = 1;
export const HEADER_BYTES = 36;
/** Chromium's data-channel max message size (262,144 bytes; one more and send() throws). */
export const MAX_FRAME_BYTES = 256 * 1024;
export const MAX_PAYLOAD_BYTES = MAX_FRAME_BYTES - HEADER_BYTES;

export enum MessageKind {
  /** Ring reduce-scatter segment (partial sums). */
  Reduce = 1,
  /** Ring all-gather segment (final sums). */
  Gather = 2,
  /** One peer's opaque blob in an all-gather of variable-size messages. */
  Blob = 3,
  /** Membership sync: my step, weights hash and readiness for this epoch. */
  Hello = 4,
  /** Ask a peer for the full training state. */
  StateRequest = 5,
  /** The full training state (weights, optimizer, shared codec state). */
  State = 6,
  /** A round's outcome, for a member that sat it out (train/rounds/sit-out.ts). */
  RoundUpdate = 7,
}

const KINDS = new Set<number>(Object.values(MessageKind).filter((v): v is number => typeof v === 'number'));

/** Everything in a frame's header but the lengths and checksum. */
export interface FrameHeader {
  kind: MessageKind;
  codec: number;
  tag: number;
  epoch: number;
  step: number;
  seq: number;
  chunkIndex: number;
  chunkCount: number;
}

export interface Frame extends FrameHeader {
  payload: Uint8Array;
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new WireFormatError(`${name} ${v} is not a uint32`);
}

export function encodeFrame(frame: Frame): Uint8Array {
  const { payload } = frame;
  if (payload.length > MAX_PAYLOAD_BYTES) {
    throw new WireFormatError(`payload of ${payload.length} bytes exceeds the frame limit of ${MAX_PAYLOAD_BYTES}`);
  }
  if (!KINDS.has(frame.kind)) throw new WireFormatError(`unknown message kind ${frame.kind}`);
  if (!(frame.codec >= 0 && frame.codec <= 0xff)) throw new WireFormatError(`codec ${frame.codec} is not a uint8`);
  if (!(frame.tag >= 0 && frame.tag <= 0xffff)) throw new WireFormatError(`tag ${frame.tag} is not a uint16`);
  for (const k of ['epoch', 'step', 'seq', 'chunkIndex', 'chunkCount'] as const) checkU32(k, frame[k]);
  if (frame.chunkCount < 1 || frame.chunkIndex >= frame.chunkCount) {
    throw new WireFormatError(`chunk ${frame.chunkIndex} of ${frame.chunkCount} is out of range`);
  }
  const bytes = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, WIRE_MAGIC, true);
  view.setUint8(2, WIRE_VERSION);
  view.setUint8(3, frame.kind);
  view.setUint8(4, frame.codec);
  view.setUint8(5, 0);
  view.setUint16(6, frame.tag, true);
  view.setUint32(8, frame.epoch, true);
  view.setUint32(12, frame.step, true);
  view.setUint32(16, frame.seq, true);
  view.setUint32(20, frame.chunkIndex, true);
  view.setUint32(24, frame.chunkCount, true);
  view.setUint32(28, payload.length, true);
  bytes.set(payload, HEADER_BYTES);
  view.setUint32(32, crc32(payload, crc32(bytes.subarray(0, 32))), true);
  return bytes;
}

/** Decodes one frame; throws WireFormatError naming what is wrong. The payload is a view into `bytes`. */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (!(bytes instanceof Uint8Array)) throw new WireFormatError('frame is not binary');
  if (bytes.length < HEADER_BYTES) throw new WireFormatError(`truncated frame: ${bytes.length} bytes < header ${HEADER_BYTES}`);
  if (bytes.length > MAX_FRAME_BYTES) throw new WireFormatError(`frame of ${bytes.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0, true);
  if (magic !== WIRE_MAGIC) throw new WireFormatError(`bad magic 0x${magic.toString(16)}`);
  const version = view.getUint8(2);
  if (version !== WIRE_VERSION) throw new WireFormatError(`unsupported wire version ${version} (this peer speaks ${WIRE_VERSION})`);
  const kind = view.getUint8(3);
  if (!KINDS.has(kind)) throw new WireFormatError(`unknown message kind ${kind}`);
  const flags = view.getUint8(5);
  if (flags !== 0) throw new WireFormatError(`reserved flags ${flags} are not 0`);
  const payloadLength = view.getUint32(28, true);
  if (HEADER_BYTES + payloadLength !== bytes.length) {
    throw new WireFormatError(`payload length ${payloadLength} does not match frame size ${bytes.length}`);
  }
  const payload = bytes.subarray(HEADER_BYTES);
  const expected = view.getUint32(32, true);
  const actual = crc32(payload, crc32(bytes.subarray(0, 32)));
  if (expected !== actual) throw new WireFormatError('checksum mismatch: corrupted frame');
  const chunkIndex = view.getUint32(20, true);
  const chunkCount = view.getUint32(24, true);
  if (chunkCount < 1 || chunkIndex >= chunkCount) {
    throw new WireFormatError(`chunk ${chunkIndex} of ${chunkCount} is out of range`);
  }
  return {
    kind,
    codec: view.getUint8(4),
    tag: view.getUint16(6, true),
    epoch: view.getUint32(8, true),
    step: view.getUint32(12, true),
    seq: view.getUint32(16, true),
    chunkIndex,
    chunkCount,
    payload,
  };
}
