/**
 * Hostile bytes for fuzz tests, all from a seeded Rng: random frames, valid frames mutated
 * (bit flips, truncation, lying lengths with a correct checksum, chunk storms, far epochs) and
 * mutated snapshots. What a peer can send over a data channel, and then some.
 */
import type { Rng } from '../rng.ts';
import { crc32 } from '../wire/crc32.ts';
import { encodeFrame, HEADER_BYTES, MessageKind } from '../wire/frame.ts';

/** Where the receiver is, so that some frames land inside its window. */
export interface FuzzTarget {
  epoch: number;
  step: number;
}

const KINDS = [MessageKind.Reduce, MessageKind.Gather, MessageKind.Blob, MessageKind.Hello, MessageKind.StateRequest, MessageKind.State];

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const word = rng.nextUint32();
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = word >>> (8 * k);
  }
  return out;
}

/** Rewrites the checksum so the frame passes it (whatever else is wrong). */
export function reseal(frame: Uint8Array): Uint8Array {
  if (frame.length < HEADER_BYTES) return frame;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  view.setUint32(32, crc32(frame.subarray(HEADER_BYTES), crc32(frame.subarray(0, 32))), true);
  return frame;
}

/** A well-formed frame near `at`, with a payload from `payload` (random bytes by default). */
export function validFrame(rng: Rng, at: FuzzTarget, payload?: Uint8Array): Uint8Array {
  const chunkCount = rng.next() < 0.7 ? 1 : 1 + rng.int(300);
  return encodeFrame({
    kind: KINDS[rng.int(KINDS.length)]!,
    codec: rng.next() < 0.8 ? 0 : rng.int(256),
    tag: rng.int(4),
    epoch: Math.max(0, at.epoch + rng.int(4) - 1),
    step: Math.max(0, at.step + rng.int(8) - 2),
    seq: rng.int(6),
    chunkIndex: rng.int(chunkCount),
    chunkCount,
    payload: payload ?? randomBytes(rng, rng.next() < 0.3 ? 0 : rng.int(1024)),
  });
}

/** One hostile frame; `kind` says which mutation made it (for the tally). */
export function hostileFrame(rng: Rng, at: FuzzTarget, payloads: readonly Uint8Array[] = []): { kind: string; bytes: Uint8Array } {
  const payload = payloads.length > 0 && rng.next() < 0.3 ? payloads[rng.int(payloads.length)] : undefined;
  const frame = validFrame(rng, at, payload);
  const view = new DataView(frame.buffer);
  switch (rng.int(9)) {
    case 0:
      return { kind: 'random bytes', bytes: randomBytes(rng, rng.int(400)) };
    case 1: {
      const i = rng.int(frame.length);
      frame[i] = frame[i]! ^ (1 << rng.int(8));
      return { kind: 'bit flip', bytes: frame };
    }
    case 2:
      return { kind: 'truncated', bytes: frame.subarray(0, rng.int(frame.length)) };
    case 3:
      view.setUint32(28, rng.nextUint32(), true);
      return { kind: 'lying length', bytes: reseal(frame) };
    case 4: {
      // Any header field rewritten, the checksum made right again.
      const at4 = 2 + rng.int(28);
      frame[at4] = rng.int(256);
      return { kind: 'header rewritten', bytes: reseal(frame) };
    }
    case 5:
      view.setUint32(8, at.epoch + 2 + rng.int(1_000_000), true);
      return { kind: 'far epoch', bytes: reseal(frame) };
    case 6:
      return { kind: 'zero-length chunk', bytes: encodeFrame({ kind: MessageKind.Reduce, codec: 0, tag: rng.int(65536), epoch: at.epoch, step: at.step, seq: rng.nextUint32(), chunkIndex: 0, chunkCount: 2 + rng.int(300), payload: new Uint8Array(0) }) };
    case 7:
      view.setUint32(12, at.step + rng.int(1_000_000), true);
      return { kind: 'far step', bytes: reseal(frame) };
    default:
      return { kind: 'well-formed', bytes: frame };
  }
}

/** `base` (an encoded snapshot) mutated one way; `kind` says which. */
export function mutateSnapshot(rng: Rng, base: Uint8Array): { kind: string; bytes: Uint8Array } {
  const bytes = base.slice();
  const view = new DataView(bytes.buffer);
  switch (rng.int(8)) {
    case 0:
      return { kind: 'random bytes', bytes: randomBytes(rng, rng.int(512)) };
    case 1:
      for (let k = 1 + rng.int(4); k > 0; k--) {
        const i = rng.int(bytes.length);
        bytes[i] = bytes[i]! ^ (1 << rng.int(8));
      }
      return { kind: 'bit flips', bytes };
    case 2:
      return { kind: 'truncated', bytes: bytes.subarray(0, rng.int(bytes.length)) };
    case 3: {
      const longer = new Uint8Array(bytes.length + 1 + rng.int(64));
      longer.set(bytes);
      return { kind: 'extended', bytes: longer };
    }
    case 4:
      // step, optimizer t, array counts or an array length
      view.setUint32(4 * (1 + rng.int(6)), rng.next() < 0.5 ? rng.nextUint32() : rng.int(16), true);
      return { kind: 'header field', bytes };
    case 5: {
      const special = [NaN, Infinity, -Infinity, 3e38][rng.int(4)]!;
      const floats = Math.floor((bytes.length - 32) / 4);
      view.setFloat32(28 + 4 * rng.int(Math.max(1, floats)), special, true);
      return { kind: 'non-finite value', bytes };
    }
    case 6:
      view.setFloat32(28 + 4 * rng.int(Math.max(1, Math.floor((bytes.length - 32) / 4))), rng.gaussian(), true);
      return { kind: 'finite value changed', bytes };
    default:
      return { kind: 'unchanged', bytes };
  }
}
