import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, encodeFrame, HEADER_BYTES, MAX_FRAME_BYTES, MAX_PAYLOAD_BYTES, MessageKind, type Frame } from './frame.ts';

function frameWith(payload: Uint8Array, over: Partial<Frame> = {}): Frame {
  return { kind: MessageKind.Reduce, codec: 7, tag: 513, epoch: 70000, step: 123456, seq: 3, chunkIndex: 1, chunkCount: 4, payload, ...over };
}

function bytesOf(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

const throwsWire = (fn: () => unknown, pattern: RegExp): void =>
  assert.throws(fn, (e: Error) => e.name === 'WireFormatError' && pattern.test(e.message));

describe('wire frames', () => {
  for (const size of [0, 1, MAX_PAYLOAD_BYTES]) {
    it(`round-trips a payload of ${size} bytes with every header field`, () => {
      const frame = frameWith(bytesOf(size, size + 1));
      const encoded = encodeFrame(frame);
      assert.equal(encoded.length, HEADER_BYTES + size);
      assert.ok(encoded.length <= MAX_FRAME_BYTES);
      const decoded = decodeFrame(encoded);
      assert.deepEqual({ ...decoded, payload: [...decoded.payload] }, { ...frame, payload: [...frame.payload] });
    });
  }

  it('rejects a payload one byte over the frame limit', () => {
    throwsWire(() => encodeFrame(frameWith(new Uint8Array(MAX_PAYLOAD_BYTES + 1))), /exceeds the frame limit/);
  });

  it('rejects an oversized frame on decode', () => {
    throwsWire(() => decodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1)), /exceeds/);
  });

  it('rejects every truncation of a frame', () => {
    const encoded = encodeFrame(frameWith(bytesOf(100)));
    for (let len = 0; len < encoded.length; len++) {
      assert.throws(() => decodeFrame(encoded.subarray(0, len)), { name: 'WireFormatError' }, `length ${len}`);
    }
  });

  it('rejects a frame with any single corrupted byte', () => {
    const encoded = encodeFrame(frameWith(bytesOf(64)));
    for (let i = 0; i < encoded.length; i++) {
      const bad = encoded.slice();
      bad[i] = bad[i]! ^ 0x10;
      assert.throws(() => decodeFrame(bad), { name: 'WireFormatError' }, `byte ${i}`);
    }
  });

  it('names what is wrong: magic, version, kind, chunk range', () => {
    const good = encodeFrame(frameWith(bytesOf(8)));
    const badMagic = good.slice();
    badMagic[0] = 0;
    throwsWire(() => decodeFrame(badMagic), /bad magic/);
    const badVersion = good.slice();
    badVersion[2] = 99;
    throwsWire(() => decodeFrame(badVersion), /unsupported wire version 99/);
    throwsWire(() => encodeFrame(frameWith(new Uint8Array(1), { kind: 200 as MessageKind })), /unknown message kind/);
    throwsWire(() => encodeFrame(frameWith(new Uint8Array(1), { chunkIndex: 4, chunkCount: 4 })), /out of range/);
    throwsWire(() => encodeFrame(frameWith(new Uint8Array(1), { step: -1 })), /uint32/);
  });

  it('decodes a frame that sits at an offset inside a larger buffer', () => {
    const encoded = encodeFrame(frameWith(bytesOf(33)));
    const host = new Uint8Array(encoded.length + 10);
    host.set(encoded, 5);
    assert.deepEqual([...decodeFrame(host.subarray(5, 5 + encoded.length)).payload], [...bytesOf(33)]);
  });
});
