import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../rng.ts';
import { gaussianArray } from '../testing/simulated-collective.ts';
import { createQsgd, qsgdEntryBits } from './qsgd.ts';
import type { CodecContext, LayerShape } from './types.ts';

const ctx = (step: number, layerIndex = 0, peer = 0): CodecContext => ({ seed: 99, step, layerIndex, peer });

/**
 * QSGD encoded one entry and one bit at a time, from the definition: the codec's packing and its
 * in-loop draws must give exactly these bytes. The norm is taken as given (the codec's own sum order).
 */
function referenceEncode(x: Float32Array, levels: number, norm: number, c: CodecContext): Uint8Array {
  const bits = qsgdEntryBits(levels);
  const out = new Uint8Array(4 + Math.ceil((x.length * bits) / 8));
  new DataView(out.buffer).setFloat32(0, norm, true);
  if (norm === 0 || norm === Infinity) return out;
  const rng = Rng.derive(c.seed, c.step, c.layerIndex, c.peer, 'qsgd');
  const perUnit = levels / norm;
  let bit = 32;
  for (let j = 0; j < x.length; j++) {
    const scaled = Math.abs(x[j]!) * perUnit;
    const floor = Math.floor(scaled);
    const up = rng.nextUint32() < (scaled - floor) * 2 ** 32;
    const level = Math.min(levels, floor + (up ? 1 : 0));
    const code = level * 2 + (x[j]! < 0 && level > 0 ? 1 : 0);
    for (let i = 0; i < bits; i++, bit++) if ((code >>> i) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  }
  return out;
}

/** Entry j of a message, decoded from the definition. */
function referenceDecode(message: Uint8Array, levels: number, d: number): Float32Array {
  const bits = qsgdEntryBits(levels);
  const unit = new DataView(message.buffer, message.byteOffset).getFloat32(0, true) / levels;
  const out = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    let code = 0;
    for (let i = 0; i < bits; i++) {
      const bit = 32 + j * bits + i;
      code |= ((message[bit >> 3]! >> (bit & 7)) & 1) << i;
    }
    out[j] = (code & 1 ? -1 : 1) * (code >>> 1) * unit + 0; // + 0: level 0 decodes to +0
  }
  return out;
}

function f32Ceil(x: number): number {
  const f = Math.fround(x);
  if (f >= x) return f;
  const buf = new Float32Array([f]);
  new Uint32Array(buf.buffer)[0]! += 1;
  return buf[0]!;
}

test('QSGD encodes exactly what a one-bit-at-a-time reference encoder writes, and decodes it back', () => {
  // bits 2, 3, 3, 4, 5, 6, 8, 9, 17; odd lengths, lengths around the draw block, pair-table sizes.
  for (const levels of [1, 2, 3, 7, 15, 16, 255, 256, 65535]) {
    for (const d of [1, 2, 7, 8, 13, 101, 4095, 4097, 9001]) {
      const layer: LayerShape = { name: `l${levels}-${d}`, shape: [d] };
      const x = gaussianArray(d, 1, 'qsgd-reference', levels, d);
      if (d > 10) {
        x[3] = 0;
        x[4] = -0;
        x[5] = 40; // one entry near the norm: levels at the top
        x[6] = -40;
      }
      const codec = createQsgd({ levels });
      const c = ctx(levels, d % 6, d % 4);
      const message = codec.compress(x, layer, c);
      const norm = new DataView(message.buffer, message.byteOffset).getFloat32(0, true);
      const sequential = f32Ceil(Math.sqrt(x.reduce((s, v) => s + v * v, 0)));
      assert.ok(Math.abs(norm - sequential) <= sequential * 2 ** -22, `${layer.name}: norm ${norm} vs ${sequential}`);
      assert.deepEqual(message, referenceEncode(x, levels, norm, c), layer.name);
      assert.deepEqual(codec.decompress(message, layer, c), referenceDecode(message, levels, d), layer.name);
    }
  }
});

/** FNV-1a over bytes: pins whole messages in one number. */
function fnv(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

test('QSGD messages stay byte-identical for the same seed (pinned hashes)', () => {
  const hashes = [16, 7, 1].map((levels) => {
    const codec = createQsgd({ levels });
    const layer: LayerShape = { name: 'w', shape: [333, 31] };
    return fnv(codec.compress(gaussianArray(333 * 31, 0.01, 'qsgd-pin'), layer, ctx(5, 2, 3)));
  });
  // Written by the byte-at-a-time encoder of December 2026, before the encoder was reworked for speed.
  assert.deepEqual(hashes, [1791635108, 1465487561, 1033479918]);
});

test('QSGD decompressMean equals decompressAdd in rank order divided, across decode blocks, odd lengths and a norm that overflowed', () => {
  for (const levels of [16, 7, 1]) {
    const codec = createQsgd({ levels });
    const layer: LayerShape = { name: 'w', shape: [9001] };
    const messages = [0, 1, 2].map((p) => codec.compress(gaussianArray(9001, 1 + p, 'qsgd-mean', p), layer, ctx(1, 0, p)));
    const check = (ms: Uint8Array[]): Float32Array => {
      const sum = new Float64Array(9001);
      ms.forEach((m, p) => codec.decompressAdd!(m, layer, ctx(1, 0, p), sum));
      const mean = codec.decompressMean!(ms, layer, ms.map((_, p) => ctx(1, 0, p)));
      assert.deepEqual(mean, Float32Array.from(sum, (v) => v / ms.length), `levels ${levels}`);
      return mean;
    };
    check(messages);
    const overflowed = codec.compress(new Float32Array(9001).fill(3e38), layer, ctx(1, 0, 3));
    assert.ok(check([...messages, overflowed]).every(Number.isNaN));
  }
});
