/**
 * A hostile tab for the e2e tests: an init script that rewrites every frame the page sends over
 * its WebRTC data channels before it leaves (the page's own code stays honest, its wire does not):
 *
 * - Hello: the JSON replaced by bytes that are not JSON, the checksum made right again, so the
 *   frame passes the messenger and the hello check refuses it;
 * - State: every value of the snapshot after its header set to NaN, checksum made right;
 * - Reduce, Gather, Blob: one payload byte flipped, so the checksum fails (a malformed frame).
 *
 * Frames are the wire format of docs/ARCHITECTURE.md (36-byte header, CRC-32 at offset 32).
 * `window.__hostileFrames` counts what was rewritten, by kind.
 */
import type { Page } from '@playwright/test';

/** Runs in the page, before its scripts (so it is plain JavaScript, no imports). */
function hostileScript(): void {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  const crc = (bytes: Uint8Array, seed = 0): number => {
    let c = ~seed >>> 0;
    for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    return ~c >>> 0;
  };
  const counts: Record<string, number> = {};
  (window as unknown as { __hostileFrames: Record<string, number> }).__hostileFrames = counts;
  const reseal = (frame: Uint8Array<ArrayBuffer>): void => {
    new DataView(frame.buffer).setUint32(32, crc(frame.subarray(36), crc(frame.subarray(0, 32))), true);
  };
  const rewrite = (frame: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> => {
    if (frame.length < 36 || frame[0] !== 0x57 || frame[1] !== 0x54) return frame;
    const view = new DataView(frame.buffer);
    const kind = frame[3]!;
    if (kind === 4) {
      const garbage = new TextEncoder().encode('{"step": "all of them"}');
      const out = new Uint8Array(36 + garbage.length);
      out.set(frame.subarray(0, 36));
      out.set(garbage, 36);
      new DataView(out.buffer).setUint32(28, garbage.length, true);
      reseal(out);
      counts.hello = (counts.hello ?? 0) + 1;
      return out;
    }
    if (kind === 6) {
      for (let o = 36 + 64; o + 4 <= frame.length; o += 4) view.setFloat32(o, NaN, true);
      reseal(frame);
      counts.state = (counts.state ?? 0) + 1;
      return frame;
    }
    if (frame.length > 36) frame[36] = frame[36]! ^ 0xff;
    else frame[33] = frame[33]! ^ 0xff;
    counts.collective = (counts.collective ?? 0) + 1;
    return frame;
  };
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: unknown): void {
    if (ArrayBuffer.isView(data)) {
      const copy = new Uint8Array(data.byteLength);
      copy.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return send.call(this, rewrite(copy));
    }
    if (data instanceof ArrayBuffer) return send.call(this, rewrite(new Uint8Array(data.slice(0))));
    return (send as (this: RTCDataChannel, d: unknown) => void).call(this, data);
  } as typeof RTCDataChannel.prototype.send;
}

/** Makes `page` hostile from its next load on. */
export async function makeHostile(page: Page): Promise<void> {
  await page.addInitScript(hostileScript);
}

/** What the hostile page rewrote so far, by kind. */
export function hostileCounts(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => ({ ...(window as unknown as { __hostileFrames?: Record<string, number> }).__hostileFrames }));
}
