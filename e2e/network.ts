/**
 * Chromium's own network emulation (CDP `Network.emulateNetworkConditions`) for one tab, with the
 * same settings, and as far as Chromium allows the same meaning, as the in-transport shaping
 * (`bandwidth`, `latency`, `loss` in the URL; ../shared/src/link.ts):
 *
 * - bandwidth caps what the tab uploads (its sending side), as ShapedTransport does.
 * - latency: Chromium delays the tab's packets both as it sends and as it receives them (measured:
 *   40 ms on one tab of a pair gives an 84 ms round trip, on both tabs 164 ms). We pass half, so
 *   that a tab adds `latency` to every round trip, as with in-transport shaping.
 * - loss: per packet, retransmitted by SCTP. Chromium applies it only together with a latency or
 *   throughput setting, so a loss alone comes with a throughput cap far above the channel's speed.
 * - jitter: Chromium has none; asking for it is an error rather than a silent no-op.
 */
import type { Page } from '@playwright/test';
import type { LinkSettings } from '@tabswarm/shared/protocol';

/** An upload cap no data channel reaches here (~16 MB/s between tabs): it only switches emulation on. */
const NO_CAP_BYTES_PER_SEC = 1e9;

export async function emulateNetwork(page: Page, link: LinkSettings): Promise<void> {
  if (link.jitterMs > 0) throw new Error('CDP network emulation has no jitter; use in-transport shaping (URL jitter=) instead');
  const uploadThroughput = link.bandwidthBitsPerSec !== null ? link.bandwidthBitsPerSec / 8 : link.loss > 0 && link.latencyMs === 0 ? NO_CAP_BYTES_PER_SEC : -1;
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: link.latencyMs / 2,
    downloadThroughput: -1,
    uploadThroughput,
    packetLoss: 100 * link.loss,
  });
}

export interface ChannelProbe {
  /** Median round trip of a small message, ms. */
  rttMs: number;
  /** Throughput of a bulk transfer from the first page to the second, bit/s (0 if not asked for). */
  bitsPerSec: number;
}

/** What probeChannel keeps on each page's window. */
interface ProbeWindow {
  probe: { pc: RTCPeerConnection; channel: Promise<RTCDataChannel> };
}

/**
 * Measures a bare WebRTC data channel between two pages (not tabswarm's transport), signalled by
 * the test itself: the median round trip of `pings` small messages, then `bulkBytes` sent from `a`
 * to `b` in 64 KiB messages under backpressure. For calibrating emulateNetwork; pages may be blank.
 * The in-page functions bind no inner functions to names, so tsx's esbuild (keepNames) can run them.
 */
export async function probeChannel(a: Page, b: Page, options: { pings?: number; bulkBytes?: number } = {}): Promise<ChannelProbe> {
  const offer = await a.evaluate(describe, { initiator: true, remote: null });
  const answer = await b.evaluate(describe, { initiator: false, remote: offer });
  await a.evaluate(describe, { initiator: true, remote: answer });
  // b echoes small messages and acknowledges the end of a bulk transfer with one byte.
  await b.evaluate(async (bulkBytes) => {
    const dc = await (window as unknown as ProbeWindow).probe.channel;
    let received = 0;
    dc.onmessage = (e: MessageEvent<ArrayBuffer>) => {
      if (e.data.byteLength <= 16) return dc.send(e.data);
      received += e.data.byteLength;
      if (received >= bulkBytes) dc.send(new Uint8Array(1));
    };
  }, options.bulkBytes ?? 0);
  return a.evaluate(async ({ pings, bulkBytes }) => {
    const dc = await (window as unknown as ProbeWindow).probe.channel;
    const rtts: number[] = [];
    for (let i = 0; i < pings; i++) {
      const began = performance.now();
      const back = new Promise((resolve) => (dc.onmessage = resolve));
      dc.send(new Uint8Array(8));
      await back;
      rtts.push(performance.now() - began);
    }
    let bitsPerSec = 0;
    if (bulkBytes > 0) {
      const chunk = 64 * 1024;
      dc.bufferedAmountLowThreshold = 256 * 1024;
      const done = new Promise((resolve) => (dc.onmessage = resolve));
      const began = performance.now();
      for (let sent = 0; sent < bulkBytes; sent += chunk) {
        while (dc.bufferedAmount > 1024 * 1024) await new Promise((resolve) => (dc.onbufferedamountlow = resolve));
        dc.send(new Uint8Array(Math.min(chunk, bulkBytes - sent)));
      }
      await done;
      bitsPerSec = (bulkBytes * 8) / ((performance.now() - began) / 1000);
    }
    rtts.sort((x, y) => x - y);
    return { rttMs: rtts[Math.floor(rtts.length / 2)] ?? 0, bitsPerSec };
  }, { pings: options.pings ?? 9, bulkBytes: options.bulkBytes ?? 0 });
}

/** In the page: one side of the no-trickle offer/answer; returns this side's description. */
async function describe({ initiator, remote }: { initiator: boolean; remote: RTCSessionDescriptionInit | null }): Promise<RTCSessionDescriptionInit> {
  const w = window as unknown as ProbeWindow;
  if (!w.probe) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const channel = new Promise<RTCDataChannel>((resolve) => {
      if (initiator) resolve(pc.createDataChannel('probe'));
      else pc.addEventListener('datachannel', (e) => resolve(e.channel), { once: true });
    }).then((dc) => {
      dc.binaryType = 'arraybuffer';
      return dc.readyState === 'open' ? dc : new Promise<RTCDataChannel>((resolve) => dc.addEventListener('open', () => resolve(dc), { once: true }));
    });
    w.probe = { pc, channel };
  }
  const { pc } = w.probe;
  if (remote) await pc.setRemoteDescription(remote);
  if (remote?.type === 'answer') return remote;
  await pc.setLocalDescription(initiator ? await pc.createOffer() : await pc.createAnswer());
  // No trickle: wait for every candidate, so one description each way is all the signalling.
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve()));
  }
  return pc.localDescription!.toJSON() as RTCSessionDescriptionInit;
}
