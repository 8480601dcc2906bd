/**
 * The raw throughput of one WebRTC data channel between two pages, which this process introduces
 * to each other (offer and answer with all their candidates, no trickle): what a path can carry,
 * apart from training's compute. The sender writes 64 KiB messages while the channel holds less
 * than a high-water mark (waking on `bufferedamountlow`); the receiver times first to last byte.
 */
import type { Page } from '@playwright/test';

export interface BulkResult {
  bytesPerSecond: number;
  /** The selected candidate pair's types as the sender sees them, e.g. `relay-host`. */
  pair: string;
}

/** Per wait inside a page (gathering, opening, the transfer itself). */
const PAGE_WAIT_MS = 30_000;

declare global {
  interface Window {
    /** The bulk test's connection and what the receiving side counted. */
    bulk?: { pc: RTCPeerConnection; channel?: RTCDataChannel; received: Promise<number> };
  }
}

/** Creates the page's connection and returns its complete local description (offer or answer to `remote`). */
function describe(page: Page, iceServers: RTCIceServer[], remote: RTCSessionDescriptionInit | null, bytes: number): Promise<RTCSessionDescriptionInit> {
  return page.evaluate(async ({ iceServers, remote, bytes, waitMs }) => {
    const within = <T>(what: string, promise: Promise<T>): Promise<T> =>
      Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${waitMs} ms`)), waitMs))]);
    const pc = new RTCPeerConnection({ iceServers });
    let received: Promise<number> = Promise.resolve(0);
    if (remote) {
      // The receiver: the time from its first byte to the last.
      received = within('the transfer', new Promise<number>((resolve) => {
        pc.ondatachannel = ({ channel }) => {
          let count = 0;
          let first = 0;
          channel.onmessage = ({ data }) => {
            if (count === 0) first = performance.now();
            count += (data as ArrayBuffer).byteLength;
            if (count >= bytes) resolve((count / (performance.now() - first)) * 1000);
          };
        };
      }));
      await pc.setRemoteDescription(remote);
      await pc.setLocalDescription(await pc.createAnswer());
    } else {
      const channel = pc.createDataChannel('bulk');
      channel.binaryType = 'arraybuffer';
      window.bulk = { pc, channel, received };
      await pc.setLocalDescription(await pc.createOffer());
    }
    window.bulk = { ...window.bulk, pc, received };
    await within('ICE gathering', new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    }));
    return pc.localDescription!.toJSON() as RTCSessionDescriptionInit;
  }, { iceServers, remote, bytes, waitMs: PAGE_WAIT_MS });
}

/** Sends `bytes` from `sender` to `receiver` over a fresh connection with `iceServers`. */
export async function bulkThroughput(sender: Page, receiver: Page, iceServers: RTCIceServer[], bytes: number): Promise<BulkResult> {
  const offer = await describe(sender, iceServers, null, bytes);
  const answer = await describe(receiver, iceServers, offer, bytes);
  const pair = await sender.evaluate(async ({ answer, bytes, waitMs }) => {
    const { pc, channel } = window.bulk!;
    await pc.setRemoteDescription(answer);
    const ch = channel!;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the channel did not open within ${waitMs} ms`)), waitMs);
      ch.onopen = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    const chunk = new Uint8Array(64 * 1024);
    const highWater = 4 * 1024 * 1024;
    ch.bufferedAmountLowThreshold = highWater / 2;
    for (let sent = 0; sent < bytes; sent += chunk.byteLength) {
      if (ch.bufferedAmount > highWater) await new Promise((resolve) => ch.addEventListener('bufferedamountlow', resolve, { once: true }));
      ch.send(chunk);
    }
    const stats: Array<Record<string, unknown>> = [];
    (await pc.getStats()).forEach((entry: Record<string, unknown>) => stats.push(entry));
    const transport = stats.find((s) => s.type === 'transport');
    const selected = stats.find((s) => s.id === transport?.selectedCandidatePairId);
    const type = (id: unknown): string => String(stats.find((s) => s.id === id)?.candidateType);
    return `${type(selected?.localCandidateId)}-${type(selected?.remoteCandidateId)}`;
  }, { answer, bytes, waitMs: PAGE_WAIT_MS });
  const bytesPerSecond = await receiver.evaluate(() => window.bulk!.received);
  await Promise.all([sender, receiver].map((page) => page.evaluate(() => window.bulk?.pc.close())));
  return { bytesPerSecond, pair };
}
