import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from './crc32.ts';

/** The plain byte-at-a-time CRC-32, the reference the fast one must equal. */
function reference(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32', () => {
  it('gives the standard check value of "123456789"', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });

  it('equals the bitwise CRC for every length 0..40 and any offset, chained or not', () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 167 + 13) & 0xff);
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 0; length <= 40; length++) {
        const part = data.subarray(offset, offset + length);
        assert.equal(crc32(part), reference(part), `offset ${offset} length ${length}`);
        assert.equal(crc32(part, 0x1234abcd), reference(part, 0x1234abcd));
      }
    }
    assert.equal(crc32(data.subarray(100), crc32(data.subarray(0, 100))), reference(data));
  });
});
